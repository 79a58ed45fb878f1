// Package publish sends the images targets/image assembles to their destinations: a registry, a
// docker-loadable tarball, or an OCI image layout. The daemon (ko.local) and kind (kind.local)
// destinations live in the subpackage kopub, which goes through ko's pkg/publish; it is kept apart
// because ko's publishers pull in hundreds of packages that every magefile build would pay for.
//
// Every destination implements Publisher and names images the ko way: <repo>/<name> with the
// configured tags (ko's default is "latest"). Results carry the digest, and that digest — never a
// tag — is what later steps (smoke test, signing, artifacts.json) trust.
//
// The registry, tarball and layout destinations are written directly on go-containerregistry
// (remote, tarball, layout), the library ko's own publishers call.
package publish

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// Destination names, as Publisher.Name returns them and artifacts.json records them.
const (
	Registry = "registry"
	Daemon   = "daemon"
	Kind     = "kind"
	Tarball  = "tarball"
	Layout   = "layout"
)

// Destinations are every destination name.
var Destinations = []string{Registry, Daemon, Kind, Tarball, Layout}

// RegistryPlatform is how artifacts.json records a platform image pushed alone by digest and
// untagged (PushByDigest, PushPlatforms: image.per_platform), which an index joins later. It is
// recorded, never configured: the publisher is Registry's.
const RegistryPlatform = "registry-platform"

// LocalDomain is the registry part of names of images that never reach a registry: ko's
// "ko.local". Tarballs written without a repository load into docker as ko.local/<name>:<tag>.
const LocalDomain = "ko.local"

// KindDomain is the registry part of names of images loaded into kind nodes: ko's "kind.local".
const KindDomain = "kind.local"

// DefaultTag is the tag applied when none is configured, as ko does.
const DefaultTag = "latest"

// Publisher sends one artifact to one destination.
type Publisher interface {
	// Publish sends a and reports where it went. It is safe to call concurrently for
	// different artifacts.
	Publish(ctx context.Context, a Artifact) (*Result, error)
	// Name is the destination: "registry", "daemon", "kind", "tarball" or "layout".
	Name() string
}

// Artifact is one image to publish: a single-platform Image or a multi-platform Index.
type Artifact struct {
	// Name is the image name, e.g. "hello"; it is published as <repo>/<name>. Like ko,
	// publishers lower-case it.
	Name string
	// Image is set for a single-platform image; Index for several platforms. Exactly one.
	Image v1.Image
	Index v1.ImageIndex
	// Tags replace the publisher's tags when not empty.
	Tags []string
}

// Result is what one publication produced. Ref and Digest are what later steps use.
type Result struct {
	Name        string `json:"name"`
	Destination string `json:"destination"` // "registry", "daemon", "kind", "tarball", "layout"
	// Ref addresses exactly what was published: <repo>/<name>@sha256:… for a registry,
	// ko.local/<name>:<digest hex> in a daemon, <dir>@sha256:… in a layout, the file path of
	// a tarball.
	Ref    string  `json:"ref"`
	Digest v1.Hash `json:"digest"` // manifest (or index) digest of what was published
	// Tags are the full references of the tags applied (registry, daemon, kind) or recorded
	// (tarball, layout).
	Tags      []string            `json:"tags,omitempty"`
	Platforms []platform.Platform `json:"platforms,omitempty"` // e.g. ["linux/amd64", "linux/arm64"]
	Path      string              `json:"path,omitempty"`      // tarball file or layout directory; empty otherwise
	// Note says what a single-platform destination did with an index, e.g. which platform
	// it took.
	Note string `json:"note,omitempty"`
	// Uploaded and Skipped count the blobs (layers and configs) sent and those the registry
	// already had; Bytes is the size of those sent. Registry only.
	Uploaded int   `json:"uploaded,omitempty"`
	Skipped  int   `json:"skipped,omitempty"`
	Bytes    int64 `json:"bytes,omitempty"`
	// Size is the compressed size: the sum of the distinct layers and configs of what was
	// published (all platforms of an index).
	Size int64 `json:"size"`
	// PlatformSizes is, for an index, what each platform pulls: its config and layers,
	// compressed. Empty for a single image, whose Size is that already; see PlatformSize.
	PlatformSizes map[platform.Platform]int64 `json:"platform_sizes,omitempty"`
}

// PlatformSize is what pulling one platform of the result downloads: its config and layers,
// compressed. For a single-platform result it is Size.
func (r *Result) PlatformSize(p platform.Platform) int64 {
	if s, ok := r.PlatformSizes[p]; ok {
		return s
	}
	if len(r.PlatformSizes) == 0 && len(r.Platforms) <= 1 {
		return r.Size
	}
	return 0
}

// DefaultDestinations are where images go when the configuration names none: ko's daemon for
// the repository ko.local, kind for kind.local, the registry for any other repository, and,
// without one, so that an image builds offline on a fresh machine, an OCI layout and a
// docker-loadable tarball.
func DefaultDestinations(repo string) []string {
	switch repo {
	case "":
		return []string{Layout, Tarball}
	case LocalDomain:
		return []string{Daemon}
	case KindDomain:
		return []string{Kind}
	}
	return []string{Registry}
}

// SelectImage picks from idx the image for want (a variant-less want matches any variant), or,
// when idx has none, its first image with a known platform. It reports the platform it took.
func SelectImage(idx v1.ImageIndex, want v1.Platform) (v1.Image, v1.Platform, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Platform{}, fmt.Errorf("read index manifest: %w", err)
	}
	var first *v1.Descriptor
	for i := range im.Manifests {
		d := &im.Manifests[i]
		if !isImage(d.MediaType) || d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		if d.Platform.Satisfies(want) {
			first = d
			break
		}
		if first == nil {
			first = d
		}
	}
	if first == nil {
		return nil, v1.Platform{}, errors.New("the index holds no image with a platform")
	}
	img, err := idx.Image(first.Digest)
	if err != nil {
		return nil, v1.Platform{}, fmt.Errorf("read image %s of the index: %w", first.Digest, err)
	}
	return img, *first.Platform, nil
}

// Single returns a's image as a single-platform destination (tarball, daemon, kind) takes it:
// the image itself, or for an index the image for want (see SelectImage). The note says which
// platform was taken from an index, for Result.Note.
func Single(a Artifact, want v1.Platform) (img v1.Image, p platform.Platform, note string, err error) {
	if err := a.check(); err != nil {
		return nil, p, "", err
	}
	if a.Image != nil {
		p, err := imagePlatform(a.Image)
		if err != nil {
			return nil, p, "", fmt.Errorf("image %s: %w", a.Name, err)
		}
		return a.Image, p, "", nil
	}
	img, sel, err := SelectImage(a.Index, want)
	if err != nil {
		return nil, p, "", fmt.Errorf("image %s: %w", a.Name, err)
	}
	note = fmt.Sprintf("holds %s only, taken from the multi-platform index (one platform per image in this format)", sel.String())
	if !sel.Satisfies(want) {
		note = fmt.Sprintf("holds %s only: the index has no %s image", sel.String(), want.String())
	}
	return img, platform.FromOCI(&sel), note, nil
}

// ImageName validates a's name and returns it as publishers use it: lower-cased, like ko.
func ImageName(n string) (string, error) {
	n = strings.ToLower(strings.Trim(n, "/"))
	if n == "" {
		return "", errors.New("image name is empty")
	}
	if _, err := name.NewRepository(LocalDomain + "/" + n); err != nil {
		return "", fmt.Errorf("image name %q is not usable in a repository name: %w", n, err)
	}
	return n, nil
}

func (a Artifact) check() error {
	if a.Name == "" {
		return errors.New("publish: artifact has no name")
	}
	if (a.Image == nil) == (a.Index == nil) {
		return fmt.Errorf("publish %s: set exactly one of Image and Index", a.Name)
	}
	return nil
}

func (a Artifact) tags(def []string) []string {
	if len(a.Tags) > 0 {
		return a.Tags
	}
	if len(def) > 0 {
		return def
	}
	return []string{DefaultTag}
}

// taggable is what remote, layout and the daemon accept: an image or an index.
type taggable interface {
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
	Digest() (v1.Hash, error)
}

func (a Artifact) taggable() taggable {
	if a.Index != nil {
		return a.Index
	}
	return a.Image
}

// facts are the properties of an artifact every publisher reports.
type facts struct {
	digest    v1.Hash
	platforms []platform.Platform
	blobs     map[v1.Hash]int64 // layers and configs, by digest
	size      int64
	// platformSizes is what each platform of an index pulls (config and layers); nil for an image.
	platformSizes map[platform.Platform]int64
}

func inspect(a Artifact) (*facts, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	f := &facts{blobs: map[v1.Hash]int64{}}
	var err error
	if f.digest, err = a.taggable().Digest(); err != nil {
		return nil, fmt.Errorf("image %s: digest: %w", a.Name, err)
	}
	if a.Image != nil {
		p, err := imagePlatform(a.Image)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", a.Name, err)
		}
		if !p.IsZero() {
			f.platforms = []platform.Platform{p}
		}
		if err := addImageBlobs(f.blobs, a.Image); err != nil {
			return nil, fmt.Errorf("image %s: %w", a.Name, err)
		}
	} else {
		if err := addIndex(f, a.Index); err != nil {
			return nil, fmt.Errorf("image %s: %w", a.Name, err)
		}
		slices.SortFunc(f.platforms, platform.Compare)
	}
	for _, s := range f.blobs {
		f.size += s
	}
	return f, nil
}

func addIndex(f *facts, idx v1.ImageIndex) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("read index manifest: %w", err)
	}
	for _, d := range im.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return fmt.Errorf("read index %s: %w", d.Digest, err)
			}
			if err := addIndex(f, child); err != nil {
				return err
			}
		case isImage(d.MediaType):
			img, err := idx.Image(d.Digest)
			if err != nil {
				return fmt.Errorf("read image %s: %w", d.Digest, err)
			}
			own := map[v1.Hash]int64{}
			if err := addImageBlobs(own, img); err != nil {
				return err
			}
			maps.Copy(f.blobs, own)
			p := platform.FromOCI(d.Platform)
			if d.Platform == nil {
				if p, err = imagePlatform(img); err != nil {
					return err
				}
			}
			if !p.IsZero() && p.OS != "unknown" {
				f.platforms = append(f.platforms, p)
				if f.platformSizes == nil {
					f.platformSizes = map[platform.Platform]int64{}
				}
				for _, s := range own {
					f.platformSizes[p] += s
				}
			}
		}
	}
	return nil
}

func addImageBlobs(blobs map[v1.Hash]int64, img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	blobs[m.Config.Digest] = m.Config.Size
	for _, l := range m.Layers {
		blobs[l.Digest] = l.Size
	}
	return nil
}

func imagePlatform(img v1.Image) (platform.Platform, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return platform.Platform{}, fmt.Errorf("read config: %w", err)
	}
	if cf.OS == "" {
		return platform.Platform{}, nil
	}
	return platform.FromOCI(cf.Platform()), nil
}

func isImage(mt types.MediaType) bool {
	return mt == types.OCIManifestSchema1 || mt == types.DockerManifestSchema2
}
