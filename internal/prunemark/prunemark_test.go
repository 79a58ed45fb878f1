package prunemark

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if !Due(dir, time.Hour, now) {
		t.Error("never pruned: not due")
	}
	if err := Done(dir, now); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{now.Add(59 * time.Minute), false},
		{now.Add(time.Hour), true},
		{now.Add(-30 * time.Second), false}, // a clock a little behind the marker's
		{now.Add(-2 * time.Minute), true},   // a clock set back
	} {
		if got := Due(dir, time.Hour, tc.at); got != tc.want {
			t.Errorf("Due at %s after the prune: %v, want %v", tc.at.Sub(now), got, tc.want)
		}
	}
}

func TestTouch(t *testing.T) {
	p := filepath.Join(t.TempDir(), "entry")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	Touch(p, 3*time.Hour, now)
	if fi, _ := os.Stat(p); !fi.ModTime().Equal(old) {
		t.Errorf("an entry younger than every was touched: %s", fi.ModTime())
	}
	Touch(p, time.Hour, now)
	if fi, _ := os.Stat(p); !fi.ModTime().Equal(now) {
		t.Errorf("an entry older than every was not touched: %s", fi.ModTime())
	}
	Touch(filepath.Join(t.TempDir(), "gone"), time.Hour, now) // no entry: no matter
}
