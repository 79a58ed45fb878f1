package image

import (
	"context"
	"strings"
	"testing"
)

// Warm fills the layer cache with exactly the layers Build uses: a Build after it finds every
// entry there, writes none, and makes the image a Build without Warm makes.
func TestWarmFillsTheCacheBuildUses(t *testing.T) {
	s, warnings := cached(t)
	plain := s
	plain.CacheDir = ""
	want := digest(t, fresh(t, plain))

	resetStatic()
	t.Cleanup(resetStatic)
	Warm(context.Background(), s)
	warmed := entries(t, s.CacheDir)
	// The static base and both binaries; the data layer is Build's own work.
	if len(warmed) != 3 {
		t.Fatalf("Warm left %d cache entries, want 3 (static base, two binaries)", len(warmed))
	}
	r := build(t, s)
	if got := digest(t, r); got != want {
		t.Errorf("Build after Warm: %s, without a cache: %s", got, want)
	}
	after := entries(t, s.CacheDir)
	for name := range warmed {
		if _, ok := after[name]; !ok {
			t.Errorf("Build dropped the warmed entry %s", name)
		}
	}
	if len(after) != 4 {
		t.Errorf("after Build the cache holds %d entries, want 4: Build added more than the data layer", len(after))
	}
	if len(*warnings) > 0 {
		t.Errorf("warnings: %q", *warnings)
	}
}

// Warm compresses only the binaries whose digest is the one given (the one Verify is checking):
// a binary changed since leaves no entry, and the Build that follows refuses it as before.
func TestWarmSkipsAChangedBinary(t *testing.T) {
	s, _ := cached(t)
	s.DataDir = ""
	s.Binaries = s.Binaries[:1]
	s.Binaries[0].SHA256 = strings.Repeat("0", 64)
	Warm(context.Background(), s)
	if n := len(entries(t, s.CacheDir)); n != 1 {
		t.Errorf("Warm left %d entries, want only the static base's", n)
	}
	if _, err := Build(context.Background(), s); err == nil || !strings.Contains(err.Error(), "changed after verification") {
		t.Errorf("Build of a changed binary after Warm: %v, want the changed-after-verification error", err)
	}
}
