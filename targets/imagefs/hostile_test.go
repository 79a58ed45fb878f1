package imagefs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/imagefs/imagetest"
)

// unpack fails on a hostile image instead of leaving a partial root filesystem.
func TestUnpackRefusesHostileLayers(t *testing.T) {
	testenv.Root(t)
	for name, c := range imagetest.Hostile(t) {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "rootfs")
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			err := Unpack(context.Background(), c.Image, root, Limits{})
			if err == nil {
				t.Fatal("unpack of a hostile image succeeded")
			}
			for _, w := range c.Wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
			if _, err := os.Lstat(filepath.Join(parent, "x")); err == nil {
				t.Error("unpack wrote ../x outside the root filesystem")
			}
		})
	}
}

// A small compressed layer that expands past the limit (a decompression bomb) is refused by
// Read and by Unpack, with the layer and the limit named, and without holding the
// expanded bytes in memory or on disk. The bomb hides under an upper layer's whiteout, where
// only the bytes extract reads (not the entries it yields) can bound it.
func TestImageSizeLimit(t *testing.T) {
	const bomb = 256 << 20
	big, size := imagetest.Bomb(t, "zero", bomb)
	if size > bomb/500 {
		t.Fatalf("the bomb layer is %d bytes compressed: not a bomb", size)
	}
	img := imagetest.Image(t, v1.Config{Entrypoint: []string{"/ko-app/app"}},
		big,
		imagetest.Layer(t, imagetest.File{Name: ".wh.zero"}, imagetest.File{Name: "ko-app/app", Mode: 0o755, Data: []byte("app")}))
	lim := Limits{Bytes: 16 << 20, Entries: 1000}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Read(context.Background(), img, Plan{}, lim)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("Read read a decompression bomb")
	}
	for _, w := range []string{"layer 1 of 2", "more than 16.0 MiB uncompressed", "a decompression bomb"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q: %v", w, err)
		}
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("Read allocated %d MiB reading a %d MiB bomb under a 16MiB limit", grew>>20, bomb>>20)
	}

	if os.Geteuid() == 0 {
		root := filepath.Join(t.TempDir(), "rootfs")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		err := Unpack(context.Background(), img, root, lim)
		if err == nil || !strings.Contains(err.Error(), "more than 16.0 MiB uncompressed") {
			t.Errorf("unpack of a bomb: %v", err)
		}
	}
}

// An image with more entries than the limit is refused, naming the limit.
func TestImageEntryLimit(t *testing.T) {
	var files []imagetest.File
	for k := range 300 {
		files = append(files, imagetest.File{Name: fmt.Sprintf("many/f%d", k), Data: []byte("x")})
	}
	img := imagetest.Image(t, v1.Config{Entrypoint: []string{"/ko-app/app"}}, imagetest.Layer(t, files...))
	lim := Limits{Bytes: 1 << 30, Entries: 100}
	_, err := Read(context.Background(), img, Plan{}, lim)
	if err == nil || !strings.Contains(err.Error(), "more than 100 entries") {
		t.Errorf("Read of an image of 300 entries under a limit of 100: %v", err)
	}
	if os.Geteuid() == 0 {
		root := filepath.Join(t.TempDir(), "rootfs")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Unpack(context.Background(), img, root, lim); err == nil || !strings.Contains(err.Error(), "more than 100 entries") {
			t.Errorf("unpack of an image of 300 entries under a limit of 100: %v", err)
		}
	}
}
