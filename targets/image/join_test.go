package image

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushedAlone builds each platform on its own, as one runner per platform does, pushes the image
// by digest to an in-process registry and reads it back from there, lazily.
func pushedAlone(t *testing.T, s func(platform string) Spec, platforms ...string) []IndexEntry {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	var out []IndexEntry
	for _, p := range platforms {
		r := build(t, s(p))
		ref, err := name.NewDigest(host + "/tiny@" + digest(t, r).String())
		must(t, err)
		must(t, remote.Write(ref, r.Image))
		img, err := remote.Image(ref)
		must(t, err)
		out = append(out, IndexEntry{Image: img})
	}
	return out
}

// Platform images built alone, read back from a registry and joined make the index one Build of
// every platform makes: its annotations on the index, none copied onto the descriptors.
func TestJoinGivesBuildsIndex(t *testing.T) {
	b := startBaseRegistry(t)
	for _, c := range []struct {
		name string
		spec func(platforms ...string) Spec
	}{
		{"static base", func(ps ...string) Spec { return spec(t, ps...) }},
		{"scratch base", func(ps ...string) Spec { s := spec(t, ps...); s.Base = BaseScratch; return s }},
		{"registry base index", func(ps ...string) Spec { return remoteSpec(t, b, b.pinned(), ps...) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			whole := build(t, c.spec("linux/amd64", "linux/arm64"))
			entries := pushedAlone(t, func(p string) Spec { return c.spec(p) }, "linux/arm64", "linux/amd64")
			joined, err := Join(context.Background(), c.spec(), entries...)
			must(t, err)
			jd, err := joined.Index.Digest()
			must(t, err)
			if jd != digest(t, whole) {
				a, _ := whole.Index.RawManifest()
				j, _ := joined.Index.RawManifest()
				t.Errorf("joined index %s, built index %s\nbuilt:  %s\njoined: %s", jd, digest(t, whole), a, j)
			}
			if joined.BaseName != whole.BaseName || joined.BaseDigest != whole.BaseDigest {
				t.Errorf("joined base %s %s, built %s %s", joined.BaseName, joined.BaseDigest, whole.BaseName, whole.BaseDigest)
			}
			for i, p := range joined.Platforms {
				w := whole.Platforms[i]
				if p.Platform != w.Platform || p.Digest != w.Digest || p.BaseDigest != w.BaseDigest {
					t.Errorf("platform %d: joined %s %s on %s, built %s %s on %s", i, p.Platform, p.Digest, p.BaseDigest, w.Platform, w.Digest, w.BaseDigest)
				}
			}
		})
	}
}

func TestJoinRefusesImagesOfOtherInputs(t *testing.T) {
	ctx := context.Background()
	// Another version on one runner: the index could name only one.
	entries := pushedAlone(t, func(p string) Spec {
		s := spec(t, p)
		if p == "linux/arm64" {
			s.Version = "v9.9.9"
		}
		return s
	}, "linux/amd64", "linux/arm64")
	if _, err := Join(ctx, baseSpec(), entries...); err == nil || !strings.Contains(err.Error(), AnnotationVersion) {
		t.Errorf("joined images of two versions: %v", err)
	}
	// Built on scratch, joined as if on the static base: the index would name a base they do not have.
	entries = pushedAlone(t, func(p string) Spec { s := spec(t, p); s.Base = BaseScratch; return s }, "linux/amd64", "linux/arm64")
	if _, err := Join(ctx, baseSpec(), entries...); err == nil || !strings.Contains(err.Error(), "was built on the base") {
		t.Errorf("joined scratch images on the static base: %v", err)
	}
	// Images that name no base (not Build's) are joined without one, and no base is resolved.
	img, err := random.Image(64, 1)
	must(t, err)
	cf, err := img.ConfigFile()
	must(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	must(t, err)
	r, err := Join(ctx, Spec{Name: "tiny", Base: "no.such.registry.invalid/base@sha256:" + strings.Repeat("0", 64)}, IndexEntry{Image: img})
	must(t, err)
	m, err := r.Index.IndexManifest()
	must(t, err)
	if len(m.Annotations) != 0 || r.BaseDigest != "" {
		t.Errorf("an index of images naming no base: annotations %v, base %q", m.Annotations, r.BaseDigest)
	}
}
