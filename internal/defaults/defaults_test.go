package defaults

import (
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	if Positive(0, 5) != 5 || Positive(-1, 5) != 5 || Positive(3, 5) != 3 {
		t.Error("Positive of int")
	}
	if Positive(time.Duration(0), time.Second) != time.Second || Positive(time.Minute, time.Second) != time.Minute {
		t.Error("Positive of time.Duration")
	}
	if String("", "d") != "d" || String("s", "d") != "s" {
		t.Error("String")
	}
}
