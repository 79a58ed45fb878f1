package image

import (
	"bytes"
	stdgzip "compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/mod/semver"

	"github.com/scratchkit/scratchkit/targets/image/internal/layercache"
)

// codec is how scratchkit compresses the layers it writes: gzip from klauspost/compress, which
// writes standard gzip (RFC 1952) faster than compress/gzip (1.5× at level 1, 2.5× at level 6 on
// a Go binary here). Its output depends only on the input, the level, the segment size and the
// library's version: no name and no time in the header, the same bytes on every architecture
// and whatever the number of CPUs.
//
// A codec with a segment size compresses an input larger than it in segments of that size, each
// an independent deflate stream ended by a sync flush (the last one by the final block), on all
// CPUs at once, and writes them as one gzip member: what any gzip reader reads, for a few
// hundredths more bytes (no match crosses a segment). On a changed binary, the layer's
// compression is on the path from the link to the push; a 58 MB binary spends it on every CPU
// instead of one.
type codec struct {
	level   int
	segment int // 0: one stream
	once    sync.Once
	id      string
}

var (
	// appGzip compresses the binary and data layers, which change with the code: fast, and in
	// 4 MiB segments on every CPU.
	appGzip = &codec{level: gzip.BestSpeed, segment: 4 << 20}
	// baseGzip compresses the static base, which is compressed once per layer cache (or per
	// process without one): within 2% of the best compression at a tenth of its time.
	baseGzip = &codec{level: 6}
	// storedGzip writes the binary and data layers as gzip's stored blocks (CompressNone): a
	// gzip layer as large as its tar, made at the speed of a copy. It bypasses the layer cache,
	// which would hold as much as it saves.
	storedGzip = &codec{level: gzip.NoCompression, segment: 4 << 20}
)

// Compression is how Build compresses the binary and data layers (the static base is always
// compressed, once per layer cache).
type Compression string

const (
	// CompressGzip (also the zero value) is fast gzip, in 4 MiB segments on every CPU.
	CompressGzip Compression = "gzip"
	// CompressNone is gzip without compression, for an image that stays on this machine (loaded
	// into docker, or pushed to a registry on it), where compressing costs more time than the
	// bytes it saves.
	CompressNone Compression = "none"
)

func (c Compression) codec() *codec {
	if c == CompressNone {
		return storedGzip
	}
	return appGzip
}

// compress gzips data.
func (c *codec) compress(data []byte) ([]byte, error) {
	if c.segment > 0 && len(data) > c.segment {
		return c.compressSegments(data)
	}
	var buf bytes.Buffer
	buf.Grow(len(data)/2 + 1024)
	w, err := gzip.NewWriterLevel(&buf, c.level)
	if err != nil {
		return nil, err
	}
	// MTIME 0, "no time stamp", as compress/gzip writes it; the zero time.Time would write the
	// low 32 bits of its Unix time.
	w.ModTime = time.Unix(0, 0)
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// compressSegments gzips data in segments, compressed in parallel (see codec).
func (c *codec) compressSegments(data []byte) ([]byte, error) {
	header, err := c.compress(nil) // the member's header, as the one-stream writer writes it
	if err != nil {
		return nil, err
	}
	n := (len(data) + c.segment - 1) / c.segment
	parts := make([][]byte, n)
	errs := make([]error, n)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			chunk := data[i*c.segment : min((i+1)*c.segment, len(data))]
			var buf bytes.Buffer
			buf.Grow(len(chunk)/2 + 1024)
			fw, err := flate.NewWriter(&buf, c.level)
			if err == nil {
				_, err = fw.Write(chunk)
			}
			if err == nil && i == n-1 {
				err = fw.Close()
			} else if err == nil {
				err = fw.Flush()
			}
			parts[i], errs[i] = buf.Bytes(), err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	size := 10 + 8
	for _, p := range parts {
		size += len(p)
	}
	out := make([]byte, 0, size)
	out = append(out, header[:10]...)
	for _, p := range parts {
		out = append(out, p...)
	}
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(data))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
	return out, nil
}

// ID names what the codec's output depends on, for cache keys: the implementation, its version
// and the level. Where the version is not known (a module replaced by a directory, a build
// outside module mode), the digest of what the codec makes of a fixed probe stands in for it, so
// that changed output still changes the ID.
func (c *codec) ID() string {
	c.once.Do(func() {
		v := moduleVersion(gzipModule, gzip.NewWriterLevel)
		if !semver.IsValid(v) {
			sum := "failed"
			if out, err := c.compress(codecProbe()); err == nil {
				s := sha256.Sum256(out)
				sum = "sha256:" + hex.EncodeToString(s[:])
			}
			v += ", probe " + sum
		}
		c.id = fmt.Sprintf("gzip %s@%s level %d", gzipModule, v, c.level)
		if c.segment > 0 {
			c.id += fmt.Sprintf(" segments %d", c.segment)
		}
	})
	return c.id
}

const gzipModule = "github.com/klauspost/compress"

// codecProbe is 64 KiB of fixed input with repeats near and far and noise between them, to
// exercise the match finder and the entropy coder at every level.
var codecProbe = sync.OnceValue(func() []byte {
	const size = 64 << 10
	out := make([]byte, 0, size+64)
	x := uint32(2463534242)
	words := []string{"scratchkit ", "layer ", "gzip ", "probe ", "\x00\x00\x00\x00", "/ko-app/", "\x7fELF"}
	for len(out) < size {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		switch x % 4 {
		case 0:
			out = append(out, byte(x>>8), byte(x>>16), byte(x>>24))
		case 1:
			out = append(out, words[(x>>8)%uint32(len(words))]...)
		default:
			if back := int(x>>8) % (len(out) + 1); back > 0 && len(out) > 0 {
				start := len(out) - back
				out = append(out, out[start:start+min(back, int(x>>24)%64+3)]...)
			}
		}
	}
	return out[:size]
})

// layers makes the layers of one Build, through the layer cache when there is one.
type layers struct {
	cache *layercache.Cache // nil: compress every layer
	warn  func(string)      // nil discards; called from one goroutine at a time
	app   *codec            // the binary and data layers' codec; nil: appGzip

	mu       sync.Mutex
	unusable bool // a read or write of the cache failed and was said: the next failures are not
}

func newLayers(cacheDir string, warn func(string), app Compression) *layers {
	l := &layers{warn: warn, app: app.codec()}
	if cacheDir != "" {
		l.cache = &layercache.Cache{Dir: cacheDir}
	}
	return l
}

func (l *layers) say(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.warn != nil {
		l.warn(msg)
	}
}

// failed says, once per Build, that the file system does not let the cache be read or written.
func (l *layers) failed(err error) {
	l.mu.Lock()
	first := !l.unusable
	l.unusable = true
	l.mu.Unlock()
	if first {
		l.say(fmt.Sprintf("%v; building without the layer cache, so the next build compresses again", err))
	}
}

// layer makes the gzip layer of the tar of entries (see writeTarTo), compressed with c.
//
// With a cache, the key is the tar's digest (the layer's diff ID: every byte of every header and
// file is in it), the codec's ID and the media type. The tar is hashed as it streams, so a hit
// costs no copy of the files; the diff ID is always this computation, never read back. A hit is
// checked against the tar before use; a refused entry is said through warn and compressed again,
// and so is a cache that cannot be written, the build going on without it.
// appCodec is the binary and data layers' codec.
func (l *layers) appCodec() *codec {
	if l == nil || l.app == nil {
		return appGzip
	}
	return l.app
}

func (l *layers) layer(entries []entry, mtime time.Time, c *codec) (v1.Layer, error) {
	if l == nil || l.cache == nil || c == storedGzip {
		tb, sum, err := tarOf(entries, mtime)
		if err != nil {
			return nil, err
		}
		return compressed(tb, sum, c)
	}
	sum := tarSum{sha: sha256.New(), crc: crc32.NewIEEE()}
	if err := writeTarTo(&sum, entries, mtime); err != nil {
		return nil, err
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum.sha.Sum(nil))}
	key := layerKey(layerMediaType, c, diffID)
	blob, digest, err := l.cache.Get(key, gzipBound(sum.size), func(blob []byte) error { return gzipMatches(blob, sum.crc.Sum32(), sum.size) })
	if err == nil {
		return &blobLayer{blob: blob, digest: digest, diffID: diffID, mediaType: layerMediaType}, nil
	}
	switch {
	case errors.Is(err, layercache.ErrDamaged):
		l.say(fmt.Sprintf("%v; compressing the layer again", err))
	case !errors.Is(err, layercache.ErrMiss):
		l.failed(err)
	}
	tb, got, err := tarOf(entries, mtime)
	if err != nil {
		return nil, err
	}
	if got != diffID {
		return nil, fmt.Errorf("layer: the tar written twice differs (%s, then %s)", diffID, got)
	}
	bl, err := compressed(tb, diffID, c)
	if err != nil {
		return nil, err
	}
	if err := l.cache.Put(key, bl.blob, bl.digest); err != nil {
		l.failed(fmt.Errorf("layer cache: %w", err))
	}
	return bl, nil
}

// tarOf writes the tar of entries into memory, hashing it as it is written: its bytes and its
// digest (the diff ID), in one pass.
func tarOf(entries []entry, mtime time.Time) ([]byte, v1.Hash, error) {
	var buf bytes.Buffer
	buf.Grow(tarSize(entries))
	h := sha256.New()
	if err := writeTarTo(io.MultiWriter(&buf, h), entries, mtime); err != nil {
		return nil, v1.Hash{}, err
	}
	return buf.Bytes(), v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, nil
}

// tarSize is about the size of the tar of entries, to size its buffer: two header blocks per
// entry (enough for a long name), the files' data in whole blocks, and the two zero blocks that
// end it.
func tarSize(entries []entry) int {
	n := 2 * 512
	for _, e := range entries {
		n += 2*512 + (len(e.data)+511)/512*512
	}
	return n
}

// layerMediaType is the media type of the layers scratchkit writes.
const layerMediaType = types.OCILayer

// layerKey is the cache key of the layer of media type mt that c makes of the tar diffID.
func layerKey(mt types.MediaType, c *codec, diffID v1.Hash) string {
	return layercache.Key("scratchkit layer", string(mt), c.ID(), diffID.String())
}

// tarSum digests a tar as it is written: sha256 (the diff ID), CRC-32 and size (what a gzip
// trailer records).
type tarSum struct {
	sha  hash.Hash
	crc  hash.Hash32
	size int64
}

func (s *tarSum) Write(p []byte) (int, error) {
	s.sha.Write(p)
	s.crc.Write(p)
	s.size += int64(len(p))
	return len(p), nil
}

func sha256Hash(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// prune bounds the cache (at most once a day; see layercache.Cache.Prune).
func (l *layers) prune() {
	if l == nil || l.cache == nil {
		return
	}
	l.mu.Lock()
	unusable := l.unusable
	l.mu.Unlock()
	if unusable {
		return // said already; a walk would say it again
	}
	if err := l.cache.Prune(); err != nil {
		l.say(err.Error())
	}
}

func compressed(tar []byte, diffID v1.Hash, c *codec) (*blobLayer, error) {
	blob, err := c.compress(tar)
	if err != nil {
		return nil, fmt.Errorf("compress layer %s: %w", diffID, err)
	}
	return &blobLayer{
		blob:      blob,
		digest:    sha256Hash(blob),
		diffID:    diffID,
		mediaType: layerMediaType,
	}, nil
}

// gzipBound is the most a gzip stream of n bytes of input can take: stored blocks cost 5 bytes
// per 64 KiB, the header and trailer 18; the slack covers any writer's block splitting.
func gzipBound(n int64) int64 {
	return n + n/1024 + 4096
}

// gzipMatches checks that blob is a gzip stream whose trailer records the CRC-32 and the length
// (modulo 2^32) of the tar: an entry made for other content, by a bug or by hand, is refused
// without inflating it.
func gzipMatches(blob []byte, crc uint32, size int64) error {
	if len(blob) < 18 || blob[0] != 0x1f || blob[1] != 0x8b || blob[2] != 8 {
		return errors.New("not a gzip stream")
	}
	t := blob[len(blob)-8:]
	if gotCRC, gotSize := binary.LittleEndian.Uint32(t), binary.LittleEndian.Uint32(t[4:]); gotCRC != crc || gotSize != uint32(size) {
		return fmt.Errorf("its gzip trailer (crc32 %08x, %d bytes) does not match the layer's tar (crc32 %08x, %d bytes)",
			gotCRC, gotSize, crc, uint32(size))
	}
	return nil
}

// blobLayer is a gzip layer held in memory with its digests computed.
type blobLayer struct {
	blob           []byte
	digest, diffID v1.Hash
	mediaType      types.MediaType
}

var _ v1.Layer = (*blobLayer)(nil)

func (b *blobLayer) Digest() (v1.Hash, error)            { return b.digest, nil }
func (b *blobLayer) DiffID() (v1.Hash, error)            { return b.diffID, nil }
func (b *blobLayer) Size() (int64, error)                { return int64(len(b.blob)), nil }
func (b *blobLayer) MediaType() (types.MediaType, error) { return b.mediaType, nil }
func (b *blobLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b.blob)), nil
}
func (b *blobLayer) Uncompressed() (io.ReadCloser, error) {
	r, err := stdgzip.NewReader(bytes.NewReader(b.blob))
	if err != nil {
		return nil, err
	}
	return r, nil
}
