package run

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// withImageLimits lowers the limits on reading an image's filesystem for one test.
func withImageLimits(t *testing.T, bytes int64, entries int) {
	t.Helper()
	saved := imageLimits
	imageLimits.bytes, imageLimits.entries = bytes, entries
	t.Cleanup(func() { imageLimits = saved })
}

// hostileImages are images whose filesystem go-containerregistry's extract stops reading part
// way, after it has already written the tar footer. Each hides a lower layer's /bin/sh.
func hostileImages(t *testing.T) map[string]struct {
	img   v1.Image
	wants []string // what the error must say
} {
	lower := layer(t,
		file{name: "bin/", typ: tar.TypeDir},
		file{name: "bin/sh", mode: 0o755, data: []byte("#!shell")},
		file{name: "etc/passwd", data: []byte("root:x:0:0::/:/bin/sh\n")},
	)
	app := file{name: "ko-app/app", mode: 0o755, data: []byte("app")}

	// An upper layer with an entry above the root: extract refuses it.
	unsafe := layer(t, app, file{name: "../x", data: []byte("owned")})

	// An upper layer cut off in the middle of a tar header (a truncated download or a corrupt
	// blob): extract's tar reader fails with an unexpected EOF.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []file{app, {name: "ko-app/more", data: []byte("more")}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	cut := buf.Bytes()[:1024+100] // the first entry whole, then 100 bytes of the second header
	truncated, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cut)), nil })
	if err != nil {
		t.Fatal(err)
	}

	cfg := v1.Config{Entrypoint: []string{"/ko-app/app"}, User: "65532"}
	return map[string]struct {
		img   v1.Image
		wants []string
	}{
		"unsafe path":     {handImage(t, cfg, lower, unsafe), []string{`unsafe tar path "../x"`, "layer 2 of 2"}},
		"truncated layer": {handImage(t, cfg, lower, truncated), []string{"unexpected EOF", "layer 2 of 2"}},
	}
}

// The static checks read a hostile image's whole filesystem or fail: a stream that stops early
// must not pass a lower layer's shell as "no shell" (or any other check on what was not read).
func TestCheckRefusesHostileLayers(t *testing.T) {
	for name, c := range hostileImages(t) {
		t.Run(name, func(t *testing.T) {
			d, err := c.img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			fs, err := Check(context.Background(), c.img, Options{AllowRoot: true})
			if err == nil {
				t.Fatalf("Check passed a hostile image: %+v", fs)
			}
			for _, w := range append([]string{"image " + d.String()}, c.wants...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
			// Through Smoke, the platform is reported as not checked: a failure, not a pass.
			rep, err := Smoke(context.Background(), "hostile", c.img, Options{Runtime: RuntimeNone, AllowRoot: true})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Failed() || len(rep.Platforms) != 1 || !strings.Contains(rep.Platforms[0].Error, c.wants[0]) {
				t.Errorf("smoke report does not fail on the hostile layer: %+v", rep)
			}
		})
	}
}

// unpack fails on a hostile image instead of leaving a partial root filesystem.
func TestUnpackRefusesHostileLayers(t *testing.T) {
	testenv.Root(t)
	for name, c := range hostileImages(t) {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "rootfs")
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			err := unpack(context.Background(), c.img, root)
			if err == nil {
				t.Fatal("unpack of a hostile image succeeded")
			}
			for _, w := range c.wants {
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

// bombLayer makes a gzip-compressed layer holding one file of size zero bytes, as a registry
// would serve it, and returns its compressed size.
func bombLayer(t *testing.T, name string, size int64) (v1.Layer, int) {
	t.Helper()
	var raw bytes.Buffer
	zw, err := gzip.NewWriterLevel(&raw, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	data := raw.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l, len(data)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A small compressed layer that expands past the limit (a decompression bomb) is refused by
// the checks and by unpack, with the layer and the limit named, and without holding the
// expanded bytes in memory or on disk. The bomb hides under an upper layer's whiteout, where
// only the bytes extract reads (not the entries it yields) can bound it.
func TestImageSizeLimit(t *testing.T) {
	const bomb = 256 << 20
	big, size := bombLayer(t, "zero", bomb)
	if size > bomb/500 {
		t.Fatalf("the bomb layer is %d bytes compressed: not a bomb", size)
	}
	img := handImage(t, v1.Config{Entrypoint: []string{"/ko-app/app"}},
		big,
		layer(t, file{name: ".wh.zero"}, file{name: "ko-app/app", mode: 0o755, data: []byte("app")}))
	withImageLimits(t, 16<<20, 1000)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Check(context.Background(), img, Options{})
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("Check read a decompression bomb")
	}
	for _, w := range []string{"layer 1 of 2", "more than 16.0 MiB uncompressed", "a decompression bomb"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q: %v", w, err)
		}
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("Check allocated %d MiB reading a %d MiB bomb under a 16MiB limit", grew>>20, bomb>>20)
	}

	if os.Geteuid() == 0 {
		root := filepath.Join(t.TempDir(), "rootfs")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		err := unpack(context.Background(), img, root)
		if err == nil || !strings.Contains(err.Error(), "more than 16.0 MiB uncompressed") {
			t.Errorf("unpack of a bomb: %v", err)
		}
	}
}

// An image with more entries than the limit is refused, naming the limit.
func TestImageEntryLimit(t *testing.T) {
	var files []file
	for k := range 300 {
		files = append(files, file{name: fmt.Sprintf("many/f%d", k), data: []byte("x")})
	}
	img := handImage(t, v1.Config{Entrypoint: []string{"/ko-app/app"}}, layer(t, files...))
	withImageLimits(t, 1<<30, 100)
	_, err := Check(context.Background(), img, Options{})
	if err == nil || !strings.Contains(err.Error(), "more than 100 entries") {
		t.Errorf("Check of an image of 300 entries under a limit of 100: %v", err)
	}
	if os.Geteuid() == 0 {
		root := filepath.Join(t.TempDir(), "rootfs")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unpack(context.Background(), img, root); err == nil || !strings.Contains(err.Error(), "more than 100 entries") {
			t.Errorf("unpack of an image of 300 entries under a limit of 100: %v", err)
		}
	}
}
