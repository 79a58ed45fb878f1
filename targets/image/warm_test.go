package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// WarmBase and Warm fill the layer cache with exactly the layers Build uses: a Build after them,
// with or without what Warm kept, finds every entry there, writes none, and makes the image a
// Build without them makes.
func TestWarmFillsTheCacheBuildUses(t *testing.T) {
	s, warnings := cached(t)
	plain := s
	plain.CacheDir = ""
	want := digest(t, fresh(t, plain))

	resetStatic()
	t.Cleanup(resetStatic)
	WarmBase(context.Background(), s)
	if n := len(entries(t, s.CacheDir)); n != 1 {
		t.Fatalf("WarmBase left %d cache entries, want 1 (the static base)", n)
	}
	Warm(context.Background(), s, &Warmed{})
	warmed := entries(t, s.CacheDir)
	// The static base and both binaries; the data layer is Build's own work.
	if len(warmed) != 3 {
		t.Fatalf("Warm left %d cache entries, want 3 (static base, two binaries)", len(warmed))
	}
	// Without Warmed, Build looks every layer up by its own key: Warm's keys must be those.
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
	WarmBase(context.Background(), s)
	s.Warmed = &Warmed{}
	Warm(context.Background(), s, s.Warmed)
	if n := len(entries(t, s.CacheDir)); n != 1 {
		t.Errorf("Warm left %d entries, want only the static base's", n)
	}
	if _, err := Build(context.Background(), s); err == nil || !strings.Contains(err.Error(), "changed after verification") {
		t.Errorf("Build of a changed binary after Warm: %v, want the changed-after-verification error", err)
	}
}

// Build takes the binaries Warm read and the layers it made (no cache needed) and makes the image
// a Build without them makes; what Warm read of other bytes than the verified ones is never used.
func TestBuildUsesWarmedLayersOfTheSameBinaryOnly(t *testing.T) {
	s := spec(t, "linux/amd64", "linux/arm64")
	want := digest(t, fresh(t, s))

	w := &Warmed{}
	Warm(context.Background(), s, w)
	for _, b := range s.Binaries {
		if content, _, layer := w.binary(s.Name, b.SHA256); content == nil || layer == nil {
			t.Fatalf("Warm without a cache kept no binary and layer for %s", b.Platform)
		}
	}
	s.Warmed = w
	if got := digest(t, build(t, s)); got != want {
		t.Errorf("Build with the warmed layers: %s, without: %s", got, want)
	}
	// The bytes Warm read are the verified ones (their digest is SHA256): Build reads no file again.
	moved := s
	moved.Binaries = slices.Clone(s.Binaries)
	for i := range moved.Binaries {
		moved.Binaries[i].Path = filepath.Join(t.TempDir(), "gone")
	}
	if got := digest(t, build(t, moved)); got != want {
		t.Errorf("Build with the warmed binaries: %s, want %s", got, want)
	}

	// The amd64 binary changes after Warm (a new build passed Verify): what Warm kept is stale.
	changed := filepath.Join(t.TempDir(), "tiny")
	content := append(readFile(t, s.Binaries[0].Path), "one more byte"...)
	must(t, os.WriteFile(changed, content, 0o755))
	s.Binaries[0] = Binary{Platform: s.Binaries[0].Platform, Path: changed, SHA256: testenv.FileSHA256(t, changed)}
	r := build(t, s)
	files, _ := layerFiles(t, binaryLayerOf(t, r, 0))
	if got := files["/ko-app/tiny"].data; !bytes.Equal(got, content) {
		t.Errorf("the image holds %d bytes at /ko-app/tiny, want the changed binary's %d: a stale warmed layer was used", len(got), len(content))
	}
	s.Warmed = nil
	if got, want := digest(t, r), digest(t, fresh(t, s)); got != want {
		t.Errorf("Build with a stale warmed layer: %s, without warmed layers: %s", got, want)
	}

	// Released, the image's binaries are read again.
	w.Release(s.Name)
	if content, _, _ := w.binary(s.Name, moved.Binaries[1].SHA256); content != nil {
		t.Error("Release kept the binary")
	}
	moved.Warmed = w
	if _, err := Build(context.Background(), moved); err == nil {
		t.Error("a Build after Release used bytes it no longer holds")
	}
}

// A Warmed holds at most its limit: past it, Warm keeps nothing more and Build reads the files.
func TestWarmedKeepsItsLimit(t *testing.T) {
	s := spec(t, "linux/amd64", "linux/arm64")
	want := digest(t, fresh(t, s))
	size := func(b Binary) int64 { fi, err := os.Stat(b.Path); must(t, err); return fi.Size() }
	// Room for one binary and its layer, not for both binaries.
	w := &Warmed{Limit: 2*max(size(s.Binaries[0]), size(s.Binaries[1])) + 1024}
	Warm(context.Background(), s, w)
	first, _, _ := w.binary(s.Name, s.Binaries[0].SHA256)
	second, _, _ := w.binary(s.Name, s.Binaries[1].SHA256)
	if (first == nil) == (second == nil) {
		t.Fatalf("held: first %v, second %v; want one of them", first != nil, second != nil)
	}
	if w.held > w.Limit {
		t.Errorf("holds %d bytes, more than its limit %d", w.held, w.Limit)
	}
	s.Warmed = w
	if got := digest(t, build(t, s)); got != want {
		t.Errorf("Build with a partly warmed spec: %s, want %s", got, want)
	}
}

// What Warm meets in the layer cache is said, once, by the Build that uses what it made.
func TestWarmWarningsAreSaidByBuild(t *testing.T) {
	s, warnings := cached(t)
	s.DataDir = ""
	file := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(file, nil, 0o644))
	s.CacheDir = filepath.Join(file, "layers")
	s.Warmed = &Warmed{}
	Warm(context.Background(), s, s.Warmed)
	if len(*warnings) != 0 {
		t.Fatalf("Warm said %q itself; its warnings are the Build's to say", *warnings)
	}
	fresh(t, s)
	n := 0
	for _, w := range *warnings {
		if strings.Contains(w, "building without the layer cache") && strings.Contains(w, s.CacheDir) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("warnings %q: want the unwritable cache said once", *warnings)
	}
}
