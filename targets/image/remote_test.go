package image

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// userKeychain answers every registry with one user's credentials, like a docker config would.
type userKeychain struct{ user, pass string }

func (k userKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.pass}), nil
}

// baseRegistry is an in-process registry requiring basic auth, holding a two-platform base:
// linux/amd64 with OCI media types and linux/arm64/v8 with Docker media types, each with a
// marker file and a source annotation of its own.
type baseRegistry struct {
	host       string
	index      name.Tag
	indexSum   v1.Hash
	childSums  map[string]v1.Hash // by platform
	single     name.Digest        // a single-manifest (not index) linux/amd64 base
	keychain   authn.Keychain
	ropts      []remote.Option
	dockerBlob v1.Hash // a layer pushed with a Docker media type
}

func startBaseRegistry(t *testing.T) *baseRegistry {
	t.Helper()
	const user, pass = "ci", "s3cret"
	reg := registry.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b := &baseRegistry{
		host:      strings.TrimPrefix(srv.URL, "http://"),
		childSums: map[string]v1.Hash{},
		keychain:  userKeychain{user, pass},
	}
	b.ropts = []remote.Option{remote.WithAuthFromKeychain(b.keychain)}

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, c := range []struct {
		platform string
		docker   bool
	}{{"linux/amd64", false}, {"linux/arm64/v8", true}} {
		pl, err := v1.ParsePlatform(c.platform)
		must(t, err)
		img := staticImage(t, c.platform)
		tb, err := writeTar([]entry{fileEntry("/etc/base-marker", 0o644, []byte(c.platform+"\n"))}, baseEpoch)
		must(t, err)
		layerType := types.OCILayer
		if c.docker {
			layerType = types.DockerLayer
		}
		l, err := tarball.LayerFromOpener(opener(tb), tarball.WithMediaType(layerType))
		must(t, err)
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: layerType})
		must(t, err)
		if c.docker {
			img = mutate.MediaType(img, types.DockerManifestSchema2)
			img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
			b.dockerBlob, err = l.Digest()
			must(t, err)
		}
		img = mutate.Annotations(img, map[string]string{AnnotationSource: "https://base.example"}).(v1.Image)
		d, err := img.Digest()
		must(t, err)
		b.childSums[pl.String()] = d
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: pl}})
		if !c.docker {
			ref, err := name.NewDigest(b.host + "/single@" + d.String())
			must(t, err)
			must(t, remote.Write(ref, img, b.ropts...))
			b.single = ref
		}
	}
	var err error
	b.index, err = name.NewTag(b.host + "/base:latest")
	must(t, err)
	must(t, remote.WriteIndex(b.index, idx, b.ropts...))
	b.indexSum, err = idx.Digest()
	must(t, err)
	return b
}

func opener(b []byte) tarball.Opener {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

func (b *baseRegistry) pinned() string {
	return b.index.Context().Name() + "@" + b.indexSum.String()
}

func remoteSpec(t *testing.T, b *baseRegistry, base string, platforms ...string) Spec {
	s := spec(t, platforms...)
	s.Base = base
	s.Keychain = b.keychain
	return s
}

func TestRemoteBasePinned(t *testing.T) {
	b := startBaseRegistry(t)
	// The arm64 base really is Docker-typed in the registry.
	armRef, err := name.NewDigest(b.index.Context().Name() + "@" + b.childSums["linux/arm64/v8"].String())
	must(t, err)
	armDesc, err := remote.Get(armRef, b.ropts...)
	must(t, err)
	if armDesc.MediaType != types.DockerManifestSchema2 || !strings.Contains(string(armDesc.Manifest), string(types.DockerLayer)) {
		t.Fatalf("test base arm64 manifest is %s:\n%s", armDesc.MediaType, armDesc.Manifest)
	}

	r := build(t, remoteSpec(t, b, b.pinned(), "linux/amd64", "linux/arm64"))
	if r.Index == nil {
		t.Fatal("two platforms on a registry base gave no index")
	}
	if r.BaseName != b.pinned() || r.BaseDigest != b.indexSum.String() {
		t.Errorf("base %s %s, want %s %s", r.BaseName, r.BaseDigest, b.pinned(), b.indexSum)
	}
	im, err := r.Index.IndexManifest()
	must(t, err)
	if im.Annotations[AnnotationBaseName] != b.pinned() || im.Annotations[AnnotationBaseDigest] != b.indexSum.String() {
		t.Errorf("index annotations %v", im.Annotations)
	}
	for _, p := range r.Platforms {
		baseKey := p.Platform.String()
		if baseKey == "linux/arm64" {
			baseKey = "linux/arm64/v8" // the base's variant; the binary's platform has none
		}
		if p.BaseDigest != b.childSums[baseKey].String() {
			t.Errorf("%s: base digest %s, want the base's %s image %s", p.Platform, p.BaseDigest, baseKey, b.childSums[baseKey])
		}
		m, err := p.Image.Manifest()
		must(t, err)
		if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s: media types %s / %s", p.Platform, m.MediaType, m.Config.MediaType)
		}
		for _, l := range m.Layers {
			if l.MediaType != types.OCILayer {
				t.Errorf("%s: layer %s has media type %s (base converted to OCI?)", p.Platform, l.Digest, l.MediaType)
			}
		}
		if m.Annotations[AnnotationBaseDigest] != p.BaseDigest || m.Annotations[AnnotationBaseName] != b.pinned() {
			t.Errorf("%s: annotations %v", p.Platform, m.Annotations)
		}
		if m.Annotations[AnnotationSource] != "https://example.com/tiny" {
			t.Errorf("%s: source %q: the base's own annotation leaked", p.Platform, m.Annotations[AnnotationSource])
		}
		files := imageFiles(t, p.Image)
		if got := string(files["/etc/base-marker"].data); got != baseKey+"\n" {
			t.Errorf("%s: base marker %q, want the %s base", p.Platform, got, baseKey)
		}
		if _, ok := files["/ko-app/tiny"]; !ok {
			t.Errorf("%s: no binary", p.Platform)
		}
	}
	// The Docker-typed layer is the same blob, now described as OCI.
	arm := r.Platforms[1].Image
	if _, err := arm.LayerByDigest(b.dockerBlob); err != nil {
		t.Errorf("the arm64 image lost the base blob %s: %v", b.dockerBlob, err)
	}

	// It publishes: pushing the index to another repository of the registry mounts or copies
	// the base blobs and reads back with the same digest.
	dst, err := name.NewTag(b.host + "/app:test")
	must(t, err)
	must(t, remote.WriteIndex(dst, r.Index, b.ropts...))
	desc, err := remote.Head(dst, b.ropts...)
	must(t, err)
	if desc.Digest != digest(t, r) {
		t.Errorf("pushed index %s, built %s", desc.Digest, digest(t, r))
	}
	pulled, err := remote.Image(dst, append(b.ropts, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64"}))...)
	must(t, err)
	if got := string(imageFiles(t, pulled)["/etc/base-marker"].data); got != "linux/arm64/v8\n" {
		t.Errorf("pulled arm64 image has marker %q", got)
	}
}

func TestRemoteBaseOnePlatformOfAnIndex(t *testing.T) {
	b := startBaseRegistry(t)
	r := build(t, remoteSpec(t, b, b.pinned(), "linux/amd64"))
	if r.Image == nil || r.BaseDigest != b.childSums["linux/amd64"].String() {
		t.Fatalf("image %v, base digest %s, want the amd64 image %s of the base", r.Image, r.BaseDigest, b.childSums["linux/amd64"])
	}
}

func TestRemoteBaseSingleManifest(t *testing.T) {
	b := startBaseRegistry(t)
	r := build(t, remoteSpec(t, b, b.single.String(), "linux/amd64"))
	if r.BaseDigest != b.single.DigestStr() {
		t.Errorf("base digest %s, want %s", r.BaseDigest, b.single.DigestStr())
	}
	_, err := Build(context.Background(), remoteSpec(t, b, b.single.String(), "linux/amd64", "linux/arm64"))
	if err == nil || !strings.Contains(err.Error(), "single image for linux/amd64") {
		t.Errorf("arm64 on an amd64-only base: %v", err)
	}
}

func TestRemoteBaseUnpinned(t *testing.T) {
	b := startBaseRegistry(t)
	s := remoteSpec(t, b, b.index.String(), "linux/amd64")
	_, err := Build(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "not pinned by digest") || !strings.Contains(err.Error(), b.indexSum.String()) {
		t.Fatalf("unpinned base: %v, want an error that says so and gives the digest to pin", err)
	}
	var warnings []string
	s.AllowUnpinned = true
	s.Warn = func(m string) { warnings = append(warnings, m) }
	r := build(t, s)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "not pinned") || !strings.Contains(warnings[0], b.indexSum.String()) {
		t.Errorf("warnings %v", warnings)
	}
	m, err := r.Image.Manifest()
	must(t, err)
	if m.Annotations[AnnotationBaseName] != b.index.Name() || m.Annotations[AnnotationBaseDigest] != b.childSums["linux/amd64"].String() {
		t.Errorf("annotations %v", m.Annotations)
	}
}

func TestRemoteBaseMissingPlatform(t *testing.T) {
	b := startBaseRegistry(t)
	_, err := Build(context.Background(), remoteSpec(t, b, b.pinned(), "linux/amd64", "linux/arm/v7"))
	if err == nil || !strings.Contains(err.Error(), "no linux/arm/v7 image") || !strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8") {
		t.Fatalf("a platform the base lacks: %v, want an error listing linux/amd64, linux/arm64/v8", err)
	}
}

func TestRemoteBaseNeedsCredentials(t *testing.T) {
	b := startBaseRegistry(t)
	s := remoteSpec(t, b, b.pinned(), "linux/amd64")
	s.Keychain = userKeychain{"ci", "wrong"}
	if _, err := Build(context.Background(), s); err == nil || !strings.Contains(err.Error(), "pull base") {
		t.Fatalf("wrong credentials: %v", err)
	}
}

func TestPlatformMatching(t *testing.T) {
	p := func(s string) v1.Platform { pl, _ := v1.ParsePlatform(s); return *pl }
	for _, c := range []struct {
		have, want string
		ok         bool
	}{
		{"linux/arm64/v8", "linux/arm64", true},
		{"linux/arm64", "linux/arm64/v8", true},
		{"linux/arm/v7", "linux/arm", true},
		{"linux/arm/v6", "linux/arm/v7", false},
		{"linux/amd64", "linux/amd64/v3", true},
		{"linux/amd64/v3", "linux/amd64", false},
		{"linux/amd64", "linux/arm64", false},
		{"linux/arm64", "linux/arm64/v9", true},
		{"linux/arm64/v9", "linux/arm64", false},
	} {
		if got := platformMatches(p(c.have), p(c.want)); got != c.ok {
			t.Errorf("base %s for binary %s: %v, want %v", c.have, c.want, got, c.ok)
		}
	}
}

// A BaseCache answers a second Build with the same pinned base from what the first one read: it
// asks the registry nothing (wrong credentials now, and it still builds the same image). A base
// given by tag is read again.
func TestBaseCacheKeepsPinnedBases(t *testing.T) {
	b := startBaseRegistry(t)
	cache := &BaseCache{}
	s := remoteSpec(t, b, b.pinned(), "linux/amd64", "linux/arm64")
	s.Bases = cache
	first := build(t, s)
	s.Keychain = userKeychain{"ci", "wrong"}
	second := build(t, s)
	if digest(t, first) != digest(t, second) {
		t.Errorf("the cached base built %s, the registry's %s", digest(t, second), digest(t, first))
	}

	tagged := remoteSpec(t, b, b.index.String(), "linux/amd64")
	tagged.AllowUnpinned, tagged.Bases = true, cache
	build(t, tagged)
	tagged.Keychain = userKeychain{"ci", "wrong"}
	if _, err := Build(context.Background(), tagged); err == nil {
		t.Error("a base given by tag came from the cache, not the registry")
	}
}
