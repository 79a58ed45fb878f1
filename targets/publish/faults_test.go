package publish_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/publish"
)

// publishWithin publishes a, failing t when the push is still running after limit.
func publishWithin(t *testing.T, limit time.Duration, p *publish.RegistryPublisher, a publish.Artifact) (*publish.Result, error, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		res *publish.Result
		err error
	}
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		res, err := p.Publish(ctx, a)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err, time.Since(start)
	case <-time.After(limit):
		cancel()
		<-done
		t.Fatalf("the push was still running after %s against a registry that does not answer", limit)
		return nil, nil, 0
	}
}

// tagDigest is where tag points in the real registry behind any proxy ("" when it does not exist).
func tagDigest(t *testing.T, ref string) string {
	t.Helper()
	out, err := testenv.Output(testenv.Tool(t, "crane"), "digest", "--insecure", ref)
	if err != nil {
		if strings.Contains(out, "MANIFEST_UNKNOWN") || strings.Contains(out, "NAME_UNKNOWN") {
			return ""
		}
		t.Fatalf("crane digest %s: %v\n%s", ref, err, out)
	}
	return strings.TrimSpace(out)
}

func layerDigest(t *testing.T, img v1.Image) (v1.Hash, int64) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Layers[0].Digest, m.Layers[0].Size
}

// faultyRegistry starts a registry whose credentials DOCKER_CONFIG holds for the test, and a
// fault proxy in front of it.
func faultyRegistry(t *testing.T) (*testenv.Registry, *testenv.FaultProxy) {
	t.Helper()
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	t.Setenv("DOCKER_CONFIG", reg.DockerConfig(t))
	return reg, testenv.StartFaultProxy(t, reg)
}

// A registry that stops answering fails the push within the configured timeouts, with a
// sentence naming the registry and the request that timed out, and moves no tag.
func TestRegistryHungFailsInTimeAndMovesNoTag(t *testing.T) {
	reg, fp := faultyRegistry(t)
	repo := fp.Host + "/x"
	v1img := randomImage(t, 256)
	d1, _ := v1img.Digest()
	if _, err := newRegistry(t, publish.RegistryOptions{Repo: repo, Tags: []string{"stable"}}).Publish(context.Background(), publish.Artifact{Name: "app", Image: v1img}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name              string
		match             func(*http.Request) bool
		response, request time.Duration
		says              string
	}{
		// The observed hang: a proxy that never answers the POST opening an upload.
		{"no answer", testenv.UploadStart, time.Second, time.Minute, "registry " + fp.Host + " did not answer the blob upload within 1s"},
		// The body went out, the answer never comes, and the overall bound is the shorter.
		{"no end", testenv.UploadBody, time.Minute, 2 * time.Second, "registry " + fp.Host + " did not complete the blob upload"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := fp.Inject(&testenv.Fault{Match: c.match, Action: testenv.Hang})
			defer fp.Clear()
			p := newRegistry(t, publish.RegistryOptions{Repo: repo, Tags: []string{"stable"}, Attempts: 3, ResponseTimeout: c.response, RequestTimeout: c.request})
			_, err, took := publishWithin(t, 30*time.Second, p, publish.Artifact{Name: "app", Image: randomImage(t, 256)})
			t.Logf("after %s, %d hung requests: %v", took.Round(time.Millisecond), f.Hits(), err)
			var re *publish.RegistryError
			if !errors.As(err, &re) || re.Problem != publish.Timeout {
				t.Fatalf("got %v, want a timeout RegistryError", err)
			}
			if !strings.HasPrefix(err.Error(), c.says) || strings.Contains(err.Error(), "_state") {
				t.Errorf("error does not start %q:\n%s", c.says, err)
			}
			// A timed-out request is not retried: one bound per blob, blobs in parallel.
			if bound := min(c.response, c.request); took > 3*bound {
				t.Errorf("took %s with a %s bound: timed-out requests were retried", took, bound)
			}
			if got := tagDigest(t, reg.Host+"/x/app:stable"); got != d1.String() {
				t.Errorf(":stable = %s after the failed push, want %s", got, d1)
			}
		})
	}
}

// A connection dropped in the middle of a blob's upload is explained in a sentence naming the
// blob and how far it got, without the upload URL and its session token.
func TestRegistryDroppedUploadIsASentence(t *testing.T) {
	reg, fp := faultyRegistry(t)
	repo := fp.Host + "/x"
	v1img := randomImage(t, 256)
	d1, _ := v1img.Digest()
	p := newRegistry(t, publish.RegistryOptions{Repo: repo, Tags: []string{"stable"}, Attempts: 2})
	if _, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: v1img}); err != nil {
		t.Fatal(err)
	}
	bigUpload := func(r *http.Request) bool { return testenv.UploadBody(r) && r.ContentLength > 1<<20 }
	fp.Inject(&testenv.Fault{Match: bigUpload, Action: testenv.Drop, After: 64 << 10})

	big := randomImage(t, 4<<20)
	ld, size := layerDigest(t, big)
	_, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: big})
	t.Log(err)
	var re *publish.RegistryError
	if !errors.As(err, &re) || re.Problem != publish.ConnectionDropped {
		t.Fatalf("got %v, want a connection-dropped RegistryError", err)
	}
	msg := err.Error()
	if want := "the connection to registry " + fp.Host + " dropped while uploading blob " + ld.String() + " ("; !strings.HasPrefix(msg, want) {
		t.Errorf("error does not start %q:\n%s", want, msg)
	}
	if want := fmt.Sprintf(" of %d bytes", size); !strings.Contains(msg, want) {
		t.Errorf("error does not say how far the upload got (%q):\n%s", want, msg)
	}
	for _, leak := range []string{"_state", "http://", "Patch ", "/blobs/uploads/"} {
		if strings.Contains(msg, leak) {
			t.Errorf("error shows %q:\n%s", leak, msg)
		}
	}
	// The underlying error keeps the method and the registry's address for a debugger, but
	// not the upload's state token.
	if under := fmt.Sprintf("%+v", re.Err); strings.Contains(under, "_state") || strings.Contains(under, "?") {
		t.Errorf("the underlying error shows the upload URL's query: %s", under)
	}
	if got := tagDigest(t, reg.Host+"/x/app:stable"); got != d1.String() {
		t.Errorf(":stable = %s after the failed push, want %s", got, d1)
	}
}
