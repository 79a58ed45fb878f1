// Package tick calls a function at a fixed interval until told to stop: the "still working"
// lines of steps that can take minutes (a first build, the engine's own build). It imports only
// the standard library, so the mage side of scratchkit can use it.
package tick

import (
	"sync"
	"time"
)

// Every calls fn every d, from a goroutine of its own, until stop is called. stop waits for a
// call in progress to end, so nothing is printed after it returns; it may be called more than
// once.
func Every(d time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}
