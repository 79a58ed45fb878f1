package image

import (
	"context"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Warm does ahead of time the part of Build that depends only on the binaries: it reads each
// binary and compresses its layer (into the layer cache at spec.CacheDir too, when there is
// one). A Build of the same spec that follows in this process, given the result as Spec.Warmed,
// takes the binaries and their layers from it instead of doing the work, so a caller can overlap
// it with other work on the same binaries (the engine runs it while Verify runs).
//
// Warm changes nothing a Build would not: what it read of a binary is used only for a Binary
// whose SHA256 (the digest Verify passed) is the digest of those bytes, and a layer cache entry is keyed by its content, so a binary that later fails
// verification only leaves layers that no image uses. Its errors are dropped: the Build that
// follows meets the same one and reports it in its place. It reads only spec's Name, Binaries
// and CacheDir.
func Warm(ctx context.Context, spec Spec) *Warmed {
	w := &Warmed{}
	l := newLayers(spec.CacheDir, nil)
	for _, b := range spec.Binaries {
		if ctx.Err() != nil {
			return w
		}
		content, sum, err := readBinary(b)
		if err != nil {
			continue
		}
		if layer, err := binaryLayer(spec.Name, content, LayerTime, l); err == nil {
			w.add(spec.Name, sum, content, layer)
		}
	}
	return w
}

// WarmBase does ahead of time the part of Build that depends only on the base: for the static
// base, it assembles the base once for this process and puts its layer in the layer cache at
// spec.CacheDir, for Builds that follow to read back. It needs no binary, so a caller can run it
// while the binaries build. Like Warm, it changes nothing a Build would not, and its errors are
// the Build's to report. It reads only spec's Base, GoRoot and CacheDir.
func WarmBase(ctx context.Context, spec Spec) {
	if spec.Base != "" && spec.Base != BaseStatic {
		return
	}
	c, err := loadStatic(ctx, spec.GoRoot)
	if l := newLayers(spec.CacheDir, nil); err == nil && l.cache != nil {
		// Into the cache only: the layer Build uses is its own, with its own warnings.
		_, _ = l.layer(c.entries, baseEpoch, baseGzip)
	}
}

// Warmed holds the binaries Warm read, with their layers, by image name and sha256. The zero
// value and nil hold none.
type Warmed struct {
	mu       sync.Mutex
	binaries map[string]warmBinary
}

type warmBinary struct {
	content []byte
	layer   v1.Layer
}

func (w *Warmed) add(name, sha256 string, content []byte, l v1.Layer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.binaries == nil {
		w.binaries = map[string]warmBinary{}
	}
	w.binaries[name+" "+sha256] = warmBinary{content, l}
}

// binary is the binary of image name Warm read with digest sha256, and its layer; nil when
// Warm read none with that digest, or sha256 is empty.
func (w *Warmed) binary(name, sha256 string) ([]byte, string, v1.Layer) {
	if w == nil || sha256 == "" {
		return nil, "", nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.binaries[name+" "+strings.ToLower(sha256)]
	if !ok {
		return nil, "", nil
	}
	return b.content, strings.ToLower(sha256), b.layer
}
