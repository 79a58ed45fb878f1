package publish_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/internal/bytesize"
	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/publish/internal/testimage"
)

// TestMain removes the binaries testimage built.
func TestMain(m *testing.M) { testenv.Main(m) }

func TestNewRegistryNamesTheKey(t *testing.T) {
	for _, c := range []struct{ repo, says string }{
		{"", "no repository is configured: set image.repo / KO_DOCKER_REPO"},
		{"Registry.example/UPPER", `image.repo / KO_DOCKER_REPO "Registry.example/UPPER" is not a repository name`},
		{"ko.local", `names ko's ko.local, which is not a registry: publish to the daemon destination`},
		{"kind.local", `names ko's kind.local, which is not a registry: publish to the kind destination`},
	} {
		_, err := publish.NewRegistry(publish.RegistryOptions{Repo: c.repo, Keys: publish.Keys{Repo: "image.repo / KO_DOCKER_REPO"}})
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("repo %q: got %v, want an error saying %q", c.repo, err, c.says)
		}
	}
	// Without a name from the caller, the error names the option.
	if _, err := publish.NewRegistry(publish.RegistryOptions{}); err == nil || !strings.Contains(err.Error(), "no repository is configured: set RegistryOptions.Repo") {
		t.Errorf("no repository, no key: got %v", err)
	}
	r, err := publish.NewRegistry(publish.RegistryOptions{Repo: "ghcr.io/acme/"})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := r.Repo("Hello")
	if err != nil || repo.String() != "ghcr.io/acme/hello" {
		t.Errorf("image Hello goes to %v (%v), want ghcr.io/acme/hello as ko names it", repo, err)
	}
	// A bare registry is a repository prefix, as KO_DOCKER_REPO=localhost:5000 is for ko.
	r, err = publish.NewRegistry(publish.RegistryOptions{Repo: "localhost:5000"})
	if err != nil {
		t.Fatal(err)
	}
	if repo, err := r.Repo("hello"); err != nil || repo.String() != "localhost:5000/hello" {
		t.Errorf("image hello under localhost:5000 goes to %v (%v)", repo, err)
	}
}

func TestDefaultDestinations(t *testing.T) {
	for repo, want := range map[string]string{"": "layout,tarball", "127.0.0.1:5000/x": "registry", "ko.local": "daemon", "kind.local": "kind"} {
		if got := strings.Join(publish.DefaultDestinations(repo), ","); got != want {
			t.Errorf("repository %q: %s, want %s", repo, got, want)
		}
	}
}

// With no repository, the default destinations write dist/layout and dist/<name>.tar, offline.
func TestDefaultOfflineWritesDist(t *testing.T) {
	dist := t.TempDir()
	pubs := []publish.Publisher{publish.NewLayout(publish.LayoutOptions{Dir: filepath.Join(dist, "layout")}), publish.NewTarball(publish.TarballOptions{Dir: dist})}
	img := testimage.Image(t, runtime.GOARCH, map[string][]byte{"app": []byte("#!")}, []string{"/app"})
	var res []*publish.Result
	for _, p := range pubs {
		r, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: img})
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, r)
	}
	want, _ := img.Digest()
	for _, f := range []string{"layout/index.json", "layout/oci-layout", "app.tar"} {
		if _, err := os.Stat(filepath.Join(dist, f)); err != nil {
			t.Errorf("dist/%s: %v", f, err)
		}
	}
	if len(res) != 2 || res[0].Digest != want || res[1].Digest != want {
		t.Fatalf("results %+v, want two naming %s", res, want)
	}
	var table bytes.Buffer
	if err := render.ImageTable(&table, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "app    layout       "+want.String()+"  linux/"+runtime.GOARCH) {
		t.Errorf("table lacks the layout row:\n%s", table.String())
	}
}

func TestSelectImagePrefersTheAskedPlatform(t *testing.T) {
	amd := testimage.Image(t, "amd64", map[string][]byte{"a": []byte("amd")}, nil)
	arm := testimage.Image(t, "arm64", map[string][]byte{"a": []byte("arm")}, nil)
	idx := testimage.Index(t, amd, arm)
	for _, c := range []struct {
		want v1.Platform
		got  v1.Image
		note string
	}{
		{v1.Platform{OS: "linux", Architecture: "arm64"}, arm, "holds linux/arm64 only, taken from"},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, amd, "holds linux/amd64 only, taken from"},
		{v1.Platform{OS: "linux", Architecture: "riscv64"}, amd, "the index has no linux/riscv64 image"},
	} {
		img, _, note, err := publish.Single(publish.Artifact{Name: "x", Index: idx}, c.want)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := img.Digest()
		want, _ := c.got.Digest()
		if got != want || !strings.Contains(note, c.note) {
			t.Errorf("for %s: took %s (note %q), want %s (note saying %q)", c.want, got, note, want, c.note)
		}
	}
}

// failingLayer is a layer whose content cannot be read.
type failingLayer struct{}

func (failingLayer) Digest() (v1.Hash, error) {
	return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0f", 32)}, nil
}
func (failingLayer) DiffID() (v1.Hash, error) {
	return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("f0", 32)}, nil
}
func (failingLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(iotest.ErrReader(errors.New("disk on fire"))), nil
}
func (failingLayer) Uncompressed() (io.ReadCloser, error) { return failingLayer{}.Compressed() }
func (failingLayer) Size() (int64, error)                 { return 1000, nil }
func (failingLayer) MediaType() (types.MediaType, error)  { return types.OCILayer, nil }

func TestLayoutFailureKeepsIndex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	p := publish.NewLayout(publish.LayoutOptions{Dir: dir})
	if _, err := p.Publish(context.Background(), publish.Artifact{Name: "a", Image: randomImage(t, 128)}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	// An image whose layer cannot be read fails half-way, after its config is written.
	broken, err := mutate.AppendLayers(randomImage(t, 128), failingLayer{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(context.Background(), publish.Artifact{Name: "a", Image: broken}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("publishing an unreadable image: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if !bytes.Equal(before, after) {
		t.Errorf("a failed publish changed index.json")
	}
	h, _ := failingLayer{}.Digest()
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", h.Hex)); err == nil {
		t.Errorf("the failed layer left a blob file under its digest")
	}
	// A directory that is not a layout is not written into.
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "index.json"), []byte("{}"), 0o644)
	_, err = publish.NewLayout(publish.LayoutOptions{Dir: foreign}).Publish(context.Background(), publish.Artifact{Name: "a", Image: randomImage(t, 128)})
	if err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("writing into a non-layout directory: %v", err)
	}
}

func TestArtifactNeedsOneOfImageAndIndex(t *testing.T) {
	p := publish.NewTarball(publish.TarballOptions{Dir: t.TempDir()})
	img := randomImage(t, 16)
	idx := testimage.Index(t, testimage.Image(t, "amd64", nil, nil))
	for _, a := range []publish.Artifact{{Name: "x"}, {Name: "x", Image: img, Index: idx}, {Image: img}} {
		if _, err := p.Publish(context.Background(), a); err == nil {
			t.Errorf("artifact %+v was accepted", a)
		}
	}
}

// The Image table says what one platform pulls, not the sum over an index: per platform, its
// config and layers; a layer the platforms share counts for each.
func TestTableSizesPerPlatform(t *testing.T) {
	amd := testimage.Image(t, "amd64", map[string][]byte{"a": bytes.Repeat([]byte("amd64 "), 4000)}, nil)
	arm := testimage.Image(t, "arm64", map[string][]byte{"a": []byte("arm")}, nil)
	idx := testimage.Index(t, amd, arm)
	pub := publish.NewLayout(publish.LayoutOptions{Dir: t.TempDir()})
	res, err := pub.Publish(context.Background(), publish.Artifact{Name: "app", Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	pulls := func(img v1.Image) int64 {
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		n := m.Config.Size
		for _, l := range m.Layers {
			n += l.Size
		}
		return n
	}
	wantAmd, wantArm := pulls(amd), pulls(arm)
	if got := res.PlatformSize(platform.MustParse("linux/amd64")); got != wantAmd {
		t.Errorf("linux/amd64 pulls %d, want %d", got, wantAmd)
	}
	if got := res.PlatformSize(platform.MustParse("linux/arm64")); got != wantArm {
		t.Errorf("linux/arm64 pulls %d, want %d", got, wantArm)
	}
	if res.Size != wantAmd+wantArm {
		t.Errorf("Size %d, want the sum of the distinct blobs %d", res.Size, wantAmd+wantArm)
	}
	var table bytes.Buffer
	if err := render.ImageTable(&table, []*publish.Result{res}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "PLATFORM") {
		t.Fatalf("want a header and a row per platform:\n%s", table.String())
	}
	for i, p := range []struct {
		platform string
		size     int64
	}{{"linux/amd64", wantAmd}, {"linux/arm64", wantArm}} {
		row := strings.Fields(lines[i+1])
		if got := strings.Join(row[len(row)-3:], " "); got != p.platform+" "+bytesize.Format(p.size) {
			t.Errorf("row %d ends %q, want %s %s:\n%s", i+1, got, p.platform, bytesize.Format(p.size), table.String())
		}
	}
}
