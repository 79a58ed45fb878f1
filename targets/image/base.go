package image

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/scratchkit/scratchkit/internal/regtransport"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// Names of the built-in bases.
const (
	BaseStatic  = "static"
	BaseScratch = "scratch"
)

// BasePinned is the base pinning rule: base (as Spec.Base takes it) names the same image on every
// build when it is a built-in base (static, also when empty, or scratch), which is part of
// scratchkit and versioned with it, or a registry reference pinned by digest (repo@sha256:…).
// A tag, or anything that is not a reference, is not pinned. Build refuses an unpinned base
// unless Spec.AllowUnpinned, and then warns; configuration validation and the smoke check of
// targets/run apply this same rule.
func BasePinned(base string) bool {
	switch base {
	case "", BaseStatic, BaseScratch:
		return true
	}
	ref, err := name.ParseReference(base)
	if err != nil {
		return false
	}
	_, digest := ref.(name.Digest)
	return digest
}

// resolvedBase is the base chosen for each platform of a build.
type resolvedBase struct {
	name       string     // "static", "scratch" or the reference as written
	annotation string     // value of org.opencontainers.image.base.name; empty for built-in bases
	images     []v1.Image // per platform, in the order of plan.platforms
	digests    []v1.Hash  // digest of each platform's base manifest
	index      v1.Hash    // digest of the base index when the registry base is one
	ref        name.Reference
}

// indexDigest is the digest of the base of every platform, which an index's
// org.opencontainers.image.base.digest names: of the base index for a registry base that is one,
// else of an index of the base images (built-in bases), as reproducible as they are.
func (rb *resolvedBase) indexDigest(platforms []*v1.Platform) (v1.Hash, error) {
	if rb.index != (v1.Hash{}) {
		return rb.index, nil
	}
	entries := make([]IndexEntry, len(rb.images))
	for i, img := range rb.images {
		entries[i] = IndexEntry{Platform: platform.FromOCI(platforms[i]), Image: img}
	}
	idx, err := MergeIndex(nil, entries...)
	if err != nil {
		return v1.Hash{}, err
	}
	return idx.Digest()
}

// resolveBase finds the base image of every platform.
func resolveBase(ctx context.Context, p *plan) (*resolvedBase, error) {
	switch p.spec.Base {
	case "", BaseStatic:
		c, err := loadStatic(ctx, p.spec.GoRoot)
		if err != nil {
			return nil, err
		}
		return builtinBase(BaseStatic, p, func(pl v1.Platform) (v1.Image, error) { return c.image(p.layers, pl) })
	case BaseScratch:
		return builtinBase(BaseScratch, p, ScratchBase)
	default:
		if !BasePinned(p.spec.Base) || p.spec.Bases == nil {
			return remoteBase(ctx, p)
		}
		key := p.spec.Base
		for _, pl := range p.platforms {
			key += " " + pl.String()
		}
		// What the cache keeps outlives this Build: its lazy reads must not end with ctx.
		return p.spec.Bases.get(key, func() (*resolvedBase, error) { return remoteBase(context.WithoutCancel(ctx), p) })
	}
}

// BaseCache keeps the registry bases pinned by digest that Builds of one process resolved (the
// manifests and configs read, the platform images chosen), so that the next Build with the same
// base and platforms asks the registry nothing: a pinned base cannot change. A base given by tag
// is resolved again every time. The zero value is ready; nil caches nothing.
type BaseCache struct {
	mu sync.Mutex
	m  map[string]*resolvedBase
}

func (c *BaseCache) get(key string, resolve func() (*resolvedBase, error)) (*resolvedBase, error) {
	c.mu.Lock()
	rb := c.m[key]
	c.mu.Unlock()
	if rb != nil {
		return rb, nil
	}
	rb, err := resolve()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*resolvedBase{}
	}
	c.m[key] = rb
	return rb, nil
}

func builtinBase(baseName string, p *plan, make func(v1.Platform) (v1.Image, error)) (*resolvedBase, error) {
	rb := &resolvedBase{name: baseName}
	for _, pl := range p.platforms {
		img, err := make(*pl)
		if err != nil {
			return nil, fmt.Errorf("%s base for %s: %w", baseName, pl, err)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, fmt.Errorf("%s base for %s: %w", baseName, pl, err)
		}
		rb.images = append(rb.images, img)
		rb.digests = append(rb.digests, d)
	}
	return rb, nil
}

// remoteBase pulls a registry base with the user's keychain and picks each platform's image.
func remoteBase(ctx context.Context, p *plan) (*resolvedBase, error) {
	ref, err := name.ParseReference(p.spec.Base, regtransport.NameOptions(p.spec.Insecure)...)
	if err != nil {
		return nil, fmt.Errorf("image.base %q: not %q, %q nor a registry reference: %w", p.spec.Base, BaseStatic, BaseScratch, err)
	}
	kc := p.spec.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent("scratchkit"),
		remote.WithTransport(regtransport.New(nil, p.spec.Insecure, regtransport.WithTimeouts(regtransport.Timeouts{Response: p.spec.ResponseTimeout, Request: p.spec.RequestTimeout}))),
	}
	pinned := BasePinned(p.spec.Base)
	if !pinned {
		if !p.spec.AllowUnpinned {
			hint := fmt.Sprintf("pin it as %s@sha256:<digest> (`crane digest %s` prints it)", ref.Context().Name(), ref)
			if d, err := remote.Head(ref, ropts...); err == nil {
				hint = fmt.Sprintf("pin it as %s@%s, the digest it has now", ref.Context().Name(), d.Digest)
			}
			return nil, fmt.Errorf("image.base %s is not pinned by digest, so builds would change when the tag moves: %s, or set image.allow_unpinned: true", ref, hint)
		}
	}
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, fmt.Errorf("pull base %s: %w", ref, err)
	}
	if !pinned {
		p.warn(fmt.Sprintf("image.base %s is not pinned by digest (image.allow_unpinned: true); it is %s@%s today, and builds change when the tag moves",
			ref, ref.Context().Name(), desc.Digest))
	}
	rb := &resolvedBase{name: p.spec.Base, annotation: ref.Name(), ref: ref}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("pull base %s: %w", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("pull base %s: %w", ref, err)
		}
		rb.index = desc.Digest
		for _, pl := range p.platforms {
			child, ok := selectPlatform(im.Manifests, *pl)
			if !ok {
				return nil, fmt.Errorf("base %s has no %s image; it has %s. Build only for those platforms or choose a base that has %s",
					ref, pl, strings.Join(indexPlatforms(im.Manifests), ", "), pl)
			}
			img, err := idx.Image(child.Digest)
			if err != nil {
				return nil, fmt.Errorf("pull base %s for %s: %w", ref, pl, err)
			}
			if img, err = rebaseOCI(img); err != nil {
				return nil, fmt.Errorf("base %s for %s: %w", ref, pl, err)
			}
			rb.images = append(rb.images, img)
			rb.digests = append(rb.digests, child.Digest)
		}
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("pull base %s: %w", ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("pull base %s: %w", ref, err)
		}
		have := configPlatform(cf, func(missing string, as v1.Platform) {
			p.warn(fmt.Sprintf("base %s: its config names no %s (an image made by crane append on scratch?); taking it as %s, as ko does", ref, missing, as))
		})
		for _, pl := range p.platforms {
			if !platformMatches(have, *pl) {
				return nil, fmt.Errorf("base %s has no %s image; it is a single image for %s. Build only for %s or choose a multi-platform base",
					ref, pl, have.String(), have.String())
			}
		}
		if img, err = rebaseOCI(img); err != nil {
			return nil, fmt.Errorf("base %s: %w", ref, err)
		}
		for range p.platforms {
			rb.images = append(rb.images, img)
			rb.digests = append(rb.digests, desc.Digest)
		}
	default:
		return nil, fmt.Errorf("base %s is a %s, not an image or an image index", ref, desc.MediaType)
	}
	return rb, nil
}

// configPlatform is the platform an image config names. A config without os or architecture
// (crane append on scratch writes one) is taken as linux/amd64, as ko takes it, and reported
// through missing, so that no message names an empty platform.
func configPlatform(cf *v1.ConfigFile, missing func(what string, as v1.Platform)) v1.Platform {
	have := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	var lacks []string
	if have.OS == "" {
		have.OS = "linux"
		lacks = append(lacks, "os")
	}
	if have.Architecture == "" {
		have.Architecture, have.Variant = "amd64", ""
		lacks = append(lacks, "architecture")
	}
	if len(lacks) > 0 {
		missing(strings.Join(lacks, "/"), have)
	}
	return have
}

// normVariant is variant, or arch's default when none is written (platform.DefaultVariant).
func normVariant(arch, variant string) string {
	return cmp.Or(variant, platform.DefaultVariant(arch))
}

// platformMatches reports whether a base image for have serves a binary built for want.
// Variants compare after defaulting (linux/arm64 is linux/arm64/v8); an amd64 or arm64 base at
// its architecture's first level (v1, v8) serves every level of it, since what code the base
// holds runs on them all. arm's variants differ in float ABI and do not mix.
func platformMatches(have, want v1.Platform) bool {
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return false
	}
	hv, wv := normVariant(have.Architecture, have.Variant), normVariant(want.Architecture, want.Variant)
	levelled := want.Architecture == "amd64" || want.Architecture == "arm64"
	return hv == wv || (levelled && hv == platform.DefaultVariant(want.Architecture))
}

// selectPlatform picks want's image from an index: an exact variant first, then a compatible one.
func selectPlatform(manifests []v1.Descriptor, want v1.Platform) (v1.Descriptor, bool) {
	var fallback *v1.Descriptor
	for i, d := range manifests {
		if d.Platform == nil || !d.MediaType.IsImage() {
			continue
		}
		if d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture &&
			normVariant(want.Architecture, d.Platform.Variant) == normVariant(want.Architecture, want.Variant) {
			return d, true
		}
		if fallback == nil && platformMatches(*d.Platform, want) {
			fallback = &manifests[i]
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return v1.Descriptor{}, false
}

// indexPlatforms lists the platforms of an index's images, leaving out attestation manifests.
func indexPlatforms(manifests []v1.Descriptor) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range manifests {
		if d.Platform == nil || d.Platform.OS == "" || d.Platform.Architecture == "" || d.Platform.OS == "unknown" || !d.MediaType.IsImage() {
			continue
		}
		s := d.Platform.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return []string{"no platform images"}
	}
	return out
}

// rebaseOCI rebuilds a registry base with OCI media types (manifest, config, layers) and without
// the base's own manifest annotations, which describe the base rather than our image. Layer blobs
// are unchanged and keep their source repository, so publishing can still mount them.
func rebaseOCI(img v1.Image) (v1.Image, error) {
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	if mt != types.OCIManifestSchema1 && mt != types.DockerManifestSchema2 {
		return nil, fmt.Errorf("unsupported manifest media type %s", mt)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		ol, err := ociLayerOf(l)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: ol})
	}
	out, err := mutate.Append(emptyOCI(), adds...)
	if err != nil {
		return nil, err
	}
	// The base's own config keeps its history and diff IDs, which the layers above match.
	return mutate.ConfigFile(out, cf.DeepCopy())
}

// ociMediaTypes maps Docker layer media types to their OCI equivalents.
var ociMediaTypes = map[types.MediaType]types.MediaType{
	types.DockerLayer:             types.OCILayer,
	types.DockerForeignLayer:      types.OCIRestrictedLayer,
	types.DockerUncompressedLayer: types.OCIUncompressedLayer,
}

// ociLayer is a layer whose media type reads as its OCI equivalent; the blob is the same.
type ociLayer struct {
	v1.Layer
	mediaType types.MediaType
}

func (l ociLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

func ociLayerOf(l v1.Layer) (v1.Layer, error) {
	mt, err := l.MediaType()
	if err != nil {
		return nil, err
	}
	oci, ok := ociMediaTypes[mt]
	if !ok {
		return l, nil
	}
	if ml, ok := l.(*remote.MountableLayer); ok {
		return &remote.MountableLayer{Layer: ociLayer{Layer: ml.Layer, mediaType: oci}, Reference: ml.Reference}, nil
	}
	return ociLayer{Layer: l, mediaType: oci}, nil
}
