package publish_test

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/publish/internal/testimage"
)

// uniqueName gives a docker image name no other test run uses.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

func TestTarballDockerLoadAndRun(t *testing.T) {
	docker := testenv.Docker(t)
	dist := t.TempDir()
	version := uniqueName("t")
	host := runtime.GOARCH
	other := "arm64"
	if host == "arm64" {
		other = "amd64"
	}
	idx := testimage.Index(t, testimage.Hello(t, other, version), testimage.Hello(t, host, version))
	n := uniqueName("hello-tarball")

	res, err := publish.NewTarball(publish.TarballOptions{Dir: dist, Tags: []string{"latest", version}}).
		Publish(context.Background(), publish.Artifact{Name: n, Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != filepath.Join(dist, n+".tar") || res.Ref != res.Path {
		t.Errorf("tarball at %s (ref %s), want %s", res.Path, res.Ref, filepath.Join(dist, n+".tar"))
	}
	if len(res.Platforms) != 1 || res.Platforms[0].String() != "linux/"+host || !strings.Contains(res.Note, "linux/"+host) {
		t.Errorf("tarball of an index: platforms %v, note %q; want the host's, linux/%s, and a note saying so", res.Platforms, res.Note, host)
	}
	entries, _ := os.ReadDir(dist)
	if len(entries) != 1 {
		t.Errorf("dist holds %d entries, want the tarball only (no temp files)", len(entries))
	}

	out := testenv.Run(t, docker, "load", "-i", res.Path)
	t.Cleanup(func() { testenv.Output(docker, "rmi", "-f", "ko.local/"+n+":latest", "ko.local/"+n+":"+version) })
	if !strings.Contains(out, "ko.local/"+n+":latest") {
		t.Errorf("docker load did not create ko.local/%s:latest:\n%s", n, out)
	}
	got := testenv.Run(t, docker, "run", "--rm", "--network", "none", "ko.local/"+n+":"+version, "-version")
	if strings.TrimSpace(got) != "hello "+version {
		t.Errorf("docker run printed %q, want %q", got, "hello "+version)
	}
}

func TestTarballReplacesAtomically(t *testing.T) {
	dist := t.TempDir()
	p := publish.NewTarball(publish.TarballOptions{Dir: dist})
	a := publish.Artifact{Name: "app", Image: randomImage(t, 4096)}
	res, err := p.Publish(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Publish(ctx, publish.Artifact{Name: "app", Image: randomImage(t, 8192)}); err == nil {
		t.Fatal("publishing with a cancelled context succeeded")
	}
	after, err := os.ReadFile(res.Path)
	if err != nil || string(after) != string(before) {
		t.Errorf("a failed write changed the existing tarball (err %v)", err)
	}
	entries, _ := os.ReadDir(dist)
	if len(entries) != 1 {
		t.Errorf("a failed write left %d files in dist, want 1", len(entries))
	}
}

func isELFFor(b []byte, m elf.Machine) bool {
	f, err := elf.NewFile(bytes.NewReader(b))
	return err == nil && f.Machine == m
}

func layoutIndex(t *testing.T, dir string) v1.IndexManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		t.Fatal(err)
	}
	return im
}

func refs(im v1.IndexManifest) map[string]v1.Hash {
	m := map[string]v1.Hash{}
	for _, d := range im.Manifests {
		m[d.Annotations[publish.RefNameAnnotation]] = d.Digest
	}
	return m
}

func TestLayoutUmociSkopeoAndRepublish(t *testing.T) {
	umoci := testenv.Tool(t, "umoci")
	skopeo := testenv.Tool(t, "skopeo")
	dir := filepath.Join(t.TempDir(), "layout")
	p := publish.NewLayout(publish.LayoutOptions{Dir: dir, Tags: []string{"latest", "1.0"}, PlatformRefs: true})
	ctx := context.Background()

	bin := testimage.HelloBinary(t, runtime.GOARCH, "layout-1")
	single := testimage.Image(t, runtime.GOARCH, map[string][]byte{"hello": bin}, []string{"/hello"})
	if _, err := p.Publish(ctx, publish.Artifact{Name: "hello", Image: single}); err != nil {
		t.Fatal(err)
	}
	idx := testimage.Index(t, testimage.Hello(t, "amd64", "multi"), testimage.Hello(t, "arm64", "multi"))
	resIdx, err := p.Publish(ctx, publish.Artifact{Name: "multi", Index: idx})
	if err != nil {
		t.Fatal(err)
	}

	// umoci unpacks the image by its ref name; the binary in the bundle is the one built.
	bundle := filepath.Join(t.TempDir(), "bundle")
	args := []string{"unpack", "--image", dir + ":hello:1.0", bundle}
	if os.Geteuid() != 0 {
		args = append([]string{"unpack", "--rootless"}, args[1:]...)
	}
	testenv.Run(t, umoci, args...)
	got, err := os.ReadFile(filepath.Join(bundle, "rootfs", "hello"))
	if err != nil || string(got) != string(bin) {
		t.Fatalf("umoci's bundle does not hold the published binary (%v)", err)
	}

	// The index is kept whole: skopeo reads it back byte for byte and finds both platforms.
	raw := testenv.Run(t, skopeo, "inspect", "--raw", "oci:"+dir+":multi:latest")
	wantRaw, _ := idx.RawManifest()
	if raw != string(wantRaw) {
		t.Errorf("skopeo reads a different index at multi:latest:\n%s", raw)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		out := testenv.Run(t, skopeo, "inspect", "--override-os", "linux", "--override-arch", arch, "oci:"+dir+":multi:latest")
		if !strings.Contains(out, `"Architecture": "`+arch+`"`) {
			t.Errorf("skopeo finds no %s image in multi:latest:\n%s", arch, out)
		}
	}
	if strings.Join(platform.Strings(resIdx.Platforms), ",") != "linux/amd64,linux/arm64" {
		t.Errorf("platforms %v", resIdx.Platforms)
	}

	// Publishing hello again replaces its entries and drops the blobs only it used.
	blobsBefore, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	single2 := testimage.Hello(t, runtime.GOARCH, "layout-2")
	res2, err := p.Publish(ctx, publish.Artifact{Name: "hello", Image: single2})
	if err != nil {
		t.Fatal(err)
	}
	im := layoutIndex(t, dir)
	if len(im.Manifests) != 8 {
		t.Errorf("index.json has %d entries after republishing, want 8 (hello, multi and multi's 2 platforms, 2 tags each)", len(im.Manifests))
	}
	r := refs(im)
	d2, _ := single2.Digest()
	di, _ := idx.Digest()
	if r["hello:latest"] != d2 || r["hello:1.0"] != d2 || r["multi:latest"] != di || res2.Digest != d2 {
		t.Errorf("index.json refs %v; want hello:* at %s, multi:latest at %s", r, d2, di)
	}
	blobsAfter, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if len(blobsAfter) != len(blobsBefore) {
		t.Errorf("%d blobs before, %d after replacing one single-layer image; want equal (old manifest, config, layer gone)", len(blobsBefore), len(blobsAfter))
	}
	// Every blob left is referenced: umoci and skopeo still read everything.
	testenv.Run(t, skopeo, "inspect", "oci:"+dir+":hello:latest")
	// umoci 0.4 cannot choose from an index ("tag is ambiguous"); the per-platform entries
	// give it one image each.
	bundle2 := filepath.Join(t.TempDir(), "bundle")
	args[len(args)-2], args[len(args)-1] = dir+":multi:1.0-linux-arm64", bundle2
	testenv.Run(t, umoci, args...)
	armBin, err := os.ReadFile(filepath.Join(bundle2, "rootfs", "hello"))
	if err != nil || !isELFFor(armBin, elf.EM_AARCH64) {
		t.Errorf("multi:1.0-linux-arm64 did not unpack to the arm64 binary (%v)", err)
	}
}
