package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/scratchkit/scratchkit/internal/filelock"
)

// RefNameAnnotation is the OCI annotation naming an entry of a layout's index.json. The layout
// publisher sets it to <name>:<tag>, so `umoci unpack --image dist/layout:hello:latest` and
// `skopeo inspect oci:dist/layout:hello:latest` find the image.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// LayoutLockFile is the file in a layout directory that writers lock (see internal/filelock)
// around each write: blobs, index.json and the pruning of unreferenced blobs. OCI tools ignore it.
const LayoutLockFile = ".scratchkit.lock"

// LayoutOptions configures NewLayout.
type LayoutOptions struct {
	// Dir is the OCI image layout directory. Default "dist/layout".
	Dir string
	// Tags: one index.json entry <name>:<tag> per tag. Default ["latest"].
	Tags []string
	// PlatformRefs adds, for an index, one entry per platform image too,
	// <name>:<tag>-<os>-<arch>[-<variant>] (e.g. hello:latest-linux-arm64), for tools that
	// cannot choose a platform from an index: umoci 0.4 answers "tag is ambiguous".
	PlatformRefs bool
}

// LayoutPublisher writes images and indexes, whole, into an OCI image layout. Publishing a name
// again replaces its entries, and blobs nothing refers to any more are removed. Writers of one
// layout, in this process or others, take turns (LayoutLockFile).
type LayoutPublisher struct {
	o  LayoutOptions
	mu sync.Mutex
}

// NewLayout returns a layout publisher.
func NewLayout(o LayoutOptions) *LayoutPublisher {
	if o.Dir == "" {
		o.Dir = filepath.Join("dist", "layout")
	}
	return &LayoutPublisher{o: o}
}

// Name implements Publisher.
func (l *LayoutPublisher) Name() string { return Layout }

// Publish writes a's blobs into the layout, then swaps in an index.json whose entries for a's
// name are the new ones. index.json is replaced atomically, so a failure leaves the previous
// layout readable.
func (l *LayoutPublisher) Publish(ctx context.Context, a Artifact) (*Result, error) {
	n, err := ImageName(a.Name)
	if err != nil {
		return nil, err
	}
	f, err := inspect(a)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir := l.o.Dir
	// Another process (a second `mage image`, a parallel CI step) may write the same layout:
	// the whole write is one critical section, since its pruning would remove blobs this
	// write has stored but index.json does not name yet.
	unlock, err := filelock.Lock(ctx, filepath.Join(dir, LayoutLockFile))
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", dir, err)
	}
	defer unlock()
	p := layout.Path(dir)
	im, err := readOrInitLayout(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", dir, err)
	}
	if err := dropTruncatedBlobs(dir, a); err != nil {
		return nil, fmt.Errorf("layout %s: %w", dir, err)
	}
	if a.Index != nil {
		err = p.WriteIndex(a.Index)
	} else {
		err = p.WriteImage(a.Image)
	}
	if err != nil {
		return nil, fmt.Errorf("layout %s: write %s: %w", dir, n, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	t := a.taggable()
	mt, err := t.MediaType()
	if err != nil {
		return nil, fmt.Errorf("layout %s: %s: %w", dir, n, err)
	}
	raw, err := t.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("layout %s: %s: %w", dir, n, err)
	}
	var kept []v1.Descriptor
	for _, d := range im.Manifests {
		if refImage(d.Annotations[RefNameAnnotation]) != n {
			kept = append(kept, d)
		}
	}
	var tags []string
	for _, tag := range a.tags(l.o.Tags) {
		ref := n + ":" + tag
		if !validRefName(ref) {
			return nil, fmt.Errorf("layout %s: %q is not a valid OCI ref.name (tag %q)", dir, ref, tag)
		}
		d := v1.Descriptor{
			MediaType:   mt,
			Size:        int64(len(raw)),
			Digest:      f.digest,
			Annotations: map[string]string{RefNameAnnotation: ref},
		}
		if a.Image != nil && len(f.platforms) == 1 {
			oci := f.platforms[0].OCI()
			d.Platform = &oci
		}
		kept = append(kept, d)
		tags = append(tags, ref)
		if l.o.PlatformRefs && a.Index != nil {
			pds, err := platformEntries(a.Index, ref)
			if err != nil {
				return nil, fmt.Errorf("layout %s: %s: %w", dir, n, err)
			}
			kept = append(kept, pds...)
		}
	}
	im.Manifests = kept
	if im.MediaType == "" {
		im.MediaType = types.OCIImageIndex
	}
	if im.SchemaVersion == 0 {
		im.SchemaVersion = 2
	}
	b, err := json.MarshalIndent(im, "", "   ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomically(ctx, filepath.Join(dir, "index.json"), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}); err != nil {
		return nil, fmt.Errorf("layout %s: %w", dir, err)
	}
	res := &Result{
		Name: n, Destination: Layout, Ref: dir + "@" + f.digest.String(), Path: dir,
		Digest: f.digest, Tags: tags, Platforms: f.platforms, Size: f.size, PlatformSizes: f.platformSizes,
	}
	if err := pruneLayout(dir, im); err != nil {
		res.Note = fmt.Sprintf("unreferenced blobs were not all removed: %v", err)
	}
	return res, nil
}

// platformEntries are the index's image descriptors, each named <ref>-<os>-<arch>[-<variant>].
func platformEntries(idx v1.ImageIndex, ref string) ([]v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []v1.Descriptor
	for _, d := range im.Manifests {
		if !isImage(d.MediaType) || d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		name := ref + "-" + d.Platform.OS + "-" + d.Platform.Architecture
		if d.Platform.Variant != "" {
			name += "-" + d.Platform.Variant
		}
		if !validRefName(name) {
			return nil, fmt.Errorf("%q is not a valid OCI ref.name", name)
		}
		d.Annotations = map[string]string{RefNameAnnotation: name}
		out = append(out, d)
	}
	return out, nil
}

// refImage is the image-name part of a ref.name this publisher wrote ("hello" of
// "hello:latest"); "" for other entries, which are kept.
func refImage(ref string) string {
	n, _, ok := strings.Cut(ref, ":")
	if !ok {
		return ""
	}
	return n
}

// validRefName is the OCI image-layout grammar for org.opencontainers.image.ref.name.
var refNameRE = regexp.MustCompile(`^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$`)

func validRefName(s string) bool { return refNameRE.MatchString(s) }

const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

func readOrInitLayout(ctx context.Context, dir string) (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		if err := writeAtomically(ctx, filepath.Join(dir, "oci-layout"), func(w io.Writer) error {
			_, err := io.WriteString(w, ociLayoutFile)
			return err
		}); err != nil {
			return nil, err
		}
		return &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return nil, fmt.Errorf("%s holds an index.json but no oci-layout file: not an OCI image layout, refusing to write into it", dir)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("read index.json: %w", err)
	}
	return im, nil
}

// dropTruncatedBlobs removes blob files of a that exist with the wrong size (left by an
// interrupted earlier write): go-containerregistry skips writing blobs whose file exists.
func dropTruncatedBlobs(dir string, a Artifact) error {
	sizes := map[v1.Hash]int64{}
	var add func(t taggable) error
	add = func(t taggable) error {
		raw, err := t.RawManifest()
		if err != nil {
			return err
		}
		h, err := t.Digest()
		if err != nil {
			return err
		}
		sizes[h] = int64(len(raw))
		switch x := t.(type) {
		case v1.Image:
			return addImageBlobs(sizes, x)
		case v1.ImageIndex:
			im, err := x.IndexManifest()
			if err != nil {
				return err
			}
			for _, d := range im.Manifests {
				switch {
				case d.MediaType.IsIndex():
					c, err := x.ImageIndex(d.Digest)
					if err != nil {
						return err
					}
					if err := add(c); err != nil {
						return err
					}
				case isImage(d.MediaType):
					c, err := x.Image(d.Digest)
					if err != nil {
						return err
					}
					if err := add(c); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if err := add(a.taggable()); err != nil {
		return err
	}
	for h, size := range sizes {
		file := filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
		if st, err := os.Stat(file); err == nil && st.Size() != size {
			if err := os.Remove(file); err != nil {
				return err
			}
		}
	}
	return nil
}

// pruneLayout removes blobs no entry of im reaches.
func pruneLayout(dir string, im *v1.IndexManifest) error {
	keep := map[string]bool{}
	var walk func(d v1.Descriptor) error
	walk = func(d v1.Descriptor) error {
		if keep[d.Digest.String()] {
			return nil
		}
		keep[d.Digest.String()] = true
		if !d.MediaType.IsIndex() && !isImage(d.MediaType) {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(dir, "blobs", d.Digest.Algorithm, d.Digest.Hex))
		if err != nil {
			return err
		}
		if d.MediaType.IsIndex() {
			child, err := v1.ParseIndexManifest(bytes.NewReader(b))
			if err != nil {
				return err
			}
			for _, c := range child.Manifests {
				if err := walk(c); err != nil {
					return err
				}
			}
			return nil
		}
		m, err := v1.ParseManifest(bytes.NewReader(b))
		if err != nil {
			return err
		}
		keep[m.Config.Digest.String()] = true
		for _, l := range m.Layers {
			keep[l.Digest.String()] = true
		}
		if m.Subject != nil {
			keep[m.Subject.Digest.String()] = true
		}
		return nil
	}
	for _, d := range im.Manifests {
		if err := walk(d); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		h := e.Name()
		if e.IsDir() || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" || keep["sha256:"+h] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, "blobs", "sha256", h)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
