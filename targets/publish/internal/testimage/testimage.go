// Package testimage builds real images for the publish tests: the examples/hello service,
// compiled static (CGO_ENABLED=0) for a linux architecture, in a one-layer OCI image.
package testimage

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/scratchkit/scratchkit/internal/testenv"
)

// HelloBinary compiles examples/hello for linux/arch with main.version set to version, once per
// test process (the tests' TestMain calls testenv.Main).
func HelloBinary(t testing.TB, arch, version string) []byte {
	t.Helper()
	out := testenv.GoBuild(t, testenv.GoProgram{Dir: filepath.Join(testenv.ModuleRoot(t), "examples", "hello"),
		Env:   []string{"GOOS=linux", "GOARCH=" + arch, "GOFLAGS=", "GOWORK=off"},
		Flags: []string{"-trimpath", "-ldflags", "-s -w -X main.version=" + version}})
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Hello is an OCI image holding examples/hello for linux/arch at /hello, its entrypoint.
func Hello(t testing.TB, arch, version string) v1.Image {
	t.Helper()
	return Image(t, arch, map[string][]byte{"hello": HelloBinary(t, arch, version)}, []string{"/hello"})
}

// Image is an OCI image for linux/arch with one layer holding files (path → content, mode
// 0755) and the given entrypoint.
func Image(t testing.TB, arch string, files map[string][]byte, entrypoint []string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Entrypoint = entrypoint
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Index is an OCI image index of images, each descriptor carrying its image's platform.
func Index(t testing.TB, imgs ...v1.Image) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: cf.Platform()},
		})
	}
	return idx
}
