// Package imagetest makes images by hand for the tests of imagefs, lint and run: layers of
// chosen entries, images of them on nothing, images built the way the Image target builds them,
// and hostile images (decompression bombs, layers extract cannot read whole). Tests only.
package imagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// epoch is the time every hand-made entry and image carries.
var epoch = time.Unix(1700000000, 0)

// File is one entry of a hand-made layer; a zero Type is a regular file, a zero Mode 0644 (0755
// for a directory).
type File struct {
	Name     string
	Mode     int64
	UID, GID int
	Type     byte
	Data     []byte
	Link     string
}

// Layer makes an uncompressed tar layer of files.
func Layer(t testing.TB, files ...File) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		typ := f.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		h := &tar.Header{Name: f.Name, Mode: mode, Uid: f.UID, Gid: f.GID, Typeflag: typ, Linkname: f.Link, ModTime: epoch}
		if typ == tar.TypeReg {
			h.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return fromBytes(t, buf.Bytes())
}

func fromBytes(t testing.TB, data []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Image makes an image of the host's platform from layers (bottom first) with the given config,
// on nothing.
func Image(t testing.TB, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	host := platform.Host()
	cf.OS, cf.Architecture, cf.Variant = host.OS, host.Arch, host.Variant
	cf.Config = cfg
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// BinFile reads a binary into a layer entry at /ko-app/<name>.
func BinFile(t testing.TB, path, name string, mode int64) File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return File{Name: "ko-app/" + name, Mode: mode, Data: data}
}

// Build assembles an image the way the Image target does.
func Build(t testing.TB, spec image.Spec) *image.Result {
	t.Helper()
	if spec.Created.IsZero() {
		spec.Created = epoch
	}
	res, err := image.Build(context.Background(), spec)
	if err != nil {
		t.Fatalf("image.Build: %v", err)
	}
	return res
}

// Of builds a one-platform image of bin, for the host's platform, on base ("static" or
// "scratch").
func Of(t testing.TB, name, bin, base, user string, args ...string) v1.Image {
	t.Helper()
	return Build(t, image.Spec{
		Name: name, Base: base, RunConfig: image.RunConfig{User: user, Args: args},
		Binaries: []image.Binary{{Platform: platform.Host(), Path: bin}},
	}).Image
}

// Hostile are images whose filesystem go-containerregistry's extract stops reading part way,
// after it has already written the tar footer, by name, with what an error about each must say.
// Each hides a lower layer's /bin/sh.
func Hostile(t testing.TB) map[string]struct {
	Image v1.Image
	Wants []string
} {
	lower := Layer(t,
		File{Name: "bin/", Type: tar.TypeDir},
		File{Name: "bin/sh", Mode: 0o755, Data: []byte("#!shell")},
		File{Name: "etc/passwd", Data: []byte("root:x:0:0::/:/bin/sh\n")},
	)
	app := File{Name: "ko-app/app", Mode: 0o755, Data: []byte("app")}

	// An upper layer with an entry above the root: extract refuses it.
	unsafe := Layer(t, app, File{Name: "../x", Data: []byte("owned")})

	// An upper layer cut off in the middle of a tar header (a truncated download or a corrupt
	// blob): extract's tar reader fails with an unexpected EOF.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []File{app, {Name: "ko-app/more", Data: []byte("more")}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: 0o755, Size: int64(len(f.Data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	truncated := fromBytes(t, buf.Bytes()[:1024+100]) // the first entry whole, then 100 bytes of the second header

	cfg := v1.Config{Entrypoint: []string{"/ko-app/app"}, User: "65532"}
	return map[string]struct {
		Image v1.Image
		Wants []string
	}{
		"unsafe path":     {Image(t, cfg, lower, unsafe), []string{`unsafe tar path "../x"`, "layer 2 of 2"}},
		"truncated layer": {Image(t, cfg, lower, truncated), []string{"unexpected EOF", "layer 2 of 2"}},
	}
}

// Bomb makes a gzip-compressed layer holding one file, name, of size zero bytes, as a registry
// would serve it, and returns its compressed size.
func Bomb(t testing.TB, name string, size int64) (v1.Layer, int) {
	t.Helper()
	var raw bytes.Buffer
	zw, err := gzip.NewWriterLevel(&raw, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: epoch}); err != nil {
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
	return fromBytes(t, raw.Bytes()), raw.Len()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
