package vuln

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// The tests build testdata/vulnapp, which calls greet.Hello (inlined) and
// (*greet.Greeter).Greet of the module example.com/vulnmod v1.0.0 but not greet.Unused, the
// way Build does (stripped, trimmed, static), with the module served by a file:// module proxy
// made from testdata/vulnmod; and they write real databases in the vulnerability database
// layout that mark those functions vulnerable.

func TestMain(m *testing.M) { testenv.Main(m) }

// testBinaries returns the test program built for amd64 and arm64, once per test process.
func testBinaries(t *testing.T) map[string]string {
	t.Helper()
	root := testenv.Fixture(t, "vulnapp", writeTestProgram)
	out := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		// A module cache of its own: the shared one may hold another example.com/vulnmod.
		out[arch] = testenv.GoBuild(t, testenv.GoProgram{Dir: filepath.Join(root, "vulnapp"), Flags: []string{"-trimpath", "-ldflags=-s -w"},
			Env: []string{"GOOS=linux", "GOARCH=" + arch, "GOPROXY=file://" + filepath.ToSlash(filepath.Join(root, "proxy")),
				"GOMODCACHE=" + filepath.Join(root, "modcache"), "GOSUMDB=off", "GOFLAGS=-mod=mod -modcacherw -buildvcs=false", "GOWORK=off", "GOTOOLCHAIN=local"}})
	}
	return out
}

// writeTestProgram writes, under root, a module proxy serving example.com/vulnmod v1.0.0 from
// testdata/vulnmod and the sources of testdata/vulnapp.
func writeTestProgram(root string) error {
	// The module proxy: example.com/vulnmod v1.0.0 from testdata/vulnmod.
	proxy := filepath.Join(root, "proxy")
	at := filepath.Join(proxy, "example.com", "vulnmod", "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return err
	}
	var zbuf bytes.Buffer
	mv := module.Version{Path: "example.com/vulnmod", Version: "v1.0.0"}
	if err := modzip.CreateFromDir(&zbuf, mv, "testdata/vulnmod"); err != nil {
		return err
	}
	gomod, err := os.ReadFile("testdata/vulnmod/go.mod")
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"list": []byte("v1.0.0\n"), "v1.0.0.info": []byte(`{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`),
		"v1.0.0.mod": gomod, "v1.0.0.zip": zbuf.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			return err
		}
	}
	src := filepath.Join(root, "vulnapp")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	for _, f := range []string{"go.mod", "main.go"} {
		data, err := os.ReadFile(filepath.Join("testdata", "vulnapp", f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(src, f), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

var dbTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testVulns mark greet.Hello (called), Greeter.Greet (called), greet.Unused (not called) and a
// module the program does not have.
var testVulns = []testenv.Vuln{
	{ID: "GO-2099-0001", Aliases: []string{"CVE-2099-1111"}, Summary: "Hello leaks", Module: "example.com/vulnmod", Package: "example.com/vulnmod/greet", Symbols: []string{"Hello"}, Fixed: "1.0.1"},
	{ID: "GO-2099-0002", Summary: "Unused is unsafe", Module: "example.com/vulnmod", Package: "example.com/vulnmod/greet", Symbols: []string{"Unused"}},
	{ID: "GO-2099-0003", Summary: "Greet overflows", Module: "example.com/vulnmod", Package: "example.com/vulnmod/greet", Symbols: []string{"Greeter.Greet"}, Fixed: "1.2.0"},
	{ID: "GO-2099-0004", Summary: "elsewhere", Module: "example.com/other", Package: "example.com/other", Fixed: "2.0.0"},
	{ID: "GO-2099-0005", Summary: "fixed before", Module: "example.com/vulnmod", Package: "example.com/vulnmod/greet", Symbols: []string{"Hello"}, Introduced: "0.1.0", Fixed: "0.9.0"},
}

func open(t *testing.T, url string, opts Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func findingByID(r *Result, id string) (Finding, bool) {
	for _, f := range r.Findings {
		if f.ID == id {
			return f, true
		}
	}
	return Finding{}, false
}

// TestScanStrippedBinary: on a stripped release build, a vulnerable function the program calls
// (even inlined, even a method) is reached; one it does not call is found but not reached; other
// modules and fixed versions are not found.
func TestScanStrippedBinary(t *testing.T) {
	bin := testBinaries(t)["amd64"]
	url := testenv.WriteVulnDB(t, t.TempDir(), dbTime, testVulns...)
	db := open(t, url, Options{})
	if !db.Modified.Equal(dbTime) {
		t.Errorf("modified %v, want %v", db.Modified, dbTime)
	}
	got := db.Scan(context.Background(), []Binary{{Path: bin}})
	if got[0].Err != nil {
		t.Fatal(got[0].Err)
	}
	r := got[0].Result
	if r.DB != url || !r.DBModified.Equal(dbTime) || r.Scanner != ScannerModule || r.ScannerVersion == "" || r.Finished.Before(r.Started) {
		t.Errorf("result metadata: %+v", r)
	}
	ids := []string{}
	for _, f := range r.Findings {
		ids = append(ids, f.ID)
	}
	if !slices.Equal(ids, []string{"GO-2099-0001", "GO-2099-0002", "GO-2099-0003"}) {
		t.Fatalf("findings %v, want GO-2099-0001..3:\n%+v", ids, r.Findings)
	}
	hello, _ := findingByID(r, "GO-2099-0001")
	if !hello.Reached() || !slices.Equal(hello.Symbols, []string{"example.com/vulnmod/greet.Hello"}) || hello.Module != "example.com/vulnmod" ||
		hello.Found != "v1.0.0" || hello.Fixed != "v1.0.1" || !slices.Equal(hello.Aliases, []string{"CVE-2099-1111"}) || hello.Summary != "Hello leaks" {
		t.Errorf("GO-2099-0001: %+v", hello)
	}
	unused, _ := findingByID(r, "GO-2099-0002")
	if unused.Reached() || !slices.Equal(unused.Packages, []string{"example.com/vulnmod/greet"}) || unused.Fixed != "" {
		t.Errorf("GO-2099-0002 (greet.Unused, not called): %+v", unused)
	}
	greet, _ := findingByID(r, "GO-2099-0003")
	if !slices.Equal(greet.Symbols, []string{"example.com/vulnmod/greet.Greeter.Greet"}) {
		t.Errorf("GO-2099-0003 (a method): %+v", greet)
	}
	for _, want := range []string{"GO-2099-0001 (CVE-2099-1111) in example.com/vulnmod v1.0.0, fixed in v1.0.1: example.com/vulnmod/greet.Hello in the binary (Hello leaks)",
		"GO-2099-0002 in example.com/vulnmod v1.0.0, not fixed yet: example.com/vulnmod/greet linked, its vulnerable functions not"} {
		if s := fmt.Sprint(r.Findings); !strings.Contains(s, want) {
			t.Errorf("descriptions lack %q:\n%s", want, s)
		}
	}

	// The policy: enforce fails on the reached ones only; report on none.
	if f := Failing(r, Enforce); len(f) != 2 || f[0].ID != "GO-2099-0001" || f[1].ID != "GO-2099-0003" {
		t.Errorf("enforce fails on %v, want GO-2099-0001 and GO-2099-0003", f)
	}
	if f := Failing(r, Report); len(f) != 0 {
		t.Errorf("report fails on %v", f)
	}
}

// TestIgnore: an unexpired entry (by ID or alias) takes a finding out of what enforce fails
// on; an expired one does not.
func TestIgnore(t *testing.T) {
	now := time.Date(2026, 5, 10, 15, 0, 0, 0, time.UTC)
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	r := &Result{Findings: []Finding{
		{ID: "GO-2099-0001", Aliases: []string{"CVE-2099-1111"}, Module: "m", Symbols: []string{"m.F"}},
		{ID: "GO-2099-0003", Module: "m", Symbols: []string{"m.G"}},
	}}
	ignore := []Ignore{
		{ID: "cve-2099-1111", Reason: "not exposed: F only runs on trusted input", Until: day("2026-05-10")}, // last day: today
		{ID: "GO-2099-0003", Reason: "waiting for 1.2.0", Until: day("2026-05-09")},                          // expired yesterday
	}
	if ignore[0].Expired(now) || !ignore[1].Expired(now) {
		t.Errorf("expired: %v %v, want false true", ignore[0].Expired(now), ignore[1].Expired(now))
	}
	Apply(r, ignore, now)
	if r.Findings[0].Ignored != ignore[0].Reason || r.Findings[1].Ignored != "" {
		t.Errorf("ignored: %+v", r.Findings)
	}
	if f := Failing(r, Enforce); len(f) != 1 || f[0].ID != "GO-2099-0003" {
		t.Errorf("enforce fails on %v, want only GO-2099-0003", f)
	}
	Apply(r, ignore, day("2026-05-11"))
	if r.Findings[0].Ignored != "" {
		t.Error("an entry past its date still ignores")
	}
}

// TestUnreachableDatabase: what cannot be read says which database and why.
func TestUnreachableDatabase(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	missing := FileURL(filepath.Join(t.TempDir(), "nothing-here"))
	for _, tc := range []struct{ url, want string }{
		{closed, "connection refused"},
		{missing, "no such file"},
		{"ftp://mirror.example/vulndb", `scheme "ftp"`},
		{"file://host/srv/db", "names host"},
		{"file:relative/db", "not an absolute path"},
	} {
		_, err := Open(context.Background(), tc.url, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "vulnerability database "+tc.url) {
			t.Errorf("Open(%s): %v, want an error naming it and %q", tc.url, err, tc.want)
		}
	}
}

// serveDB serves a database directory over HTTP the way vuln.go.dev does (gzip-compressed
// .json.gz files) and counts the requests per path.
func serveDB(t *testing.T, dir string) (*httptest.Server, func() map[string]int) {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		counts[r.URL.Path]++
		mu.Unlock()
		name, ok := strings.CutSuffix(r.URL.Path, ".gz")
		if !ok {
			http.NotFound(w, r)
			return
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		zw := gzip.NewWriter(w)
		zw.Write(data)
		zw.Close()
	}))
	t.Cleanup(srv.Close)
	return srv, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		c := counts
		counts = map[string]int{}
		return c
	}
}

// TestFetchOnceAndCache: two binaries scanned in parallel read the index and each entry once;
// a second run with the same binaries and an unchanged database reads index/db.json only and
// scans nothing; a changed database is scanned against again.
func TestFetchOnceAndCache(t *testing.T) {
	bins := testBinaries(t)
	dir := t.TempDir()
	testenv.WriteVulnDB(t, dir, dbTime, testVulns...)
	srv, requests := serveDB(t, dir)
	cache := t.TempDir()
	list := []Binary{{Path: bins["amd64"]}, {Path: bins["arm64"]}}

	got := open(t, srv.URL, Options{CacheDir: cache}).Scan(context.Background(), list)
	for i, s := range got {
		if s.Err != nil || s.Cached || len(s.Result.Findings) != 3 {
			t.Fatalf("binary %d: %+v", i, s)
		}
	}
	c := requests()
	for _, p := range []string{"/index/db.json.gz", "/index/modules.json.gz", "/ID/GO-2099-0001.json.gz", "/ID/GO-2099-0002.json.gz", "/ID/GO-2099-0003.json.gz", "/ID/GO-2099-0005.json.gz"} {
		if c[p] != 1 {
			t.Errorf("%s requested %d times, want once: %v", p, c[p], c)
		}
	}
	if c["/ID/GO-2099-0004.json.gz"] != 0 {
		t.Errorf("the entry of a module neither binary has was fetched: %v", c)
	}

	again := open(t, srv.URL, Options{CacheDir: cache}).Scan(context.Background(), list)
	for i, s := range again {
		if s.Err != nil || !s.Cached || len(s.Result.Findings) != 3 || !s.Result.Started.Equal(got[i].Result.Started) {
			t.Errorf("unchanged binary %d against an unchanged database: %+v", i, s)
		}
	}
	if c := requests(); len(c) != 1 || c["/index/db.json.gz"] != 1 {
		t.Errorf("a run with everything cached requested %v, want index/db.json.gz only", c)
	}

	testenv.WriteVulnDB(t, dir, dbTime.Add(time.Hour), testVulns[:1]...)
	changed := open(t, srv.URL, Options{CacheDir: cache}).Scan(context.Background(), list[:1])
	if s := changed[0]; s.Err != nil || s.Cached || len(s.Result.Findings) != 1 || !s.Result.DBModified.Equal(dbTime.Add(time.Hour)) {
		t.Errorf("against a changed database: %+v", s)
	}
}

// TestHostileDatabase: a database from elsewhere is bounded and checked before use.
func TestHostileDatabase(t *testing.T) {
	bin := testBinaries(t)["amd64"]
	ctx := context.Background()
	fresh := func() string {
		d := t.TempDir()
		testenv.WriteVulnDB(t, d, dbTime, testVulns...)
		return d
	}
	write := func(dir, name, data string) {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("db.json over its bound", func(t *testing.T) {
		d := fresh()
		write(d, "index/db.json", `{"modified":"2025-01-01T00:00:00Z","pad":"`+strings.Repeat("x", MaxDBInfoBytes)+`"}`)
		srv, _ := serveDB(t, d) // compressed it is tiny: the bound is on what it expands to
		for _, u := range []string{FileURL(d), srv.URL} {
			if _, err := Open(ctx, u, Options{}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("over %d bytes", MaxDBInfoBytes)) {
				t.Errorf("%s: %v", u, err)
			}
		}
	})
	for name, tc := range map[string]struct {
		file, data, want string
		atOpen           bool
	}{
		"db.json not JSON":       {"index/db.json", "<html>", "not the database's metadata", true},
		"modules.json not index": {"index/modules.json", `{"path":"x"}`, "not an index of modules", false},
		"ID escapes the layout":  {"index/modules.json", `[{"path":"example.com/vulnmod","vulns":[{"id":"../../../etc/passwd"}]}]`, "not an entry ID", false},
		"entry of another ID":    {"ID/GO-2099-0001.json", `{"id":"GO-2099-0002"}`, `holds the entry of "GO-2099-0002"`, false},
		"entry not JSON":         {"ID/GO-2099-0002.json", `{"id":`, "not a vulnerability entry", false},
	} {
		t.Run(name, func(t *testing.T) {
			d := fresh()
			write(d, tc.file, tc.data)
			db, err := Open(ctx, FileURL(d), Options{})
			if tc.atOpen {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Open: %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := db.Scan(ctx, []Binary{{Path: bin}})[0]
			if s.Err == nil || !strings.Contains(s.Err.Error(), tc.want) || s.Result != nil {
				t.Errorf("Scan: %+v, want an error containing %q", s, tc.want)
			}
		})
	}
}

// TestScanWhatIsNotAGoBinary: a file that is not a Go binary is an error, never a clean result.
func TestScanWhatIsNotAGoBinary(t *testing.T) {
	url := testenv.WriteVulnDB(t, t.TempDir(), dbTime, testVulns...)
	script := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := open(t, url, Options{}).Scan(context.Background(), []Binary{{Path: script}, {Path: filepath.Join(t.TempDir(), "missing")}})
	for i, s := range got {
		if s.Err == nil || s.Result != nil {
			t.Errorf("binary %d: %+v, want an error", i, s)
		}
	}
	if !strings.Contains(got[0].Err.Error(), "Go build info") {
		t.Errorf("script: %v", got[0].Err)
	}
}

// TestCachePruned: results unused for CacheMaxAge go, at most once a day; a result read back
// stays, and so does anything in the directory that is not an entry.
func TestCachePruned(t *testing.T) {
	bins := testBinaries(t)
	dir := t.TempDir()
	testenv.WriteVulnDB(t, dir, dbTime, testVulns...)
	srv, _ := serveDB(t, dir)
	cache := t.TempDir()
	list := []Binary{{Path: bins["amd64"]}}
	now := time.Now()
	clock := func() time.Time { return now }
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	open(t, srv.URL, Options{CacheDir: cache, Now: clock}).Scan(context.Background(), list)
	entries, _ := filepath.Glob(filepath.Join(cache, "*", "*.json"))
	if len(entries) != 1 {
		t.Fatalf("cache entries after a scan: %v, want one", entries)
	}
	kept := entries[0]
	old := filepath.Join(cache, "ab", "ab"+strings.Repeat("0", 62)+".json")
	other := filepath.Join(cache, "ab", "notes.txt")
	for _, p := range []string{old, other} {
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte("{}"), 0o644))
		must(t, os.Chtimes(p, now.Add(-CacheMaxAge-time.Hour), now.Add(-CacheMaxAge-time.Hour)))
	}
	must(t, os.Chtimes(kept, now.Add(-CacheMaxAge+time.Hour), now.Add(-CacheMaxAge+time.Hour)))

	// A hit refreshes the entry; no scan ran, so nothing is pruned.
	if s := open(t, srv.URL, Options{CacheDir: cache, Now: clock}).Scan(context.Background(), list); !s[0].Cached {
		t.Fatalf("second scan not served from the cache: %+v", s[0])
	}
	// Within a day of the last prune, a scan prunes nothing.
	testenv.WriteVulnDB(t, dir, dbTime.Add(time.Hour), testVulns...)
	open(t, srv.URL, Options{CacheDir: cache, Now: clock}).Scan(context.Background(), list)
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("pruned again within a day of the last prune: %v", err)
	}
	// A day later, the old entry goes; the refreshed one, the new one and the stranger stay.
	now = now.Add(25 * time.Hour)
	testenv.WriteVulnDB(t, dir, dbTime.Add(2*time.Hour), testVulns...)
	open(t, srv.URL, Options{CacheDir: cache, Now: clock}).Scan(context.Background(), list)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("an entry unused for %s is still there: %v", CacheMaxAge, err)
	}
	for _, p := range []string{kept, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}

// TestInfoKeptForInfoMaxAge: with InfoMaxAge, runs in a row ask an http database nothing when
// their binaries were scanned already, and ask again once it has passed; a clock set back, or
// no InfoMaxAge, asks every time.
func TestInfoKeptForInfoMaxAge(t *testing.T) {
	bins := testBinaries(t)
	dir := t.TempDir()
	testenv.WriteVulnDB(t, dir, dbTime, testVulns...)
	srv, requests := serveDB(t, dir)
	cache := t.TempDir()
	list := []Binary{{Path: bins["amd64"]}}
	now := time.Now()
	opts := Options{CacheDir: cache, InfoMaxAge: time.Hour, Now: func() time.Time { return now }}

	if s := open(t, srv.URL, opts).Scan(context.Background(), list); s[0].Err != nil || s[0].Cached {
		t.Fatalf("first scan: %+v", s[0])
	}
	requests()
	now = now.Add(59 * time.Minute)
	if s := open(t, srv.URL, opts).Scan(context.Background(), list); s[0].Err != nil || !s[0].Cached {
		t.Fatalf("scan within the hour: %+v", s[0])
	}
	if c := requests(); len(c) != 0 {
		t.Errorf("a run within InfoMaxAge of the last fetch asked %v, want nothing", c)
	}

	// The database changes; within the hour it is not seen, after it it is.
	testenv.WriteVulnDB(t, dir, dbTime.Add(time.Hour), testVulns[:1]...)
	if db := open(t, srv.URL, opts); !db.Modified.Equal(dbTime) {
		t.Errorf("within the hour: modified %s, want the kept %s", db.Modified, dbTime)
	}
	now = now.Add(2 * time.Minute)
	if db := open(t, srv.URL, opts); !db.Modified.Equal(dbTime.Add(time.Hour)) {
		t.Errorf("after the hour: modified %s, want the changed database's %s", db.Modified, dbTime.Add(time.Hour))
	}
	if c := requests(); c["/index/db.json.gz"] != 1 {
		t.Errorf("after the hour the run asked %v, want index/db.json.gz once", c)
	}

	now = now.Add(-3 * time.Hour) // a clock set back
	open(t, srv.URL, opts)
	noAge := opts
	noAge.InfoMaxAge = 0
	open(t, srv.URL, noAge)
	if c := requests(); c["/index/db.json.gz"] != 2 {
		t.Errorf("a clock set back and a zero InfoMaxAge asked %v, want index/db.json.gz twice", c)
	}
}
