package tick

import (
	"sync/atomic"
	"testing"
	"time"
)

// fn runs again and again until stop, and never after stop has returned.
func TestEveryStops(t *testing.T) {
	var n atomic.Int64
	stop := Every(time.Millisecond, func() { n.Add(1) })
	for n.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	stop()
	after := n.Load()
	time.Sleep(20 * time.Millisecond)
	if got := n.Load(); got != after {
		t.Errorf("fn ran %d more times after stop returned", got-after)
	}
	stop() // a second stop is harmless
}
