package image

import (
	"archive/tar"
	"bytes"
	stdgzip "compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/image/internal/layercache"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// cached is a spec for linux/amd64 and linux/arm64 with a data directory and a fresh layer
// cache; warnings are collected.
func cached(t *testing.T) (Spec, *[]string) {
	t.Helper()
	s := spec(t, "linux/amd64", "linux/arm64")
	s.DataDir = t.TempDir()
	must(t, os.WriteFile(filepath.Join(s.DataDir, "greeting.txt"), []byte("hello\n"), 0o644))
	s.CacheDir = filepath.Join(t.TempDir(), "layers")
	var mu sync.Mutex
	warnings := &[]string{}
	s.Warn = func(m string) { mu.Lock(); *warnings = append(*warnings, m); mu.Unlock() }
	return s, warnings
}

// fresh builds as a new process does: without the static base this process built already.
func fresh(t *testing.T, s Spec) *Result {
	t.Helper()
	resetStatic()
	t.Cleanup(resetStatic)
	return build(t, s)
}

// entries lists the cache's entries with their contents.
func entries(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	files, err := filepath.Glob(filepath.Join(dir, "*.layer"))
	must(t, err)
	for _, f := range files {
		m[filepath.Base(f)] = readFile(t, f)
	}
	return m
}

// platformLayers are the layer digests of every platform image: static base, data, binary.
func platformLayers(t *testing.T, r *Result) [][]v1.Hash {
	t.Helper()
	var out [][]v1.Hash
	for _, p := range r.Platforms {
		m, err := p.Image.Manifest()
		must(t, err)
		var ds []v1.Hash
		for _, l := range m.Layers {
			ds = append(ds, l.Digest)
		}
		out = append(out, ds)
	}
	return out
}

// binaryLayerOf is platform i's binary layer (the last one).
func binaryLayerOf(t *testing.T, r *Result, i int) v1.Layer {
	t.Helper()
	ls, err := r.Platforms[i].Image.Layers()
	must(t, err)
	return ls[len(ls)-1]
}

func hashOf(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// A build served from the cache is byte for byte the build that filled it, and the build
// without a cache: the same digests, the same entries.
func TestLayerCacheHitIsTheSameImage(t *testing.T) {
	s, warnings := cached(t)
	plain := s
	plain.CacheDir = ""
	want := digest(t, fresh(t, plain))

	miss := fresh(t, s)
	if got := digest(t, miss); got != want {
		t.Fatalf("build filling the cache: %s, without a cache: %s", got, want)
	}
	filled := entries(t, s.CacheDir)
	if len(filled) != 4 {
		t.Fatalf("the cache holds %d entries, want 4 (static base, data, two binaries)", len(filled))
	}
	hit := fresh(t, s)
	if got := digest(t, hit); got != want {
		t.Errorf("build from the cache: %s, want %s", got, want)
	}
	if fmt.Sprint(platformLayers(t, hit)) != fmt.Sprint(platformLayers(t, miss)) {
		t.Errorf("layers from the cache %v, want %v", platformLayers(t, hit), platformLayers(t, miss))
	}
	again := entries(t, s.CacheDir)
	if len(again) != len(filled) {
		t.Errorf("a hit changed the entries: %d, then %d", len(filled), len(again))
	}
	for name, b := range filled {
		if !bytes.Equal(again[name], b) {
			t.Errorf("a hit rewrote %s", name)
		}
	}
	if len(*warnings) > 0 {
		t.Errorf("warnings: %q", *warnings)
	}
	if _, err := os.Stat(filepath.Join(s.CacheDir, "last-prune")); err != nil {
		t.Errorf("Build did not prune the cache: %v", err)
	}
}

// A hit is served from the entry, not compressed again: an entry holding another valid gzip of
// the same tar (what another compressor makes) is what the image gets.
func TestLayerCacheHitIsNotCompressedAgain(t *testing.T) {
	s, warnings := cached(t)
	miss := fresh(t, s)
	bin := binaryLayerOf(t, miss, 0)
	diffID, err := bin.DiffID()
	must(t, err)
	rc, err := bin.Uncompressed()
	must(t, err)
	tb, err := io.ReadAll(rc)
	must(t, err)
	var other bytes.Buffer
	w, err := stdgzip.NewWriterLevel(&other, stdgzip.BestCompression)
	must(t, err)
	_, err = w.Write(tb)
	must(t, err)
	must(t, w.Close())
	c := &layercache.Cache{Dir: s.CacheDir}
	must(t, c.Put(layerKey(types.OCILayer, appGzip, diffID), other.Bytes(), hashOf(other.Bytes())))

	hit := fresh(t, s)
	got := binaryLayerOf(t, hit, 0)
	if d, _ := got.Digest(); d != hashOf(other.Bytes()) {
		d0, _ := bin.Digest()
		t.Errorf("binary layer %s, want the entry's %s (compressed again: %s)", d, hashOf(other.Bytes()), d0)
	}
	if d, _ := got.DiffID(); d != diffID {
		t.Errorf("diff ID %s, want %s", d, diffID)
	}
	if len(*warnings) > 0 {
		t.Errorf("warnings: %q", *warnings)
	}
}

func TestLayerCacheMissesAChangedBinary(t *testing.T) {
	s, _ := cached(t)
	first := fresh(t, s)
	before := entries(t, s.CacheDir)

	changed := filepath.Join(t.TempDir(), "tiny")
	content := append(readFile(t, s.Binaries[0].Path), "one more byte"...)
	must(t, os.WriteFile(changed, content, 0o755))
	s.Binaries[0] = Binary{Platform: s.Binaries[0].Platform, Path: changed, SHA256: testenv.FileSHA256(t, changed)}
	second := fresh(t, s)

	after := entries(t, s.CacheDir)
	if len(after) != len(before)+1 {
		t.Errorf("%d entries, then %d: want one more, the changed binary's", len(before), len(after))
	}
	files, _ := layerFiles(t, binaryLayerOf(t, second, 0))
	if got := files["/ko-app/tiny"].data; !bytes.Equal(got, content) {
		t.Errorf("the image holds %d bytes at /ko-app/tiny, want the changed binary's %d", len(got), len(content))
	}
	if digest(t, first) == digest(t, second) {
		t.Error("a changed binary gave the same image")
	}
	d0, _ := binaryLayerOf(t, first, 1).Digest()
	d1, _ := binaryLayerOf(t, second, 1).Digest()
	if d0 != d1 {
		t.Errorf("the unchanged platform's binary layer changed: %s, then %s", d0, d1)
	}
}

// A damaged entry is said, never used, and written again whole.
func TestLayerCacheRebuildsDamagedEntries(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string, c *layercache.Cache, key string)
		want   string
	}{
		{"truncated", func(t *testing.T, p string, _ *layercache.Cache, _ string) {
			fi, err := os.Stat(p)
			must(t, err)
			must(t, os.Truncate(p, fi.Size()/2))
		}, "truncated"},
		{"one byte altered", func(t *testing.T, p string, _ *layercache.Cache, _ string) {
			b := readFile(t, p)
			b[len(b)/2] ^= 1
			must(t, os.WriteFile(p, b, 0o644))
		}, "altered"},
		{"another layer's blob, consistent header", func(t *testing.T, _ string, c *layercache.Cache, key string) {
			blob, err := appGzip.compress([]byte("not this layer's tar"))
			must(t, err)
			must(t, c.Put(key, blob, hashOf(blob)))
		}, "does not match the layer's tar"},
		{"not gzip, consistent header", func(t *testing.T, _ string, c *layercache.Cache, key string) {
			blob := bytes.Repeat([]byte("plain"), 100)
			must(t, c.Put(key, blob, hashOf(blob)))
		}, "not a gzip stream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, warnings := cached(t)
			s.Binaries = s.Binaries[:1]
			s.DataDir = ""
			want := fresh(t, s)
			bin := binaryLayerOf(t, want, 0)
			diffID, err := bin.DiffID()
			must(t, err)
			key := layerKey(types.OCILayer, appGzip, diffID)
			p := filepath.Join(s.CacheDir, key+".layer")
			good := readFile(t, p)
			tc.damage(t, p, &layercache.Cache{Dir: s.CacheDir}, key)

			got := fresh(t, s)
			if digest(t, got) != digest(t, want) {
				t.Errorf("build over a damaged entry: %s, want %s", digest(t, got), digest(t, want))
			}
			if len(*warnings) != 1 || !strings.Contains((*warnings)[0], p) || !strings.Contains((*warnings)[0], tc.want) ||
				!strings.Contains((*warnings)[0], "compressing the layer again") {
				t.Errorf("warnings %q: want one naming %s, %q and that the layer was compressed again", *warnings, p, tc.want)
			}
			if !bytes.Equal(readFile(t, p), good) {
				t.Error("the entry was not written again whole")
			}
			readAll(t, binaryLayerOf(t, got, 0))
		})
	}
}

// readAll checks a layer with the standard library alone: its blob is one gzip stream whose
// digest and size are the layer's, and it inflates to its diff ID.
func readAll(t *testing.T, l v1.Layer) {
	t.Helper()
	rc, err := l.Compressed()
	must(t, err)
	blob, err := io.ReadAll(rc)
	must(t, err)
	must(t, rc.Close())
	d, _ := l.Digest()
	size, _ := l.Size()
	if hashOf(blob) != d || int64(len(blob)) != size {
		t.Fatalf("blob of %d bytes, %s; the layer says %d bytes, %s", len(blob), hashOf(blob), size, d)
	}
	br := bytes.NewReader(blob)
	zr, err := stdgzip.NewReader(br)
	must(t, err)
	zr.Multistream(false)
	if zr.Name != "" || !zr.ModTime.IsZero() || zr.Comment != "" || len(zr.Extra) > 0 {
		t.Errorf("gzip header carries name %q, time %v, comment %q, extra %q", zr.Name, zr.ModTime, zr.Comment, zr.Extra)
	}
	tb, err := io.ReadAll(zr)
	must(t, err)
	if br.Len() != 0 {
		t.Errorf("%d bytes after the gzip stream", br.Len())
	}
	if diffID, _ := l.DiffID(); hashOf(tb) != diffID {
		t.Errorf("inflates to %s, the layer says %s", hashOf(tb), diffID)
	}
	if _, err := tar.NewReader(bytes.NewReader(tb)).Next(); err != nil {
		t.Errorf("not a tar: %v", err)
	}
	mt, _ := l.MediaType()
	if mt != types.OCILayer {
		t.Errorf("media type %s", mt)
	}
}

// Every layer scratchkit writes is standard gzip, compressed afresh or read from the cache.
func TestLayersAreStandardGzip(t *testing.T) {
	s, _ := cached(t)
	for _, what := range []string{"compressed", "from the cache"} {
		r := fresh(t, s)
		for _, p := range r.Platforms {
			ls, err := p.Image.Layers()
			must(t, err)
			if len(ls) != 3 {
				t.Fatalf("%s: %d layers, want static base, data and binary", p.Platform, len(ls))
			}
			for i, l := range ls {
				t.Run(fmt.Sprintf("%s/%s/%d", what, p.Platform, i), func(t *testing.T) { readAll(t, l) })
			}
		}
	}
}

// The codec's output is pinned: the same input gives the same bytes on every machine and
// architecture (checked on amd64, 386, and arm64 and arm under qemu-user). A klauspost/compress
// upgrade that changes its output changes every layer digest (and the cache key, through the
// version): then update these digests and docs/bases.md (TestBasesDoc -update).
func TestCodecOutputIsPinned(t *testing.T) {
	for _, tc := range []struct {
		c    *codec
		want string
	}{
		{appGzip, "sha256:756e2cd73d9a287314e8b8175ebadb6951166f2626a4bb80c79496206e8f9ece"},
		{baseGzip, "sha256:5bdc164baba2756b8b33e48a3de0a7dda034fe3635a5432a808d9c08f2c32572"},
	} {
		out, err := tc.c.compress(codecProbe())
		must(t, err)
		if got := hashOf(out).String(); got != tc.want {
			t.Errorf("level %d compresses the probe to %s, want %s (klauspost/compress upgraded?)", tc.c.level, got, tc.want)
		}
	}
}

// Processes building at once with one cache directory all succeed with the same image, and none
// sees a partial entry.
func TestLayerCacheSharedByConcurrentProcesses(t *testing.T) {
	if os.Getenv("SCRATCHKIT_LAYERCACHE_HELPER") != "" {
		t.Skip("helper process")
	}
	s, _ := cached(t)
	plain := s
	plain.CacheDir, plain.Warn = "", nil
	want := digest(t, fresh(t, plain)).String()
	exe, err := os.Executable()
	must(t, err)
	for round := 1; round <= 2; round++ {
		const n = 4
		outs := make([]bytes.Buffer, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			cmd := exec.Command(exe, "-test.run=^TestLayerCacheHelperProcess$", "-test.v")
			cmd.Env = append(os.Environ(),
				"SCRATCHKIT_LAYERCACHE_HELPER="+s.CacheDir,
				"SCRATCHKIT_LAYERCACHE_DATA="+s.DataDir,
				"SCRATCHKIT_LAYERCACHE_BINARIES="+s.Binaries[0].Path+","+s.Binaries[1].Path)
			cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
			must(t, cmd.Start())
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = cmd.Wait() }()
		}
		wg.Wait()
		for i := range n {
			out := outs[i].String()
			if errs[i] != nil || !strings.Contains(out, "digest "+want+"\n") || strings.Contains(out, "warning:") {
				t.Errorf("round %d, process %d: %v, want digest %s and no warning:\n%s", round, i, errs[i], want, out)
			}
		}
	}
	if got := len(entries(t, s.CacheDir)); got != 4 {
		t.Errorf("%d entries, want 4", got)
	}
}

// TestLayerCacheHelperProcess is one process of TestLayerCacheSharedByConcurrentProcesses.
func TestLayerCacheHelperProcess(t *testing.T) {
	dir := os.Getenv("SCRATCHKIT_LAYERCACHE_HELPER")
	if dir == "" {
		t.Skip("run by TestLayerCacheSharedByConcurrentProcesses")
	}
	s := baseSpec()
	s.DataDir, s.CacheDir = os.Getenv("SCRATCHKIT_LAYERCACHE_DATA"), dir
	s.Warn = func(m string) { fmt.Printf("warning: %s\n", m) }
	bins := strings.Split(os.Getenv("SCRATCHKIT_LAYERCACHE_BINARIES"), ",")
	for i, p := range []string{"linux/amd64", "linux/arm64"} {
		s.Binaries = append(s.Binaries, Binary{Platform: platform.MustParse(p), Path: bins[i], SHA256: testenv.FileSHA256(t, bins[i])})
	}
	fmt.Printf("digest %s\n", digest(t, build(t, s)))
}

// A cache directory that cannot be written is said once, and the build goes on without it.
func TestLayerCacheUnwritable(t *testing.T) {
	s, warnings := cached(t)
	plain := s
	plain.CacheDir = ""
	want := digest(t, fresh(t, plain))
	file := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(file, nil, 0o644))
	s.CacheDir = filepath.Join(file, "layers")
	if got := digest(t, fresh(t, s)); got != want {
		t.Errorf("digest %s, want %s", got, want)
	}
	if len(*warnings) != 1 || !strings.Contains((*warnings)[0], s.CacheDir) || !strings.Contains((*warnings)[0], "building without the layer cache") {
		t.Errorf("warnings %q: want one naming %s", *warnings, s.CacheDir)
	}
}

// Entries of the layer cache are what the key says: a layer of another codec, media type or
// content is another entry.
func TestLayerKeyCoversTheCodec(t *testing.T) {
	d := hashOf([]byte("tar"))
	keys := []string{
		layerKey(types.OCILayer, appGzip, d),
		layerKey(types.OCILayer, baseGzip, d),
		layerKey(types.DockerLayer, appGzip, d),
		layerKey(types.OCILayer, appGzip, hashOf([]byte("another tar"))),
	}
	sort.Strings(keys)
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] {
			t.Errorf("two layers share the key %s", keys[i])
		}
	}
	for _, c := range []*codec{appGzip, baseGzip} {
		if id := c.ID(); !strings.Contains(id, "github.com/klauspost/compress@v") || !strings.Contains(id, fmt.Sprintf("level %d", c.level)) {
			t.Errorf("codec ID %q does not name the library's version and the level", id)
		}
	}
}

// A layer larger than a segment is one standard gzip member whatever the number of CPUs:
// compress/gzip reads back the input, and the bytes do not depend on GOMAXPROCS.
func TestCodecSegments(t *testing.T) {
	c := &codec{level: appGzip.level, segment: 64 << 10}
	var data []byte
	for len(data) < 5*c.segment+123 {
		data = append(data, codecProbe()...)
	}
	data = data[:5*c.segment+123]
	prev := runtime.GOMAXPROCS(1)
	one, err := c.compress(data)
	runtime.GOMAXPROCS(prev)
	must(t, err)
	many, err := c.compress(data)
	must(t, err)
	if !bytes.Equal(one, many) {
		t.Fatal("the segmented output depends on GOMAXPROCS")
	}
	r, err := stdgzip.NewReader(bytes.NewReader(many))
	must(t, err)
	r.Multistream(false)
	back, err := io.ReadAll(r)
	must(t, err)
	if !bytes.Equal(back, data) {
		t.Fatalf("compress/gzip reads back %d bytes, want the %d compressed", len(back), len(data))
	}
	if err := gzipMatches(many, crc32.ChecksumIEEE(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if c.ID() == (&codec{level: c.level}).ID() {
		t.Error("the segmented codec's ID is the one-stream codec's: cached layers would mix")
	}
	small, err := c.compress(data[:c.segment])
	must(t, err)
	whole, err := (&codec{level: c.level}).compress(data[:c.segment])
	must(t, err)
	if !bytes.Equal(small, whole) {
		t.Error("an input of one segment is not compressed as one stream")
	}
}

// CompressNone's layers are standard gzip holding the same tars as CompressGzip's (the same diff
// IDs), stored rather than compressed, and are not put in the layer cache; the base is
// compressed as always.
func TestCompressNoneStoresTheSameLayers(t *testing.T) {
	s, warnings := cached(t)
	gz := fresh(t, s)
	before := entries(t, s.CacheDir)
	s.Compression = CompressNone
	none := fresh(t, s)
	for i, p := range none.Platforms {
		ls, err := p.Image.Layers()
		must(t, err)
		want, err := gz.Platforms[i].Image.Layers()
		must(t, err)
		for j, l := range ls {
			readAll(t, l)
			d1, _ := l.DiffID()
			d2, _ := want[j].DiffID()
			if d1 != d2 {
				t.Errorf("%s layer %d: diff ID %s, want CompressGzip's %s", p.Platform, j, d1, d2)
			}
			size, _ := l.Size()
			gzSize, _ := want[j].Size()
			switch {
			case j == 0 && size != gzSize:
				t.Errorf("%s: the static base is %d bytes, want it compressed as ever (%d)", p.Platform, size, gzSize)
			case j > 0:
				rc, err := l.Uncompressed()
				must(t, err)
				tb, err := io.ReadAll(rc)
				must(t, err)
				if size < int64(len(tb)) || size <= gzSize {
					t.Errorf("%s layer %d: %d bytes for a %d-byte tar (gzip: %d): want it stored", p.Platform, j, size, len(tb), gzSize)
				}
			}
		}
	}
	if after := entries(t, s.CacheDir); len(after) != len(before) {
		t.Errorf("the layer cache went from %d to %d entries: stored layers are not cached", len(before), len(after))
	}
	if len(*warnings) > 0 {
		t.Errorf("warnings: %q", *warnings)
	}
}
