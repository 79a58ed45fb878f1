// Package layercache keeps compressed layers on disk under a key that names everything their
// bytes depend on, so that a build whose layer has not changed reads it back instead of
// compressing it again (the idea of ko's KOCACHE).
//
// An entry is one file, DIR/KEY.layer: a header line naming the key, the blob's digest and size,
// then the blob. It is written through a temporary file renamed into place, so a reader sees a
// whole entry or none, and processes sharing a directory race harmlessly: a key always holds the
// same bytes, and the last rename wins. Entries are not synced to disk (atomicfile.WriteCache):
// a crash may leave one damaged, which is what Get checks for anyway. Nothing read back is
// trusted: Get checks the header, the size and the sha256 of the blob, then the caller's own
// check, before it returns a blob; an entry that fails is removed and reported, and the caller
// builds the blob again.
//
// Entries unused for MaxAge are pruned, and the oldest go first when the directory holds more
// than MaxBytes; Prune does the work at most once a day.
package layercache

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/internal/prunemark"
)

// Limits of a cache; the zero values of Cache's fields mean these.
const (
	DefaultMaxAge   = 30 * 24 * time.Hour
	DefaultMaxBytes = 2 << 30
)

const (
	magic      = "scratchkit-layer 1" // how an entry's header starts; bump on a format change
	suffix     = ".layer"
	maxHeader  = 256            // bytes of header, newline included
	pruneEvery = 24 * time.Hour // Prune walks the directory at most this often
	touchEvery = time.Hour      // a hit refreshes an entry's time at most this often
	stale      = 24 * time.Hour // a temporary file this old belongs to a dead writer
)

// Errors of Get besides those of the file system, which say that the cache cannot be read.
var (
	// ErrMiss: the cache has no entry for the key.
	ErrMiss = errors.New("not in the layer cache")
	// ErrDamaged: the entry failed a check and was removed.
	ErrDamaged = errors.New("damaged layer cache entry")
)

var keyRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Cache is a directory of layer blobs by key.
type Cache struct {
	// Dir holds the entries; it is created on the first Put.
	Dir string
	// MaxAge is how long an entry is kept unused. Default DefaultMaxAge.
	MaxAge time.Duration
	// MaxBytes bounds the entries' total size. Default DefaultMaxBytes.
	MaxBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Key derives a cache key from the parts that determine a blob's bytes.
func Key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *Cache) path(key string) string { return filepath.Join(c.Dir, key+suffix) }

// Get returns the blob stored under key and its digest. The blob is at most limit bytes, matches
// the digest and size its header records, and passed check (when not nil).
//
// A missing entry (or directory) gives ErrMiss. An entry that fails a check is removed and gives
// an ErrDamaged error that says which entry and why. Any other error says the file system did not
// let the entry be read. In every case the caller builds the blob and Puts it.
func (c *Cache) Get(key string, limit int64, check func(blob []byte) error) ([]byte, v1.Hash, error) {
	if !keyRE.MatchString(key) {
		return nil, v1.Hash{}, fmt.Errorf("layer cache: key %q is not 64 hex digits", key)
	}
	p := c.path(key)
	blob, digest, err := c.read(p, key, limit)
	if err == nil && check != nil {
		err = check(blob)
	}
	var ioErr unreadable
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return nil, v1.Hash{}, ErrMiss
	case errors.As(err, &ioErr):
		return nil, v1.Hash{}, fmt.Errorf("layer cache: %w", ioErr.error)
	case err != nil:
		if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return nil, v1.Hash{}, fmt.Errorf("%w %s: %v, and removing it failed: %v", ErrDamaged, p, err, rerr)
		}
		return nil, v1.Hash{}, fmt.Errorf("%w %s: %v; removed it", ErrDamaged, p, err)
	}
	prunemark.Touch(p, touchEvery, c.now())
	return blob, digest, nil
}

// unreadable is a file system error of read, as opposed to what it found wrong in an entry.
type unreadable struct{ error }

func (u unreadable) Unwrap() error { return u.error }

// read reads and checks the entry at p.
func (c *Cache) read(p, key string, limit int64) ([]byte, v1.Hash, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, v1.Hash{}, unreadable{err}
	}
	if !fi.Mode().IsRegular() {
		return nil, v1.Hash{}, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	if fi.Size() > limit+maxHeader {
		return nil, v1.Hash{}, fmt.Errorf("%d bytes, more than the %d a blob of this layer can take", fi.Size(), limit+maxHeader)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, v1.Hash{}, unreadable{err}
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, v1.Hash{}, unreadable{err}
	}
	if !fi.Mode().IsRegular() || fi.Size() > limit+maxHeader {
		return nil, v1.Hash{}, fmt.Errorf("changed while being opened")
	}
	data, err := io.ReadAll(io.LimitReader(f, fi.Size()+1))
	if err != nil {
		return nil, v1.Hash{}, unreadable{err}
	}
	nl := bytes.IndexByte(data[:min(len(data), maxHeader)], '\n')
	if nl < 0 {
		return nil, v1.Hash{}, fmt.Errorf("no header line")
	}
	digest, size, err := parseHeader(string(data[:nl]), key)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	blob := data[nl+1:]
	if int64(len(blob)) != size {
		return nil, v1.Hash{}, fmt.Errorf("the blob has %d bytes, the header says %d (truncated?)", len(blob), size)
	}
	sum := sha256.Sum256(blob)
	if got := hex.EncodeToString(sum[:]); got != digest.Hex {
		return nil, v1.Hash{}, fmt.Errorf("the blob has digest sha256:%s, the header says %s (altered?)", got, digest)
	}
	return blob, digest, nil
}

// header is an entry's first line.
func header(key string, digest v1.Hash, size int) string {
	return fmt.Sprintf("%s %s %s %d\n", magic, key, digest, size)
}

func parseHeader(line, key string) (v1.Hash, int64, error) {
	rest, ok := strings.CutPrefix(line, magic+" ")
	f := strings.Fields(rest)
	if !ok || len(f) != 3 {
		return v1.Hash{}, 0, fmt.Errorf("header %q: want %q, the key, the digest and the size", clip(line), magic)
	}
	if f[0] != key {
		return v1.Hash{}, 0, fmt.Errorf("header names key %q, not the file's %s", clip(f[0]), key)
	}
	d, err := v1.NewHash(f[1])
	if err != nil || d.Algorithm != "sha256" {
		return v1.Hash{}, 0, fmt.Errorf("header digest %q: want sha256:<64 hex digits>", clip(f[1]))
	}
	size, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || size < 0 {
		return v1.Hash{}, 0, fmt.Errorf("header size %q: want a byte count", clip(f[2]))
	}
	return d, size, nil
}

// clip shortens what an entry says before an error repeats it.
func clip(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// Put stores blob, whose sha256 is digest, under key, replacing any entry there.
func (c *Cache) Put(key string, blob []byte, digest v1.Hash) error {
	if !keyRE.MatchString(key) {
		return fmt.Errorf("layer cache: key %q is not 64 hex digits", key)
	}
	if sum := sha256.Sum256(blob); digest.Algorithm != "sha256" || digest.Hex != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("layer cache: blob for %s does not have digest %s", key, digest)
	}
	return atomicfile.WriteCache(c.path(key), 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		if _, err := io.WriteString(bw, header(key, digest, len(blob))); err != nil {
			return err
		}
		if _, err := bw.Write(blob); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// Prune removes entries unused for MaxAge, then the least recently used ones while the entries
// take more than MaxBytes, and temporary files writers left a day ago or more. It walks the
// directory at most once a day (whichever process comes first), so calling it after every
// build costs one stat. A missing directory is not an error.
func (c *Cache) Prune() error {
	now := c.now()
	if !prunemark.Due(c.Dir, pruneEvery, now) {
		return nil
	}
	des, err := os.ReadDir(c.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("prune layer cache: %w", err)
	}
	maxAge, maxBytes := c.MaxAge, c.MaxBytes
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	type kept struct {
		name string
		used time.Time
		size int64
	}
	var entries []kept
	var total int64
	var errs []error
	remove := func(name string) {
		if err := os.Remove(filepath.Join(c.Dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, de := range des {
		name := de.Name()
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		switch {
		case isTemp(name):
			if now.Sub(fi.ModTime()) > stale {
				remove(name)
			}
		case strings.HasSuffix(name, suffix) && keyRE.MatchString(strings.TrimSuffix(name, suffix)):
			if now.Sub(fi.ModTime()) > maxAge {
				remove(name)
				continue
			}
			entries = append(entries, kept{name, fi.ModTime(), fi.Size()})
			total += fi.Size()
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].used.Before(entries[j].used) })
	for i := 0; total > maxBytes && i < len(entries); i++ {
		remove(entries[i].name)
		total -= entries[i].size
	}
	if err := prunemark.Done(c.Dir, now); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("prune layer cache %s: %w", c.Dir, err)
	}
	return nil
}

// isTemp reports whether name is a temporary file of atomicfile, as a write killed before its
// rename leaves it.
func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
}
