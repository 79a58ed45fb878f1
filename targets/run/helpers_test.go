package run

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/platform"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// goBinary builds a Go program once per test process: dir is the package directory, env is
// added to the environment (after CGO_ENABLED=0 and GOFLAGS=-buildvcs=false unless env sets them).
func goBinary(t testing.TB, dir string, env ...string) string {
	t.Helper()
	return testenv.GoBinary(t, dir, append([]string{"GOFLAGS=-buildvcs=false"}, env...)...)
}

// helloBinary is the example service, built static for the host's architecture.
func helloBinary(t testing.TB) string {
	return goBinary(t, "../../examples/hello", "GOOS=linux", "GOARCH="+runtime.GOARCH)
}

// pitfallBinary is testdata/pitfall, static.
func pitfallBinary(t testing.TB) string {
	return goBinary(t, "testdata/pitfall", "GOOS=linux", "GOARCH="+runtime.GOARCH)
}

// dynBinary is testdata/dyn built with cgo, dynamically linked against the C library.
func dynBinary(t testing.TB) string {
	testenv.Tool(t, "gcc")
	return goBinary(t, "testdata/dyn", "CGO_ENABLED=1", "GOOS=linux", "GOARCH="+runtime.GOARCH)
}

func hostPlatformString() string { return platform.Host().String() }

// buildImage assembles an image the way the Image target does.
func buildImage(t testing.TB, spec image.Spec) *image.Result {
	t.Helper()
	if spec.Created.IsZero() {
		spec.Created = time.Unix(1700000000, 0)
	}
	res, err := image.Build(context.Background(), spec)
	if err != nil {
		t.Fatalf("image.Build: %v", err)
	}
	return res
}

// imageOf builds a one-platform image of bin on base ("static" or "scratch").
func imageOf(t testing.TB, name, bin, base, user string, args ...string) v1.Image {
	t.Helper()
	res := buildImage(t, image.Spec{
		Name: name, Base: base, RunConfig: image.RunConfig{User: user, Args: args},
		Binaries: []image.Binary{{Platform: hostPlatformString(), Path: bin}},
	})
	return res.Image
}

// file is one entry of a hand-made layer.
type file struct {
	name     string
	mode     int64
	uid, gid int
	typ      byte
	data     []byte
	link     string
}

// layer makes an uncompressed tar layer of files.
func layer(t testing.TB, files ...file) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		typ := f.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		h := &tar.Header{Name: f.name, Mode: mode, Uid: f.uid, Gid: f.gid, Typeflag: typ, Linkname: f.link, ModTime: time.Unix(1700000000, 0)}
		if typ == tar.TypeReg {
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(f.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// handImage makes an image from layers (bottom first) with the given config, on nothing.
func handImage(t testing.TB, cfg v1.Config, layers ...v1.Layer) v1.Image {
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

// binFile reads a binary into a layer entry at /ko-app/<name>.
func binFile(t testing.TB, path, name string, mode int64) file {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return file{name: "ko-app/" + name, mode: mode, data: data}
}

// findings runs Check and indexes the findings by check.
func findings(t testing.TB, img v1.Image, opts Options) map[string]Finding {
	t.Helper()
	fs, err := Check(context.Background(), img, opts)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	m := map[string]Finding{}
	for _, f := range fs {
		if _, dup := m[f.Check]; dup {
			t.Errorf("check %s reported twice", f.Check)
		}
		m[f.Check] = f
	}
	return m
}

// wantFinding asserts a check's status and that its detail says each of the phrases.
func wantFinding(t testing.TB, m map[string]Finding, check string, st binary.Status, phrases ...string) {
	t.Helper()
	f, ok := m[check]
	if !ok {
		t.Errorf("no %s finding", check)
		return
	}
	if f.Status != st {
		t.Errorf("%s: status %s, want %s: %s", check, f.Status, st, f.Detail)
	}
	for _, p := range phrases {
		if !strings.Contains(f.Detail, p) {
			t.Errorf("%s: detail does not say %q: %s", check, p, f.Detail)
		}
	}
}
