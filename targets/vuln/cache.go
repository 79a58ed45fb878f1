package vuln

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
)

// maxCachedBytes bounds a cached result read back.
const maxCachedBytes = 64 << 20

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
	if db.opts.CacheDir == "" {
		return nil, false
	}
	f, err := os.Open(db.cachePath(key))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	data, err := readBounded(f, maxCachedBytes)
	if err != nil {
		return nil, false
	}
	var r Result
	if json.Unmarshal(data, &r) != nil || r.DB != db.URL || !r.DBModified.Equal(db.Modified) {
		return nil, false
	}
	return &r, true
}

// store keeps a result; failing to is not an error (the next run scans again).
func (db *DB) store(key string, r *Result) {
	if db.opts.CacheDir == "" {
		return
	}
	data, err := json.Marshal(r)
	if err != nil {
		return
	}
	p := db.cachePath(key)
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		_ = atomicfile.WriteFile(p, data, 0o644)
	}
}
