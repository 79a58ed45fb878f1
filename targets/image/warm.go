package image

import (
	"context"
)

// Warm does ahead of time the part of Build that depends only on the binaries and the built-in
// base: it compresses each binary's layer into the layer cache at spec.CacheDir and, for the
// static base, assembles the base once for this process and puts its layer in the cache. A Build
// of the same spec that follows reads them back instead of doing the work, so a caller can
// overlap it with other work on the same binaries (the engine runs it while Verify runs).
//
// Warm changes nothing a Build would not: a layer cache entry is keyed by its content, and a
// binary that later fails verification only leaves an entry that no image uses. Its errors are
// dropped: the Build that follows meets the same one and reports it in its place. It reads only
// spec's Name, Binaries, Base, GoRoot and CacheDir.
func Warm(ctx context.Context, spec Spec) {
	l := newLayers(spec.CacheDir, nil)
	if spec.Base == "" || spec.Base == BaseStatic {
		c, err := loadStatic(ctx, spec.GoRoot)
		if err == nil && l.cache != nil {
			// Into the cache only: the layer Build uses is its own, with its own warnings.
			_, _ = l.layer(c.entries, baseEpoch, baseGzip)
		}
	}
	if l.cache == nil {
		return // no cache to hand a compressed layer to Build through
	}
	for _, b := range spec.Binaries {
		if ctx.Err() != nil {
			return
		}
		content, _, err := readBinary(b)
		if err != nil {
			continue
		}
		_, _ = binaryLayer(spec.Name, content, LayerTime, l)
	}
}
