package image

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// IndexEntry is one platform's image for MergeIndex and Join.
type IndexEntry struct {
	// Platform is the platform of Image; the zero value takes it from the image's config.
	Platform platform.Platform
	// Image is the platform's image. For images that other runners already published, read it
	// lazily with remote.Image(repo@digest): only its manifest and config are fetched, and pushing
	// the index then finds the image in the registry and uploads nothing else.
	Image v1.Image
}

// MergeIndex assembles an OCI image index from per-platform images, e.g. images built and
// published on one runner per platform. Entries are ordered by platform, so the index does not
// depend on the order runners finish in: merging the platform images of a Build with the
// annotations of its index gives the index Build made.
//
// annotations go on the index manifest. Each entry's descriptor is made from its image's manifest
// alone (media type, size, digest, the platform, and the artifact type go-containerregistry
// derives from the config's media type), never taken from wherever the image was read: a
// registry's descriptor of an image carries the manifest's annotations, so the same image read
// back from a registry would otherwise give another index.
func MergeIndex(annotations map[string]string, entries ...IndexEntry) (v1.ImageIndex, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("merge index: no image")
	}
	type add struct {
		platform *v1.Platform
		adds     mutate.IndexAddendum
	}
	var adds []add
	seen := map[string]bool{}
	for i, e := range entries {
		pl, mt, err := entryPlatform(i, e)
		if err != nil {
			return nil, err
		}
		key := pl.String()
		if seen[key] {
			return nil, fmt.Errorf("merge index: two images for %s", key)
		}
		seen[key] = true
		adds = append(adds, add{platform: pl, adds: mutate.IndexAddendum{
			Add:        manifestOnly{e.Image},
			Descriptor: v1.Descriptor{MediaType: mt, Platform: pl},
		}})
	}
	sort.Slice(adds, func(a, b int) bool { return adds[a].platform.String() < adds[b].platform.String() })
	ia := make([]mutate.IndexAddendum, len(adds))
	for i, a := range adds {
		ia[i] = a.adds
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	if len(annotations) > 0 {
		idx = mutate.Annotations(idx, annotations).(v1.ImageIndex)
	}
	return mutate.AppendManifests(idx, ia...), nil
}

// manifestOnly is an image without the ways go-containerregistry has to describe it other than
// by its manifest (a Descriptor or ArtifactType method, as a remote image has), so that its
// descriptor in an index does not depend on where it was read.
type manifestOnly struct{ v1.Image }

// Join assembles, from platform images that Build made in separate runs (one platform each, e.g.
// on one runner per platform, pushed by digest), the index Build makes when one run builds them
// all: the same index, digest for digest, when the runs had the same inputs. Its annotations are
// the ones the platform manifests carry, which must agree, and
// org.opencontainers.image.base.digest names the base of all the platforms, as Build's does.
//
// spec says where the base comes from, as for Build: Base, AllowUnpinned, Insecure, the timeouts,
// Keychain, GoRoot, CacheDir and Warn are used, Name names the result, and the rest is ignored.
// Join resolves the base for the images' platforms and checks that each image names that
// platform's base; a built-in base is made again, so the static base needs the scratchkit and Go
// versions the images were built with. Images that name no base (not made by Build) are joined
// without base annotations, and the base is not resolved.
//
// The Result has Index, Name, BaseName, BaseDigest and, per platform, Platform, Image, Digest and
// BaseDigest; binary digests and SBOMs are the runs' own.
func Join(ctx context.Context, spec Spec, entries ...IndexEntry) (*Result, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("join %s: no image", spec.Name)
	}
	p := &plan{spec: spec}
	p.layers = newLayers(spec.CacheDir, p.warn, spec.Compression)
	r := &Result{Name: spec.Name}
	entries = slices.Clone(entries)
	based := 0
	for i := range entries {
		pl, _, err := entryPlatform(i, entries[i])
		if err != nil {
			return nil, fmt.Errorf("join %s: %w", spec.Name, err)
		}
		entries[i].Platform = platform.FromOCI(pl)
		m, err := entries[i].Image.Manifest()
		if err != nil {
			return nil, fmt.Errorf("join %s: %s: %w", spec.Name, pl, err)
		}
		d, err := entries[i].Image.Digest()
		if err != nil {
			return nil, fmt.Errorf("join %s: %s: %w", spec.Name, pl, err)
		}
		bd, ok := m.Annotations[AnnotationBaseDigest]
		if ok {
			based++
		}
		p.platforms = append(p.platforms, pl)
		r.Platforms = append(r.Platforms, PlatformImage{Platform: platform.FromOCI(pl), Image: entries[i].Image, Digest: d, BaseDigest: bd})
	}
	var baseDigest v1.Hash
	switch based {
	case 0:
	case len(entries):
		base, err := resolveBase(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("join %s: %w", spec.Name, err)
		}
		for i, pi := range r.Platforms {
			if pi.BaseDigest != base.digests[i].String() {
				return nil, fmt.Errorf("join %s: the %s image (%s) was built on the base %s, but the %s base for %s is %s here: join images built on the same base (the static base: by the same scratchkit and Go versions)",
					spec.Name, pi.Platform, pi.Digest, pi.BaseDigest, base.name, pi.Platform, base.digests[i])
			}
		}
		if baseDigest, err = base.indexDigest(p.platforms); err != nil {
			return nil, fmt.Errorf("join %s: %w", spec.Name, err)
		}
		r.BaseName, r.BaseDigest = base.name, baseDigest.String()
	default:
		return nil, fmt.Errorf("join %s: %d of the %d images name no base (%s): join images that Build made", spec.Name, len(entries)-based, len(entries), AnnotationBaseDigest)
	}
	idx, err := index(baseDigest, entries)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", spec.Name, err)
	}
	if _, err := idx.Digest(); err != nil {
		return nil, fmt.Errorf("join %s: %w", spec.Name, err)
	}
	slices.SortFunc(r.Platforms, func(a, b PlatformImage) int { return platform.Compare(a.Platform, b.Platform) })
	r.Index = idx
	return r, nil
}

// index assembles the index of platform images as Build makes it: MergeIndex, with the
// annotations the platform manifests carry, which must agree, save that
// org.opencontainers.image.base.digest names baseDigest, the base of all the platforms, where
// each manifest names its own platform's base. A zero baseDigest names none.
func index(baseDigest v1.Hash, entries []IndexEntry) (v1.ImageIndex, error) {
	var ann map[string]string
	for i, e := range entries {
		if e.Image == nil {
			return nil, fmt.Errorf("merge index: entry %d (%s) has no image", i, e.Platform)
		}
		m, err := e.Image.Manifest()
		if err != nil {
			return nil, fmt.Errorf("merge index: entry %d (%s): %w", i, e.Platform, err)
		}
		own := maps.Clone(m.Annotations)
		delete(own, AnnotationBaseDigest)
		if i == 0 {
			ann = own
			continue
		}
		if !maps.Equal(ann, own) {
			k := firstDifference(ann, own)
			return nil, fmt.Errorf("merge index: %s and %s disagree on annotation %s (%q, %q): an index joins the platform images of one build, made from the same inputs",
				entries[0].Platform, e.Platform, k, ann[k], own[k])
		}
	}
	if baseDigest != (v1.Hash{}) {
		if ann == nil {
			ann = map[string]string{}
		}
		ann[AnnotationBaseDigest] = baseDigest.String()
	}
	return MergeIndex(ann, entries...)
}

// firstDifference is the first key, in order, that a and b do not hold alike.
func firstDifference(a, b map[string]string) string {
	keys := slices.Sorted(maps.Keys(a))
	keys = append(keys, slices.Sorted(maps.Keys(b))...)
	slices.Sort(keys)
	for _, k := range keys {
		av, aok := a[k]
		bv, bok := b[k]
		if aok != bok || av != bv {
			return k
		}
	}
	return ""
}

// entryPlatform is the platform entry i is for, checked against its config, and its media type.
func entryPlatform(i int, e IndexEntry) (*v1.Platform, types.MediaType, error) {
	if e.Image == nil {
		return nil, "", fmt.Errorf("merge index: entry %d (%s) has no image", i, e.Platform)
	}
	mt, err := e.Image.MediaType()
	if err != nil {
		return nil, "", fmt.Errorf("merge index: entry %d (%s): %w", i, e.Platform, err)
	}
	if !mt.IsImage() {
		return nil, "", fmt.Errorf("merge index: entry %d (%s) is a %s, not an image manifest", i, e.Platform, mt)
	}
	cf, err := e.Image.ConfigFile()
	if err != nil {
		return nil, "", fmt.Errorf("merge index: entry %d (%s): %w", i, e.Platform, err)
	}
	have := cf.Platform()
	if e.Platform.IsZero() {
		if have == nil || have.OS == "" || have.Architecture == "" {
			return nil, "", fmt.Errorf("merge index: entry %d: no platform given and none in the image config", i)
		}
		return &v1.Platform{OS: have.OS, Architecture: have.Architecture, Variant: have.Variant}, mt, nil
	}
	oci := e.Platform.OCI()
	pl := &oci
	if have != nil && (have.OS != pl.OS || have.Architecture != pl.Architecture ||
		(have.Variant != "" && normVariant(have.Architecture, have.Variant) != normVariant(pl.Architecture, pl.Variant))) {
		return nil, "", fmt.Errorf("merge index: entry %d is said to be %s but its config says %s", i, pl, have)
	}
	return pl, mt, nil
}
