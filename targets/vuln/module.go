package vuln

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/targets/goenv"
	"golang.org/x/mod/module"
)

// The Go vulnerability database is also published as a Go module: the source of vuln.go.dev,
// its OSV entries under data/osv. Through the module proxy, a runner that reaches only a Go
// proxy mirror scans with the same data as vuln.go.dev.
const (
	// ModulePath is the module holding the database.
	ModulePath = "golang.org/x/vulndb"
	// GoProxy is the verify.vulndb value that takes the database from ModulePath through the
	// go command's module proxy (GOPROXY, GONOSUMDB, GOFLAGS, netrc as the go command uses them).
	GoProxy = "goproxy"
)

// Bounds on the module, which comes from a proxy: the database is ~5,000 entries and ~70 MB.
const (
	MaxModuleEntries = 100_000
	MaxModuleBytes   = 1 << 30 // its OSV entries, uncompressed
)

// ModuleOptions configures OpenModule.
type ModuleOptions struct {
	// CacheDir holds each version indexed into the database layout (required).
	CacheDir string
	// Version is the module version to use; empty for the newest the proxy lists.
	Version string
	// Go is the go command; default "go" from PATH.
	Go string
	// Env is the go command's environment; nil means os.Environ(). scratchkit's own module
	// cache (under CacheDir) replaces GOMODCACHE, so the user's is not filled with the module.
	Env []string
	// LatestMaxAge is how long the newest version, once asked for, is taken as the newest
	// without asking the proxy again; zero asks every time. Default of Verify:
	// DefaultInfoMaxAge.
	LatestMaxAge time.Duration
}

// OpenModule opens the database published as ModulePath: it asks the go command for the newest
// version (or mo.Version), indexes that version into the layout govulncheck reads once, under
// mo.CacheDir, and opens it. The database's URL is pkg:golang/golang.org/x/vulndb@<version> and
// its modified time the version's time: the indexer of the module writes none.
func OpenModule(ctx context.Context, mo ModuleOptions, opts Options) (*DB, error) {
	if mo.CacheDir == "" {
		return nil, errors.New("vulnerability database module: no cache directory")
	}
	if mo.Go == "" {
		mo.Go = "go"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	info, err := mo.resolve(ctx, opts.Now())
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(mo.CacheDir, "db", info.Version)
	if _, err := os.Stat(filepath.Join(dir, "index", "db.json")); err != nil {
		if err := mo.index(ctx, info, dir); err != nil {
			return nil, fmt.Errorf("vulnerability database %s@%s: %w", ModulePath, info.Version, err)
		}
		mo.prune(info.Version)
	}
	db, err := Open(ctx, FileURL(dir), opts)
	if err != nil {
		return nil, err
	}
	db.URL = ModuleURL(info.Version)
	return db, nil
}

// ModuleURL names a version of the database module, as a package URL.
func ModuleURL(version string) string { return "pkg:golang/" + ModulePath + "@" + version }

// moduleInfo is what `go list -m -json` says of a version.
type moduleInfo struct {
	Version string    `json:"Version"`
	Time    time.Time `json:"Time"`
	// Asked is when the proxy was asked (for a kept answer to "latest").
	Asked time.Time `json:"asked,omitempty"`
}

// resolve finds the version to use and its time, asking the go command unless a recent answer
// to "latest" is kept.
func (mo *ModuleOptions) resolve(ctx context.Context, now time.Time) (moduleInfo, error) {
	query := mo.Version
	if query == "" {
		query = "latest"
	}
	kept := filepath.Join(mo.CacheDir, "latest.json")
	if query == "latest" && mo.LatestMaxAge > 0 {
		var info moduleInfo
		if readJSON(kept, 4<<10, &info) && !info.Asked.After(now.Add(time.Minute)) && now.Sub(info.Asked) < mo.LatestMaxAge && info.valid() {
			if _, err := os.Stat(filepath.Join(mo.CacheDir, "db", info.Version, "index", "db.json")); err == nil {
				return info, nil
			}
		}
	}
	out, err := mo.goCommand(ctx, "list", "-m", "-json", ModulePath+"@"+query)
	if err != nil {
		return moduleInfo{}, fmt.Errorf("vulnerability database %s@%s through the module proxy: %w", ModulePath, query, err)
	}
	var info moduleInfo
	if err := json.Unmarshal(out, &info); err != nil || !info.valid() {
		return moduleInfo{}, fmt.Errorf("vulnerability database %s@%s: go list -m printed no version and time: %s", ModulePath, query, bytes.TrimSpace(out))
	}
	if query == "latest" {
		info.Asked = now.UTC()
		writeJSON(kept, info) // a failure only means asking again next time
	}
	return info, nil
}

func (i moduleInfo) valid() bool {
	return !i.Time.IsZero() && module.Check(ModulePath, i.Version) == nil
}

// goCommand runs the go command outside any module, with scratchkit's module cache.
func (mo *ModuleOptions) goCommand(ctx context.Context, args ...string) ([]byte, error) {
	env := mo.Env
	if env == nil {
		env = os.Environ()
	}
	return goenv.Outside(ctx, mo.Go, append(slices.Clip(env), "GOMODCACHE="+mo.modCache()), args...)
}

func (mo *ModuleOptions) modCache() string { return filepath.Join(mo.CacheDir, "modcache") }

// index downloads the module's zip and writes its OSV entries into dir in the database layout:
// index/db.json (modified: the version's time), index/modules.json, index/vulns.json and
// ID/<id>.json. The module cache is emptied afterwards; dir appears whole or not at all.
func (mo *ModuleOptions) index(ctx context.Context, info moduleInfo, dir string) error {
	out, err := mo.goCommand(ctx, "mod", "download", "-json", ModulePath+"@"+info.Version)
	defer mo.cleanModCache(ctx)
	if err != nil {
		return err
	}
	var dl struct{ Zip, Error string }
	if err := json.Unmarshal(out, &dl); err != nil || dl.Zip == "" {
		return fmt.Errorf("go mod download printed no zip: %s %s", dl.Error, bytes.TrimSpace(out))
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+info.Version+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := indexZip(dl.Zip, ModulePath+"@"+info.Version+"/data/osv/", info.Time, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "index", "db.json")); serr == nil {
			return nil // another run indexed it meanwhile
		}
		return err
	}
	return nil
}

// cleanModCache removes the module cache the go command filled (its files are read-only, so
// the go command removes them).
func (mo *ModuleOptions) cleanModCache(ctx context.Context) {
	if _, err := os.Stat(mo.modCache()); err == nil {
		_, _ = mo.goCommand(ctx, "clean", "-modcache")
	}
}

// prune removes the indexed versions other than keep that were indexed over a day ago: a run
// still reading one finishes long before.
func (mo *ModuleOptions) prune(keep string) {
	root := filepath.Join(mo.CacheDir, "db")
	ents, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.Name() == keep {
			continue
		}
		if st, err := e.Info(); err == nil && time.Since(st.ModTime()) > 24*time.Hour {
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// osvHead is what the index needs of an OSV entry.
type osvHead struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
	Affected []struct {
		Module struct {
			Path string `json:"name"`
		} `json:"package"`
	} `json:"affected"`
}

// indexZip writes the database layout into dir from the OSV entries under prefix in the zip:
// what golang.org/x/vulndb's cmd/indexdb writes, with modified as the database's time. The
// module index lists every entry of a module without the "fixed" hint, so a client reads each
// and decides by its ranges.
func indexZip(zipPath, prefix string, modified time.Time, dir string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return err
	}
	defer zr.Close()
	type modVuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
	}
	type vulnMeta struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Aliases  []string  `json:"aliases,omitempty"`
	}
	modules := map[string][]modVuln{}
	var vulns []vulnMeta
	var total int64
	for _, d := range []string{"ID", "index"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	for _, f := range zr.File {
		name, ok := strings.CutPrefix(f.Name, prefix)
		if !ok || path.Ext(name) != ".json" || strings.Contains(name, "/") {
			continue
		}
		if len(vulns) >= MaxModuleEntries {
			return fmt.Errorf("more than %d entries", MaxModuleEntries)
		}
		data, err := readZipFile(f, MaxEntryBytes)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		if total += int64(len(data)); total > MaxModuleBytes {
			return fmt.Errorf("its entries exceed %d bytes", MaxModuleBytes)
		}
		var e osvHead
		if err := json.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("%s is not an OSV entry: %v", f.Name, err)
		}
		if e.ID+".json" != name || !idRE.MatchString(e.ID) {
			return fmt.Errorf("%s holds the entry of %q", f.Name, e.ID)
		}
		if err := os.WriteFile(filepath.Join(dir, "ID", name), data, 0o644); err != nil {
			return err
		}
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		seen := map[string]bool{}
		for _, a := range e.Affected {
			if p := a.Module.Path; p != "" && !seen[p] {
				seen[p] = true
				modules[p] = append(modules[p], modVuln{ID: e.ID, Modified: e.Modified})
			}
		}
	}
	if len(vulns) == 0 {
		return fmt.Errorf("no OSV entry under %s in the module", prefix)
	}
	type modMeta struct {
		Path  string    `json:"path"`
		Vulns []modVuln `json:"vulns"`
	}
	var mods []modMeta
	for _, p := range slices.Sorted(maps.Keys(modules)) {
		mods = append(mods, modMeta{Path: p, Vulns: modules[p]})
	}
	slices.SortFunc(vulns, func(a, b vulnMeta) int { return strings.Compare(a.ID, b.ID) })
	files := map[string]any{
		"db.json": struct {
			Modified time.Time `json:"modified"`
		}{modified.UTC()},
		"modules.json": mods,
		"vulns.json":   vulns,
	}
	for name, v := range files {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "index", name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readZipFile reads one file of a zip, at most limit bytes uncompressed.
func readZipFile(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("over %d bytes", limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readBounded(io.Reader(rc), limit)
}
