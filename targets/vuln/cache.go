package vuln

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/internal/prunemark"
)

// maxCachedBytes bounds a cached result read back.
const maxCachedBytes = 64 << 20

// The result cache holds an entry per binary and database version, and a database changes
// daily: entries unused for CacheMaxAge are removed, by a walk at most once per pruneEvery.
const (
	CacheMaxAge = 30 * 24 * time.Hour
	pruneEvery  = 24 * time.Hour
	touchEvery  = 24 * time.Hour // a hit refreshes its entry's time at most this often
)

var entryRE = regexp.MustCompile(`^[0-9a-f]{64}\.json$`)

// cacheKey names the result of scanning the binary whose sha256 is sum with this scanner
// version against the database at url as of modified.
func cacheKey(version, url string, modified time.Time, sum string) string {
	h := sha256.Sum256([]byte(version + "\n" + url + "\n" + modified.UTC().Format(time.RFC3339Nano) + "\n" + sum))
	return hex.EncodeToString(h[:])
}

func (db *DB) cachePath(key string) string {
	return filepath.Join(db.opts.CacheDir, key[:2], key+".json")
}

// cached returns the stored result of key. A missing, unreadable or damaged entry is a miss:
// the binary is scanned again.
func (db *DB) cached(key string) (*Result, bool) {
	if db.opts.CacheDir == "" || key == "" {
		return nil, false
	}
	var r Result
	if !readJSON(db.cachePath(key), maxCachedBytes, &r) || r.DB != db.URL || !r.DBModified.Equal(db.Modified) {
		return nil, false
	}
	prunemark.Touch(db.cachePath(key), touchEvery, db.opts.Now())
	return &r, true
}

// store keeps a result; failing to is not an error (the next run scans again).
func (db *DB) store(key string, r *Result) {
	if db.opts.CacheDir != "" && key != "" {
		writeJSON(db.cachePath(key), r)
	}
}

// readJSON reads at most limit bytes of JSON at path into v, reporting whether it could.
func readJSON(path string, limit int64, v any) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	data, err := readBounded(f, limit)
	return err == nil && json.Unmarshal(data, v) == nil
}

// writeJSON writes v at path, whole or not at all; failing to is not an error for a cache.
func writeJSON(path string, v any) {
	data, err := json.Marshal(v)
	if err == nil && os.MkdirAll(filepath.Dir(path), 0o755) == nil {
		_ = atomicfile.WriteCache(path, 0o644, func(w io.Writer) error { _, err := w.Write(data); return err })
	}
}

// prune removes the cache entries unused for CacheMaxAge, at most once per pruneEvery; failing
// to is not an error (the entries stay until the next prune).
func (db *DB) prune() {
	dir := db.opts.CacheDir
	if dir == "" {
		return
	}
	now := db.opts.Now()
	if !prunemark.Due(dir, pruneEvery, now) {
		return
	}
	subs, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, sub := range subs {
		if !sub.IsDir() || len(sub.Name()) != 2 {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(dir, sub.Name()))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !entryRE.MatchString(e.Name()) || !strings.HasPrefix(e.Name(), sub.Name()) {
				continue
			}
			if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > CacheMaxAge {
				_ = os.Remove(filepath.Join(dir, sub.Name(), e.Name()))
			}
		}
	}
	_ = prunemark.Done(dir, now)
}

// infoCache keeps a remote database's index/db.json with the time it was fetched. A nil
// infoCache keeps nothing.
type infoCache struct {
	path, url string
}

type infoEntry struct {
	URL     string          `json:"url"`
	Fetched time.Time       `json:"fetched"`
	Info    json.RawMessage `json:"info"`
}

// get returns the kept index/db.json when it was fetched from this URL less than maxAge before
// now (and not after now: a clock set back makes it stale); else nil.
func (c *infoCache) get(now time.Time, maxAge time.Duration) []byte {
	if c == nil {
		return nil
	}
	var e infoEntry
	if !readJSON(c.path, 2*MaxDBInfoBytes, &e) || e.URL != c.url || e.Fetched.After(now) || now.Sub(e.Fetched) >= maxAge || len(e.Info) == 0 {
		return nil
	}
	return e.Info
}

// put keeps info, fetched at now; failing to is not an error (the next run asks again).
func (c *infoCache) put(info []byte, now time.Time) {
	if c != nil && json.Valid(info) {
		writeJSON(c.path, infoEntry{URL: c.url, Fetched: now.UTC(), Info: info})
	}
}
