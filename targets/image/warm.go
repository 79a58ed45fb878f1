package image

import (
	"context"
	"runtime"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Warm does ahead of time the part of Build that depends only on the binaries: it reads each
// binary and compresses its layer (into the layer cache at spec.CacheDir too, when there is
// one), and keeps both in w, within w's limit. A Build that follows in this process, given w as
// Spec.Warmed, takes each binary and its layer from w instead of doing the work, so a caller can
// overlap Warm with other work on the same binaries (the engine runs it while Verify runs).
//
// Warm changes nothing a Build would not: what it read of a binary is used only for a Binary
// whose SHA256 (the digest Verify passed) is the digest of those bytes, and a layer cache entry
// is keyed by its content, so a binary that later fails verification only leaves layers that no
// image uses. Its errors are dropped: the Build that follows meets the same one and reports it
// in its place. Its warnings (a damaged or unwritable layer cache) are kept in w and said by the
// Build that uses w. It reads only spec's Name, Binaries, CacheDir and Compression.
func Warm(ctx context.Context, spec Spec, w *Warmed) {
	l := newLayers(spec.CacheDir, w.warn, spec.Compression)
	// One binary per CPU at a time, as Build does: compression is most of the work.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, b := range spec.Binaries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			content, sum, err := readBinary(b)
			if err != nil {
				return
			}
			if layer, err := binaryLayer(spec.Name, content, LayerTime, l); err == nil {
				w.add(spec.Name, sum, content, layer)
			}
		}()
	}
	wg.Wait()
	l.mu.Lock()
	unusable := l.unusable
	l.mu.Unlock()
	if unusable && w != nil {
		w.mu.Lock()
		w.cacheUnusable = true
		w.mu.Unlock()
	}
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
	if l := newLayers(spec.CacheDir, nil, ""); err == nil && l.cache != nil {
		// Into the cache only: the layer Build uses is its own, with its own warnings.
		_, _ = l.layer(c.entries, baseEpoch, baseGzip)
	}
}

// DefaultWarmLimit is how many bytes of binaries and compressed layers a Warmed holds when its
// Limit is zero.
const DefaultWarmLimit = 1 << 30

// Warmed holds the binaries Warm read, with their layers, by image name and sha256, and the
// warnings Warm met. It holds at most Limit bytes (binaries and compressed layers): past it, Warm
// keeps nothing more, and Build reads those binaries itself (and their layers from the layer
// cache). A nil *Warmed holds nothing and takes nothing.
type Warmed struct {
	// Limit bounds the bytes held; zero means DefaultWarmLimit.
	Limit int64

	mu       sync.Mutex
	held     int64
	binaries map[string]warmBinary
	warnings []string
	// cacheUnusable: Warm could not read or write the layer cache, and said so in warnings.
	cacheUnusable bool
}

type warmBinary struct {
	content []byte
	layer   v1.Layer
	size    int64
}

func (w *Warmed) add(name, sha256 string, content []byte, l v1.Layer) {
	if w == nil {
		return
	}
	size := int64(len(content))
	if n, err := l.Size(); err == nil {
		size += n
	}
	limit := w.Limit
	if limit == 0 {
		limit = DefaultWarmLimit
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held+size > limit {
		return
	}
	if w.binaries == nil {
		w.binaries = map[string]warmBinary{}
	}
	if _, ok := w.binaries[name+" "+sha256]; ok {
		return
	}
	w.binaries[name+" "+sha256] = warmBinary{content, l, size}
	w.held += size
}

func (w *Warmed) warn(msg string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, msg)
}

// binary is the binary of image name Warm read with digest sha256, and its layer; nil when w
// holds none with that digest, or sha256 is empty.
func (w *Warmed) binary(name, sha256 string) ([]byte, string, v1.Layer) {
	if w == nil || sha256 == "" {
		return nil, "", nil
	}
	sha256 = strings.ToLower(sha256)
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.binaries[name+" "+sha256]
	if !ok {
		return nil, "", nil
	}
	return b.content, sha256, b.layer
}

// takeWarnings returns the warnings Warm met and forgets them, so that they are said once, and
// whether one of them said the layer cache cannot be used (which a Build need not say again).
func (w *Warmed) takeWarnings() ([]string, bool) {
	if w == nil {
		return nil, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out, unusable := w.warnings, w.cacheUnusable
	w.warnings, w.cacheUnusable = nil, false
	return out, unusable
}

// Release forgets the binaries of image name (a Build of it is done), so that their memory can
// go.
func (w *Warmed) Release(name string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, b := range w.binaries {
		if strings.HasPrefix(k, name+" ") {
			delete(w.binaries, k)
			w.held -= b.size
		}
	}
}

// Layers are the layers Warm made for image name's binaries, in no particular order: for a
// caller that sends them ahead of the image (publish.RegistryPublisher.Upload).
func (w *Warmed) Layers(name string) []v1.Layer {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []v1.Layer
	for k, b := range w.binaries {
		if strings.HasPrefix(k, name+" ") {
			out = append(out, b.layer)
		}
	}
	return out
}
