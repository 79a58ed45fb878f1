package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/scratchkit/scratchkit/internal/testenv"
)

// BenchmarkImage measures what the Image stage costs for examples/hello in a fresh process (no
// static base built yet): assembling the image and reading every layer blob once, as a publisher
// does.
//
//   - noop/no-cache: the same binary again, without a layer cache (every layer compressed);
//   - noop/cache: the same binary again, with a warm layer cache (nothing compressed);
//   - change/cache: a changed binary with a warm cache (the binary layer compressed).
//
// Run it with
//
//	go test -run='^$' -bench=BenchmarkImage -benchtime=20x ./targets/image/
func BenchmarkImage(b *testing.B) {
	bin, platform := buildHello(b)
	root := goroot(b)
	ctx := context.Background()
	cache := b.TempDir()
	spec := func(bin, cacheDir string) Spec {
		return Spec{Name: "hello", Created: testCreated, GoRoot: root, CacheDir: cacheDir,
			Binaries: []Binary{{Platform: platform, Path: bin, SHA256: testenv.FileSHA256(b, bin)}}}
	}
	run := func(b *testing.B, s Spec) {
		resetStatic()
		r, err := Build(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		readBlobs(b, r.Image)
	}
	b.Run("noop/no-cache", func(b *testing.B) {
		s := spec(bin, "")
		for b.Loop() {
			run(b, s)
		}
	})
	b.Run("noop/cache", func(b *testing.B) {
		s := spec(bin, cache)
		run(b, s) // warm
		for b.Loop() {
			run(b, s)
		}
	})
	b.Run("change/cache", func(b *testing.B) {
		content, err := os.ReadFile(bin)
		must(b, err)
		changed := filepath.Join(b.TempDir(), "hello")
		run(b, spec(bin, cache)) // warm the static base
		i := 0
		for b.Loop() {
			b.StopTimer()
			i++
			must(b, os.WriteFile(changed, append(content, fmt.Sprintf("change %d", i)...), 0o755))
			s := spec(changed, cache)
			b.StartTimer()
			run(b, s)
		}
	})
}

// readBlobs reads every compressed layer of img, as a publisher writing a tarball does.
func readBlobs(tb testing.TB, img v1.Image) {
	tb.Helper()
	layers, err := img.Layers()
	must(tb, err)
	for _, l := range layers {
		rc, err := l.Compressed()
		must(tb, err)
		_, err = io.Copy(io.Discard, rc)
		must(tb, err)
		must(tb, rc.Close())
	}
}
