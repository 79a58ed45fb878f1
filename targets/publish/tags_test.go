package publish_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/publish"
)

// Tags move together: when one tag cannot be pushed (a failure after the registry took the write
// of the tag's own manifest, so on the move itself), the tags already moved go back to where
// they were, and the error says where every tag points.
func TestRegistryTagsMoveTogether(t *testing.T) {
	reg, fp := faultyRegistry(t)
	repo := fp.Host + "/x"
	p := newRegistry(t, publish.RegistryOptions{Repo: repo, Attempts: 2})
	old := randomImage(t, 256)
	dOld, _ := old.Digest()
	if _, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: old, Tags: []string{"latest", "v2"}}); err != nil {
		t.Fatal(err)
	}
	at := func(t *testing.T, tag string) string { return tagDigest(t, reg.Host+"/x/app:"+tag) }

	t.Run("existing tags roll back", func(t *testing.T) {
		fp.Inject(&testenv.Fault{Match: testenv.AfterFirst(testenv.ManifestPut("v2")), Action: testenv.Status, Status: http.StatusInternalServerError})
		defer fp.Clear()
		img := randomImage(t, 256)
		_, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: img, Tags: []string{"latest", "v2"}})
		t.Log(err)
		var te *publish.TagError
		if !errors.As(err, &te) {
			t.Fatalf("got %v, want a TagError", err)
		}
		if got := at(t, "latest"); got != dOld.String() {
			t.Errorf(":latest = %s after the failed tagging, want it back at %s", got, dOld)
		}
		msg := err.Error()
		for _, want := range []string{"tag v2 failed", "latest: back at " + dOld.String(), "v2: still at " + dOld.String()} {
			if !strings.Contains(msg, want) {
				t.Errorf("error lacks %q:\n%s", want, msg)
			}
		}
	})

	t.Run("new tags go last", func(t *testing.T) {
		fp.Inject(&testenv.Fault{Match: testenv.AfterFirst(testenv.ManifestPut("latest")), Action: testenv.Status, Status: http.StatusInternalServerError})
		defer fp.Clear()
		img := randomImage(t, 256)
		_, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: img, Tags: []string{"edge", "latest"}})
		t.Log(err)
		if err == nil {
			t.Fatal("tagging succeeded through a registry failing the PUT of :latest")
		}
		if got := at(t, "edge"); got != "" {
			t.Errorf(":edge, a new tag, was created (%s) although :latest could not be moved", got)
		}
		if got := at(t, "latest"); got != dOld.String() {
			t.Errorf(":latest = %s, want %s", got, dOld)
		}
		if !strings.Contains(err.Error(), "edge: not created") {
			t.Errorf("error does not say :edge was not created:\n%s", err)
		}
	})

	t.Run("a new tag cannot be taken back", func(t *testing.T) {
		fp.Inject(&testenv.Fault{Match: testenv.ManifestPut("n2"), Action: testenv.Status, Status: http.StatusInternalServerError})
		defer fp.Clear()
		img := randomImage(t, 256)
		dNew, _ := img.Digest()
		_, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: img, Tags: []string{"n1", "n2"}})
		t.Log(err)
		if err == nil {
			t.Fatal("tagging succeeded through a registry failing the PUT of :n2")
		}
		if got := at(t, "n1"); got != dNew.String() {
			t.Errorf(":n1 = %q; the test expects the registry to keep it (%s)", got, dNew)
		}
		if want := "n1: new, now at " + dNew.String(); !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	})

	t.Run("an unreadable tag moves nothing", func(t *testing.T) {
		headV2 := func(r *http.Request) bool {
			return r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/manifests/v2")
		}
		fp.Inject(&testenv.Fault{Match: headV2, Action: testenv.Status, Status: http.StatusInternalServerError})
		defer fp.Clear()
		img := randomImage(t, 256)
		_, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: img, Tags: []string{"latest", "v2"}})
		t.Log(err)
		var te *publish.TagError
		if !errors.As(err, &te) || !te.Reading || !strings.Contains(err.Error(), "could not read where tag v2 points, so no tag was moved") {
			t.Fatalf("got %v, want a TagError saying v2 could not be read", err)
		}
		if got := at(t, "latest"); got != dOld.String() {
			t.Errorf(":latest = %s, want %s", got, dOld)
		}
	})
}

// A registry (or a proxy before it) whose error message holds credentials, a URL's userinfo or
// a signed query, has them cut before the message reaches the error.
func TestRegistryMessageIsRedacted(t *testing.T) {
	_, fp := faultyRegistry(t)
	p := newRegistry(t, publish.RegistryOptions{Repo: fp.Host + "/x", Attempts: 1})
	fp.Inject(&testenv.Fault{Match: testenv.ManifestPut("v1"), Action: testenv.Status, Status: http.StatusBadRequest,
		Message: "mirror https://bob:hunter2@mirror.corp/v2/x?X-Amz-Signature=sekrit refused; retry with X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=sekrit2 via proxy carol:pa55@proxy.corp:3128"})
	defer fp.Clear()
	_, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: randomImage(t, 256), Tags: []string{"v1"}})
	if err == nil {
		t.Fatal("the push succeeded through a refusing registry")
	}
	msg := err.Error()
	for _, secret := range []string{"hunter2", "sekrit", "AKIAEXAMPLE", "pa55", "bob:", "carol:"} {
		if strings.Contains(msg, secret) {
			t.Errorf("the error holds %q:\n%s", secret, msg)
		}
	}
	if !strings.Contains(msg, "https://mirror.corp/v2/x") || !strings.Contains(msg, "proxy.corp:3128") {
		t.Errorf("the error lost what is not secret:\n%s", msg)
	}
}

// Tags the registry refuses to move are found before any tag moves: an existing tag whose write
// the registry refuses fails the tagging with every tag where it was, and the registry never
// saw another tag at the new digest, not even for a moment.
func TestRegistryRefusedTagMovesNoTag(t *testing.T) {
	reg, fp := faultyRegistry(t)
	p := newRegistry(t, publish.RegistryOptions{Repo: fp.Host + "/x", Attempts: 1})
	old := randomImage(t, 256)
	dOld, _ := old.Digest()
	if _, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: old, Tags: []string{"first", "second"}}); err != nil {
		t.Fatal(err)
	}
	seen := fp.Inject(&testenv.Fault{Match: testenv.ManifestPut("first"), Action: testenv.Observe})
	fp.Inject(&testenv.Fault{Match: testenv.ManifestPut("second"), Action: testenv.Status, Status: http.StatusForbidden, Message: "tag second is immutable"})
	defer fp.Clear()
	img := randomImage(t, 256)
	dNew, _ := img.Digest()
	_, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: img, Tags: []string{"first", "second"}})
	var te *publish.TagError
	if !errors.As(err, &te) || !te.Probing || te.Failed != "second" || !strings.Contains(err.Error(), "refuses writes to tag second") || !strings.Contains(err.Error(), "no tag was moved") {
		t.Fatalf("got %v, want a TagError naming second, before any move", err)
	}
	for _, b := range seen.Bodies() {
		if b == dNew.String() {
			t.Errorf(":first was PUT at the new digest %s (then put back?): a refused tag must be found before any moves", dNew)
		}
	}
	for _, tag := range []string{"first", "second"} {
		if got := tagDigest(t, reg.Host+"/x/app:"+tag); got != dOld.String() {
			t.Errorf(":%s = %s, want it still at %s", tag, got, dOld)
		}
	}
}

// One tag moves alone: it is not probed first (a write of what it holds) and, refused, it stays
// where it was, which the error says.
func TestRegistryRefusedSingleTagStays(t *testing.T) {
	reg, fp := faultyRegistry(t)
	p := newRegistry(t, publish.RegistryOptions{Repo: fp.Host + "/x", Attempts: 1})
	old := randomImage(t, 256)
	dOld, _ := old.Digest()
	if _, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: old}); err != nil {
		t.Fatal(err)
	}
	fp.Inject(&testenv.Fault{Match: testenv.ManifestPut("latest"), Action: testenv.Status, Status: http.StatusForbidden, Message: "tag latest is immutable"})
	defer fp.Clear()
	_, err := p.Publish(context.Background(), publish.Artifact{Name: "app", Image: randomImage(t, 256)})
	var te *publish.TagError
	if !errors.As(err, &te) || te.Probing || te.Failed != "latest" || !strings.Contains(err.Error(), "latest: still at "+dOld.String()) {
		t.Fatalf("got %v, want a TagError saying latest failed to move and is still at %s", err, dOld)
	}
	if got := tagDigest(t, reg.Host+"/x/app:latest"); got != dOld.String() {
		t.Errorf(":latest = %s, want it still at %s", got, dOld)
	}
}
