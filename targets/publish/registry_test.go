package publish_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/publish/internal/testimage"
)

// events collects progress events.
type events struct {
	mu  sync.Mutex
	all []publish.Event
}

func (e *events) add(ev publish.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) count(k publish.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

func newRegistry(t *testing.T, o publish.RegistryOptions) *publish.RegistryPublisher {
	t.Helper()
	if o.RetryWait == 0 {
		o.RetryWait = 10 * time.Millisecond
	}
	r, err := publish.NewRegistry(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func randomImage(t *testing.T, size int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func fileInTar(t *testing.T, file, name string) []byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "/") == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func crane(t *testing.T, args ...string) string {
	t.Helper()
	return strings.TrimSpace(testenv.Run(t, testenv.Tool(t, "crane"), args...))
}

func TestRegistryPushIndexReadBackAndPushAgain(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	t.Setenv("DOCKER_CONFIG", reg.DockerConfig(t))
	skopeo := testenv.Tool(t, "skopeo")
	bin := testimage.HelloBinary(t, "amd64", "v1")
	amd := testimage.Image(t, "amd64", map[string][]byte{"hello": bin}, []string{"/hello"})
	idx := testimage.Index(t, amd, testimage.Hello(t, "arm64", "v1"))

	var ev events
	repo := reg.Host + "/scratchkit"
	p := newRegistry(t, publish.RegistryOptions{Repo: repo, Tags: []string{"latest", "v1"}, Progress: ev.add})
	res, err := p.Publish(context.Background(), publish.Artifact{Name: "hello", Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if res.Digest != want || res.Ref != repo+"/hello@"+want.String() {
		t.Fatalf("result names %s (%s), want %s@%s", res.Ref, res.Digest, repo+"/hello", want)
	}
	if got := strings.Join(platform.Strings(res.Platforms), ","); got != "linux/amd64,linux/arm64" {
		t.Errorf("platforms %q", got)
	}
	if res.Uploaded != 4 || res.Skipped != 0 { // two layers, two configs
		t.Errorf("first push: %d uploaded, %d skipped; want 4, 0", res.Uploaded, res.Skipped)
	}
	if res.Bytes <= 0 || res.Bytes != res.Size {
		t.Errorf("first push sent %d bytes, size %d: want all of it", res.Bytes, res.Size)
	}
	if n := ev.count(publish.BlobUploaded); n != 4 {
		t.Errorf("%d BlobUploaded events, want 4", n)
	}
	if ev.count(publish.Bytes) == 0 || ev.count(publish.Pushed) != 1 || ev.count(publish.Tagged) != 2 {
		t.Errorf("events: %d bytes, %d pushed, %d tagged", ev.count(publish.Bytes), ev.count(publish.Pushed), ev.count(publish.Tagged))
	}
	if strings.Join(res.Tags, " ") != repo+"/hello:latest "+repo+"/hello:v1" {
		t.Errorf("tags %q", res.Tags)
	}

	// skopeo reads the index back byte for byte, and each platform's image.
	raw := testenv.Run(t, skopeo, "inspect", "--tls-verify=false", "--raw", "docker://"+repo+"/hello:latest")
	sum := sha256.Sum256([]byte(raw))
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != want.String() {
		t.Errorf("skopeo reads %s at :latest, want %s", got, want)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		out := testenv.Run(t, skopeo, "inspect", "--tls-verify=false", "--override-os", "linux", "--override-arch", arch, "docker://"+res.Ref)
		var info struct{ Architecture, Os string }
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			t.Fatalf("skopeo inspect: %v\n%s", err, out)
		}
		if info.Architecture != arch || info.Os != "linux" {
			t.Errorf("skopeo sees %s/%s for %s", info.Os, info.Architecture, arch)
		}
	}
	// crane agrees on the digest of both tags, and the amd64 image holds the binary.
	for _, tag := range []string{"latest", "v1"} {
		if got := crane(t, "digest", "--insecure", repo+"/hello:"+tag); got != want.String() {
			t.Errorf("crane digest :%s = %s, want %s", tag, got, want)
		}
	}
	fs := filepath.Join(t.TempDir(), "fs.tar")
	crane(t, "export", "--insecure", "--platform", "linux/amd64", res.Ref, fs)
	if got := fileInTar(t, fs, "hello"); !bytes.Equal(got, bin) {
		t.Errorf("the exported linux/amd64 filesystem does not hold the hello binary pushed (%d bytes, want %d)", len(got), len(bin))
	}

	// Publishing the same image again sends nothing.
	var ev2 events
	p2 := newRegistry(t, publish.RegistryOptions{Repo: repo, Progress: ev2.add})
	res2, err := p2.Publish(context.Background(), publish.Artifact{Name: "hello", Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Digest != want || res2.Uploaded != 0 || res2.Skipped != 4 || res2.Bytes != 0 {
		t.Errorf("second push: %s, %d uploaded, %d skipped, %d bytes; want %s, 0, 4, 0", res2.Digest, res2.Uploaded, res2.Skipped, res2.Bytes, want)
	}
	if n := ev2.count(publish.BlobUploaded); n != 0 {
		t.Errorf("second push uploaded %d blobs", n)
	}

	// A new image sharing nothing but the arm64 half sends only the amd64 half.
	idx3 := testimage.Index(t, testimage.Hello(t, "amd64", "v3"), testimage.Hello(t, "arm64", "v1"))
	res3, err := p2.Publish(context.Background(), publish.Artifact{Name: "hello", Index: idx3})
	if err != nil {
		t.Fatal(err)
	}
	if res3.Uploaded != 2 || res3.Skipped != 2 {
		t.Errorf("third push: %d uploaded, %d skipped; want 2, 2 (only the new amd64 layer and config)", res3.Uploaded, res3.Skipped)
	}
	d3, _ := idx3.Digest()
	if got := crane(t, "digest", "--insecure", repo+"/hello:latest"); got != d3.String() {
		t.Errorf(":latest = %s after the third push, want %s", got, d3)
	}
	if got := crane(t, "digest", "--insecure", repo+"/hello:v1"); got != want.String() {
		t.Errorf(":v1 = %s, want it left at %s", got, want)
	}
}

func TestRegistryCredentials(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{User: "alice", Password: "s3cret"})
	good := reg.DockerConfig(t)
	bad := (&testenv.Registry{Host: reg.Host, User: "alice", Password: "wrong"}).DockerConfig(t)
	none := (&testenv.Registry{Host: reg.Host}).DockerConfig(t)
	repo := reg.Host + "/team"
	v1img, v2img := randomImage(t, 512), randomImage(t, 512)
	d1, _ := v1img.Digest()

	t.Setenv("DOCKER_CONFIG", good)
	p := newRegistry(t, publish.RegistryOptions{Repo: repo, Tags: []string{"stable"}})
	if _, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: v1img}); err != nil {
		t.Fatalf("push with good credentials: %v", err)
	}

	for _, c := range []struct {
		config  string
		problem publish.Problem
		says    string
	}{
		{bad, publish.BadCredentials, "registry " + reg.Host + " refused the credentials for " + repo + "/app"},
		{none, publish.NoCredentials, "registry " + reg.Host + " wants credentials for " + repo + "/app"},
	} {
		t.Setenv("DOCKER_CONFIG", c.config)
		_, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: v2img})
		t.Logf("%s: %v", c.problem, err)
		var re *publish.RegistryError
		if !errors.As(err, &re) || re.Problem != c.problem {
			t.Fatalf("push with %s: got %v, want a %s RegistryError", c.config, err, c.problem)
		}
		if msg := err.Error(); !strings.Contains(msg, c.says) || !strings.Contains(msg, "docker login "+reg.Host) || strings.Contains(msg, "\n") {
			t.Errorf("error is not the one clear sentence expected:\n%s", msg)
		}
	}

	// The failed pushes moved nothing: :stable still names v1.
	t.Setenv("DOCKER_CONFIG", good)
	if got := crane(t, "digest", "--insecure", repo+"/app:stable"); got != d1.String() {
		t.Errorf(":stable = %s after failed pushes, want %s", got, d1)
	}
}

func TestRegistryConnectionRefused(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	host := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	p := newRegistry(t, publish.RegistryOptions{Repo: host + "/x", Keys: publish.Keys{Repo: "image.repo / KO_DOCKER_REPO"}, Attempts: 2})
	_, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: randomImage(t, 64)})
	t.Log(err)
	var re *publish.RegistryError
	if !errors.As(err, &re) || re.Problem != publish.ConnectionRefused {
		t.Fatalf("got %v, want a connection-refused RegistryError", err)
	}
	if !strings.HasPrefix(err.Error(), "nothing listens at "+host) || !strings.Contains(err.Error(), "image.repo / KO_DOCKER_REPO") {
		t.Errorf("unclear error: %s", err)
	}
}

// A registry failing with 503 on every upload: the push is retried a bounded number of times,
// fails with one sentence, and does not move the tag.
func TestRegistryServerErrorDoesNotMoveTag(t *testing.T) {
	reg, fp := faultyRegistry(t)
	host := fp.Host
	repo := host + "/x"
	p := newRegistry(t, publish.RegistryOptions{Repo: repo, Tags: []string{"stable"}, Attempts: 2})
	v1img := randomImage(t, 256)
	if _, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: v1img}); err != nil {
		t.Fatal(err)
	}
	refused := fp.Inject(&testenv.Fault{Match: testenv.UploadStart, Action: testenv.Status, Status: http.StatusServiceUnavailable})
	_, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: randomImage(t, 256)})
	t.Logf("%v (after %d upload attempts)", err, refused.Hits())
	var re *publish.RegistryError
	if !errors.As(err, &re) || re.Problem != publish.ServerError {
		t.Fatalf("got %v, want a server-error RegistryError", err)
	}
	if !strings.HasPrefix(err.Error(), "registry "+host+" kept failing with 503") {
		t.Errorf("unclear error: %s", err)
	}
	// 2 blobs (layer, config), each tried at most 2×2 times (request and upload retries).
	if n := refused.Hits(); n < 2 || n > 8 {
		t.Errorf("the registry saw %d upload attempts; want retries, bounded (2..8)", n)
	}
	d1, _ := v1img.Digest()
	if got := crane(t, "digest", "--insecure", reg.Host+"/x/app:stable"); got != d1.String() {
		t.Errorf(":stable = %s after the failed push, want %s", got, d1)
	}
}

func TestRegistryPerPlatformThenMerge(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	t.Setenv("DOCKER_CONFIG", reg.DockerConfig(t))
	repo := reg.Host // a bare registry, as KO_DOCKER_REPO=localhost:5000 is used with ko
	amd, arm := testimage.Hello(t, "amd64", "m1"), testimage.Hello(t, "arm64", "m1")

	// Two runners, one platform each, no tags.
	var refs []string
	for _, img := range []v1.Image{arm, amd} {
		p := newRegistry(t, publish.RegistryOptions{Repo: repo})
		res, err := p.PushByDigest(context.Background(), publish.Artifact{Name: "hello", Image: img})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Tags) != 0 {
			t.Errorf("per-platform push applied tags %v", res.Tags)
		}
		refs = append(refs, res.Ref)
	}
	if out, err := testenv.Output(testenv.Tool(t, "crane"), "ls", "--insecure", repo+"/hello"); err == nil && strings.TrimSpace(out) != "" {
		t.Errorf("per-platform pushes created tags: %q", out)
	}

	p := newRegistry(t, publish.RegistryOptions{Repo: repo})
	imgs, err := p.ReadPlatforms(context.Background(), "hello", refs)
	if err != nil {
		t.Fatal(err)
	}
	var entries []image.IndexEntry
	for _, img := range imgs {
		entries = append(entries, image.IndexEntry{Image: img})
	}
	idx, err := image.MergeIndex(nil, entries...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Publish(context.Background(), publish.Artifact{Name: "hello", Index: idx, Tags: []string{"1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 0 || res.Skipped != 4 {
		t.Errorf("merge sent %d blobs (skipped %d); want 0 sent", res.Uploaded, res.Skipped)
	}
	if got := strings.Join(platform.Strings(res.Platforms), ","); got != "linux/amd64,linux/arm64" {
		t.Errorf("merged platforms %q", got)
	}
	if got := crane(t, "digest", "--insecure", repo+"/hello:1.0"); got != res.Digest.String() {
		t.Errorf(":1.0 = %s, want the merged index %s", got, res.Digest)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal([]byte(crane(t, "manifest", "--insecure", res.Ref)), &im); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range im.Manifests {
		got = append(got, d.Platform.String()+"="+d.Digest.String())
	}
	sort.Strings(got)
	da, _ := amd.Digest()
	dr, _ := arm.Digest()
	if w := "linux/amd64=" + da.String() + " linux/arm64=" + dr.String(); strings.Join(got, " ") != w {
		t.Errorf("merged index holds %v, want %s", got, w)
	}

	// A digest the registry does not have: one sentence naming the registry.
	missing := reg.Host + "/nothing/here@sha256:" + strings.Repeat("0", 64)
	_, err = p.ReadPlatforms(context.Background(), "hello", []string{missing})
	var re *publish.RegistryError
	if !errors.As(err, &re) || re.Problem != publish.NotFound || !strings.HasPrefix(err.Error(), "registry "+reg.Host+" does not have "+missing) {
		t.Errorf("merging a missing image: %v", err)
	}
	t.Log(err)

	// Tags are not accepted as inputs.
	if _, err := p.ReadPlatforms(context.Background(), "hello", []string{repo + "/hello:1.0"}); err == nil {
		t.Error("ReadPlatforms accepted a tag reference")
	}
}

// Upload sends an image's layer ahead of it: the registry has the blob and no tag names it, and
// the push that follows finds it there and sends only the rest.
func TestRegistryUploadAhead(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	t.Setenv("DOCKER_CONFIG", reg.DockerConfig(t))
	p := newRegistry(t, publish.RegistryOptions{Repo: reg.Host + "/x"})
	img := randomImage(t, 4096)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Upload(context.Background(), "app", ls...); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if got := tagDigest(t, reg.Host+"/x/app:latest"); got != "" {
		t.Fatalf(":latest = %s after an upload alone, want no tag", got)
	}
	res, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: img})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 1 || res.Skipped != 1 { // the config sent, the layer there already
		t.Errorf("push after Upload: %d uploaded, %d skipped; want 1, 1", res.Uploaded, res.Skipped)
	}
	if got := tagDigest(t, reg.Host+"/x/app:latest"); got != res.Digest.String() {
		t.Errorf(":latest = %s, want %s", got, res.Digest)
	}
}
