package vuln

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// A database whose index/db.json says the zero time, as golang.org/x/vulndb's cmd/indexdb writes
// it, is scanned (govulncheck reads it too); its date is unknown, so nothing is kept of it.
func TestDatabaseWithoutModifiedTimeIsScanned(t *testing.T) {
	bin := testBinaries(t)["amd64"]
	dir := t.TempDir()
	testenv.WriteVulnDB(t, dir, dbTime, testVulns...)
	if err := os.WriteFile(filepath.Join(dir, "index", "db.json"), []byte(`{"modified":"0001-01-01T00:00:00Z"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	for i := range 2 {
		db := open(t, FileURL(dir), Options{CacheDir: cache})
		if !db.Modified.IsZero() {
			t.Fatalf("modified %v, want zero", db.Modified)
		}
		s := db.Scan(context.Background(), []Binary{{Path: bin}})[0]
		if s.Err != nil {
			t.Fatal(s.Err)
		}
		if _, ok := findingByID(s.Result, "GO-2099-0001"); !ok || s.Cached {
			t.Errorf("scan %d: %+v (cached %v), want GO-2099-0001 found and never from the cache", i, s.Result, s.Cached)
		}
		if v := s.Result.DBVersion(); v != "" {
			t.Errorf("DBVersion %q, want empty for a database that states no time", v)
		}
	}
	if got := Describe("file:///x", time.Time{}); got != "file:///x (no modified time stated)" {
		t.Errorf("Describe = %q", got)
	}
}

// moduleProxy is a file:// module proxy serving golang.org/x/vulndb at the given versions, each
// holding vulns as OSV entries under data/osv, the way the real module does.
type moduleProxy struct {
	t   *testing.T
	dir string
}

func newModuleProxy(t *testing.T) *moduleProxy {
	return &moduleProxy{t: t, dir: t.TempDir()}
}

func (p *moduleProxy) url() string { return "file://" + filepath.ToSlash(p.dir) }

// publish adds a version made at when, holding vulns.
func (p *moduleProxy) publish(when time.Time, vulns ...testenv.Vuln) string {
	t := p.t
	version := "v0.0.0-" + when.UTC().Format("20060102150405") + "-abcdef012345"
	db := t.TempDir()
	testenv.WriteVulnDB(t, db, time.Time{}, vulns...)
	at := filepath.Join(p.dir, "golang.org", "x", "vulndb", "@v")
	must(t, os.MkdirAll(at, 0o755))
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	prefix := ModulePath + "@" + version + "/"
	w, err := zw.Create(prefix + "go.mod")
	must(t, err)
	_, _ = w.Write([]byte("module " + ModulePath + "\n"))
	for _, v := range vulns {
		data, err := os.ReadFile(filepath.Join(db, "ID", v.ID+".json"))
		must(t, err)
		w, err := zw.Create(prefix + "data/osv/" + v.ID + ".json")
		must(t, err)
		_, _ = w.Write(data)
	}
	w, err = zw.Create(prefix + "README.md") // not an entry: skipped
	must(t, err)
	_, _ = w.Write([]byte("# vulndb\n"))
	must(t, zw.Close())
	must(t, os.WriteFile(filepath.Join(at, version+".zip"), zb.Bytes(), 0o644))
	must(t, os.WriteFile(filepath.Join(at, version+".mod"), []byte("module "+ModulePath+"\n"), 0o644))
	info, _ := json.Marshal(map[string]any{"Version": version, "Time": when.UTC()})
	must(t, os.WriteFile(filepath.Join(at, version+".info"), info, 0o644))
	list, _ := os.ReadFile(filepath.Join(at, "list"))
	must(t, os.WriteFile(filepath.Join(at, "list"), append(list, []byte(version+"\n")...), 0o644))
	return version
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// verify.vulndb: goproxy takes the newest golang.org/x/vulndb through the go command's module
// proxy, indexes it once per version and scans with it; its date is the version's time; the
// newest version is asked for again only after LatestMaxAge; the user's module cache gets
// nothing.
func TestOpenModuleThroughTheModuleProxy(t *testing.T) {
	bin := testBinaries(t)["amd64"]
	ctx := context.Background()
	proxy := newModuleProxy(t)
	first := time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC)
	v1 := proxy.publish(first, testVulns[:1]...)
	userCache := t.TempDir()
	env := append(os.Environ(), "GOPROXY="+proxy.url(), "GOSUMDB=off", "GOFLAGS=-mod=mod", "GOMODCACHE="+userCache)
	cache := t.TempDir()
	mo := ModuleOptions{CacheDir: cache, Env: env, LatestMaxAge: time.Hour}
	now := time.Now()
	clock := func() time.Time { return now }

	db, err := OpenModule(ctx, mo, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if db.URL != "pkg:golang/golang.org/x/vulndb@"+v1 || !db.Modified.Equal(first) {
		t.Errorf("opened %s modified %v, want %s at %v", db.URL, db.Modified, ModuleURL(v1), first)
	}
	s := db.Scan(ctx, []Binary{{Path: bin}})[0]
	if s.Err != nil {
		t.Fatal(s.Err)
	}
	if _, ok := findingByID(s.Result, "GO-2099-0001"); !ok || s.Result.DB != ModuleURL(v1) || s.Result.DBVersion() != "2026-11-05T23:49:57Z" {
		t.Errorf("scan: %+v", s.Result)
	}
	if ents, _ := os.ReadDir(userCache); len(ents) != 0 {
		t.Errorf("the user's module cache got %v", ents)
	}
	if _, err := os.Stat(filepath.Join(cache, "modcache")); !os.IsNotExist(err) {
		t.Errorf("scratchkit's module cache was not emptied after indexing: %v", err)
	}

	// A newer version within the hour is not asked for; the proxy may even be gone.
	second := first.Add(24 * time.Hour)
	v2 := proxy.publish(second, testVulns[:3]...)
	off := mo
	off.Env = append(slices.Clone(env), "GOPROXY=off")
	if db, err := OpenModule(ctx, off, Options{Now: clock}); err != nil || db.URL != ModuleURL(v1) {
		t.Errorf("within the hour, proxy off: %v, %v; want %s from the cache", db, err, v1)
	}
	// After it, the newest is asked for, indexed and used.
	now = now.Add(2 * time.Hour)
	db, err = OpenModule(ctx, mo, Options{Now: clock})
	if err != nil || db.URL != ModuleURL(v2) || !db.Modified.Equal(second) {
		t.Fatalf("after the hour: %v, %v; want %s", db, err, v2)
	}
	s = db.Scan(ctx, []Binary{{Path: bin}})[0]
	if _, ok := findingByID(s.Result, "GO-2099-0003"); s.Err != nil || !ok {
		t.Errorf("scan against %s: %+v %v, want GO-2099-0003", v2, s.Result, s.Err)
	}
	// A pinned version is used as asked.
	pinned := mo
	pinned.Version = v1
	if db, err := OpenModule(ctx, pinned, Options{Now: clock}); err != nil || db.URL != ModuleURL(v1) {
		t.Errorf("pinned %s: %v, %v", v1, db, err)
	}
	// A proxy that cannot serve it: the error names the module and what the go command said.
	broken := ModuleOptions{CacheDir: t.TempDir(), Env: append(slices.Clone(env), "GOPROXY=off")}
	if _, err := OpenModule(ctx, broken, Options{}); err == nil || !strings.Contains(err.Error(), "golang.org/x/vulndb@latest through the module proxy") || !strings.Contains(err.Error(), "GOPROXY=off") {
		t.Errorf("proxy off, nothing cached: %v", err)
	}
}

// A module from a hostile proxy is bounded and checked: an entry in the wrong file is refused
// and nothing of it is kept.
func TestOpenModuleRefusesABadModule(t *testing.T) {
	proxy := newModuleProxy(t)
	v := proxy.publish(time.Now(), testVulns[:1]...)
	zipPath := filepath.Join(proxy.dir, "golang.org", "x", "vulndb", "@v", v+".zip")
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create(ModulePath + "@" + v + "/go.mod")
	_, _ = w.Write([]byte("module " + ModulePath + "\n"))
	w, _ = zw.Create(ModulePath + "@" + v + "/data/osv/GO-2099-0001.json")
	_, _ = w.Write([]byte(`{"id":"GO-2099-0002"}`))
	must(t, zw.Close())
	must(t, os.WriteFile(zipPath, zb.Bytes(), 0o644))
	cache := t.TempDir()
	mo := ModuleOptions{CacheDir: cache, Env: append(os.Environ(), "GOPROXY="+proxy.url(), "GOSUMDB=off", "GOFLAGS=-mod=mod")}
	_, err := OpenModule(context.Background(), mo, Options{})
	if err == nil || !strings.Contains(err.Error(), `holds the entry of "GO-2099-0002"`) {
		t.Fatalf("a mislabelled entry: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "db", v)); !os.IsNotExist(err) {
		t.Errorf("a refused module left %s behind: %v", v, err)
	}
}

// The index scratchkit writes lists, for the real database, the entries golang.org/x/vulndb's own
// cmd/indexdb lists: same IDs per module, same entries. Runs where .ci/test installed indexdb and
// the module proxy serves the module.
func TestModuleIndexMatchesIndexdb(t *testing.T) {
	indexdb := testenv.Tool(t, "indexdb")
	version := os.Getenv("SCRATCHKIT_VULNDB_VERSION")
	if version == "" {
		testenv.Missing(t, "SCRATCHKIT_VULNDB_VERSION names no golang.org/x/vulndb version (.ci/test sets it)")
	}
	ctx := context.Background()
	cache := t.TempDir()
	mo := ModuleOptions{CacheDir: cache, Version: version}
	db, err := OpenModule(ctx, mo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if db.URL != ModuleURL(version) || db.Modified.IsZero() {
		t.Errorf("opened %s modified %v", db.URL, db.Modified)
	}
	// indexdb over the same module's data/osv.
	out, err := exec.Command("go", "mod", "download", "-json", ModulePath+"@"+version).Output()
	must(t, err)
	var dl struct{ Dir string }
	must(t, json.Unmarshal(out, &dl))
	ref := t.TempDir()
	if out, err := exec.Command(indexdb, "-vulns", filepath.Join(dl.Dir, "data", "osv"), "-out", ref).CombinedOutput(); err != nil {
		t.Fatalf("indexdb: %v\n%s", err, out)
	}
	byModule := func(dir string) map[string][]string {
		var mods []struct {
			Path  string `json:"path"`
			Vulns []struct {
				ID string `json:"id"`
			} `json:"vulns"`
		}
		data, err := os.ReadFile(filepath.Join(dir, "index", "modules.json"))
		must(t, err)
		must(t, json.Unmarshal(data, &mods))
		out := map[string][]string{}
		for _, m := range mods {
			for _, v := range m.Vulns {
				if !slices.Contains(out[m.Path], v.ID) {
					out[m.Path] = append(out[m.Path], v.ID)
				}
			}
			slices.Sort(out[m.Path])
		}
		return out
	}
	ours := filepath.Join(cache, "db", version)
	got, want := byModule(ours), byModule(ref)
	if len(got) != len(want) || len(want) < 1000 {
		t.Errorf("%d modules indexed, indexdb %d", len(got), len(want))
	}
	for m, ids := range want {
		if !slices.Equal(got[m], ids) {
			t.Errorf("%s: %v, indexdb %v", m, got[m], ids)
		}
	}
	ids, err := filepath.Glob(filepath.Join(ref, "ID", "*.json"))
	must(t, err)
	for _, p := range ids {
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(ours, "ID", filepath.Base(p)))
		if err != nil || !jsonEqual(a, b) {
			t.Errorf("%s differs from indexdb's: %v", filepath.Base(p), err)
		}
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
