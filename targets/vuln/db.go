package vuln

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Bounds on what is read from a database, which may come from anywhere. The Go vulnerability
// database is far below them: its index of modules is about a megabyte, an entry a few
// kilobytes, and a binary's modules have a few hundred entries between them.
const (
	MaxDBInfoBytes  = 64 << 10 // index/db.json
	MaxModulesBytes = 64 << 20 // index/modules.json, uncompressed
	MaxEntryBytes   = 4 << 20  // one ID/<id>.json, uncompressed
	MaxEntries      = 20_000   // entries fetched for one Scan
)

// Options configures Open.
type Options struct {
	// HTTPClient fetches http(s) databases. Default: the environment's proxy settings, 10
	// seconds to connect and two minutes per request.
	HTTPClient *http.Client
	// CacheDir keeps each result by the binary's sha256, the database URL and modified time
	// and the scanner version, so that an unchanged binary is not scanned again against an
	// unchanged database. Empty: no cache.
	CacheDir string
	// Parallel bounds the scans running at once. Default: GOMAXPROCS.
	Parallel int
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// InfoMaxAge is how long an http(s) database's index/db.json fetched into CacheDir is used
	// again instead of asked for, so that runs in a row make no request when their binaries
	// were scanned already; a database changed meanwhile is seen once it has passed. Zero: ask
	// every time. A file:// database is always read.
	InfoMaxAge time.Duration
}

// DefaultInfoMaxAge is the InfoMaxAge of scratchkit's Verify: vuln.go.dev changes a few times a
// day, and a check an hour behind it is what a run in a fresh CI job sees at worst anyway.
const DefaultInfoMaxAge = time.Hour

// DB is a vulnerability database, opened once for any number of scans.
type DB struct {
	// URL is the database as given, without a trailing slash.
	URL string
	// Modified is its modified time (index/db.json): the time of its newest entry. It is zero
	// for a database that states none (golang.org/x/vulndb's cmd/indexdb writes the zero time,
	// which govulncheck accepts too): such a database is scanned, its results never cached.
	Modified time.Time

	opts Options
	src  source

	mu      sync.Mutex
	dbInfo  []byte              // index/db.json as read
	modules []byte              // index/modules.json as read, once fetched
	index   map[string][]string // module path → IDs
	entries map[string][]byte   // ID → ID/<id>.json as read
}

// Open reads the database's index/db.json at url: an https:// or http:// server in the layout
// of vuln.go.dev (what govulncheck reads, gzip-compressed files: index/db.json.gz, …), or a
// file:// directory in the same layout uncompressed (index/db.json, index/modules.json,
// ID/<id>.json) — a mirror, or an offline copy.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	u := strings.TrimRight(strings.TrimSpace(rawURL), "/")
	src, err := newSource(u, opts.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", u, err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Parallel <= 0 {
		opts.Parallel = runtime.GOMAXPROCS(0)
	}
	// A remote database's metadata is used again for InfoMaxAge; it is checked as if fetched.
	var recent *infoCache
	if _, remote := src.(httpSource); remote && opts.CacheDir != "" && opts.InfoMaxAge > 0 {
		recent = &infoCache{path: filepath.Join(opts.CacheDir, "info", cacheKey("", u, time.Time{}, "index/db.json")+".json"), url: u}
	}
	data, fetched := recent.get(opts.Now(), opts.InfoMaxAge), false
	if data == nil {
		if data, err = src.get(ctx, "index/db", MaxDBInfoBytes); err != nil {
			return nil, fmt.Errorf("vulnerability database %s: %w", u, err)
		}
		fetched = true
	}
	var info struct {
		Modified time.Time `json:"modified"`
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("vulnerability database %s: index/db.json is not the database's metadata: %v", u, err)
	}
	if fetched {
		recent.put(data, opts.Now())
	}
	return &DB{URL: u, Modified: info.Modified.UTC(), opts: opts, src: src, dbInfo: data, entries: map[string][]byte{}}, nil
}

// idRE is what an entry ID may look like: it becomes a file name.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// fetch reads index/modules.json once, and the entries of the given modules that it does not
// hold yet.
func (db *DB) fetch(ctx context.Context, modules map[string]bool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.index == nil {
		data, err := db.src.get(ctx, "index/modules", MaxModulesBytes)
		if err != nil {
			return fmt.Errorf("vulnerability database %s: %w", db.URL, err)
		}
		var list []struct {
			Path  string `json:"path"`
			Vulns []struct {
				ID string `json:"id"`
			} `json:"vulns"`
		}
		if err := json.Unmarshal(data, &list); err != nil {
			return fmt.Errorf("vulnerability database %s: index/modules.json is not an index of modules: %v", db.URL, err)
		}
		index := map[string][]string{}
		for _, m := range list {
			for _, v := range m.Vulns {
				if !idRE.MatchString(v.ID) {
					return fmt.Errorf("vulnerability database %s: index/modules.json lists %q under %s, which is not an entry ID", db.URL, v.ID, m.Path)
				}
				index[m.Path] = append(index[m.Path], v.ID)
			}
		}
		db.modules, db.index = data, index
	}
	var want []string
	seen := map[string]bool{}
	for m := range modules {
		for _, id := range db.index[m] {
			if _, ok := db.entries[id]; !ok && !seen[id] {
				seen[id] = true
				want = append(want, id)
			}
		}
	}
	if len(db.entries)+len(want) > MaxEntries {
		return fmt.Errorf("vulnerability database %s: the binaries' modules have %d entries, over the %d one scan reads (vuln.MaxEntries)", db.URL, len(db.entries)+len(want), MaxEntries)
	}
	got := make([][]byte, len(want))
	errs := make([]error, len(want))
	parallel(len(want), 8, func(i int) { got[i], errs[i] = db.entry(ctx, want[i]) })
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("vulnerability database %s: %w", db.URL, err)
	}
	for i, id := range want {
		db.entries[id] = got[i]
	}
	return nil
}

// entry reads ID/<id>.json and checks that it is the entry of that ID.
func (db *DB) entry(ctx context.Context, id string) ([]byte, error) {
	data, err := db.src.get(ctx, "ID/"+id, MaxEntryBytes)
	if err != nil {
		return nil, err
	}
	var e struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("ID/%s.json is not a vulnerability entry: %v", id, err)
	}
	if e.ID != id {
		return nil, fmt.Errorf("ID/%s.json holds the entry of %q", id, e.ID)
	}
	return data, nil
}

// writeCopy writes what was fetched into dir in the database layout govulncheck reads from a
// file:// URL.
func (db *DB) writeCopy(dir string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	files := map[string][]byte{"index/db.json": db.dbInfo, "index/modules.json": db.modules}
	for id, data := range db.entries {
		files["ID/"+id+".json"] = data
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// source reads one endpoint of a database ("index/db", "ID/GO-2024-0001"), at most limit bytes
// uncompressed.
type source interface {
	get(ctx context.Context, endpoint string, limit int64) ([]byte, error)
}

func newSource(u string, client *http.Client) (source, error) {
	p, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	switch p.Scheme {
	case "https", "http":
		if p.Host == "" {
			return nil, errors.New("the URL names no host")
		}
		if client == nil {
			client = defaultClient()
		}
		return httpSource{base: u, client: client}, nil
	case "file":
		dir, err := FilePath(p)
		if err != nil {
			return nil, err
		}
		return fileSource{dir: dir}, nil
	}
	return nil, fmt.Errorf("scheme %q: want https://, http:// or file://", p.Scheme)
}

// defaultClient honours the environment's proxy settings and gives up soon on a network that
// drops packets (a firewall, a machine offline): a connection gets 10 seconds, a whole request
// two minutes.
func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Timeout: 2 * time.Minute, Transport: t}
}

// FilePath is the directory a file:// URL names: file:///srv/vulndb, or on Windows
// file:///C:/vulndb.
func FilePath(u *url.URL) (string, error) {
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("file URL %s names host %q; write file:///absolute/path", u, u.Host)
	}
	p := u.Path
	if len(p) >= 3 && p[0] == '/' && p[2] == ':' { // /C:/…
		p = p[1:]
	}
	p = filepath.FromSlash(p)
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("file URL %s is not an absolute path; write file:///absolute/path", u)
	}
	return p, nil
}

// httpSource reads a database served over http(s), gzip-compressed as vuln.go.dev serves it.
type httpSource struct {
	base   string
	client *http.Client
}

func (s httpSource) get(ctx context.Context, endpoint string, limit int64) ([]byte, error) {
	u := s.base + "/" + endpoint + ".json.gz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: not gzip: %v", u, err)
	}
	data, err := readBounded(zr, limit)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return data, nil
}

// fileSource reads a database directory.
type fileSource struct{ dir string }

func (s fileSource) get(ctx context.Context, endpoint string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := filepath.Join(s.dir, filepath.FromSlash(endpoint)+".json")
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	data, err := readBounded(f, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return data, nil
}

// readBounded reads r to its end, failing past limit bytes.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("over %d bytes, more than a vulnerability database holds there", limit)
	}
	return b.Bytes(), nil
}
