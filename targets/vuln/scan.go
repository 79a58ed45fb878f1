package vuln

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/gosym"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"golang.org/x/vuln/scan"

	"github.com/scratchkit/scratchkit/targets/binary"
)

// ScannerModule is the module that scans.
const ScannerModule = "golang.org/x/vuln"

// maxScanOutput bounds what one scan may print (its JSON stream repeats the database entries of
// the binary's modules, each bounded by MaxEntryBytes).
const maxScanOutput = 256 << 20

// Binary is one file to scan.
type Binary struct {
	// Path is the file.
	Path string
	// SHA256 is its digest in hex, the key of the result cache; computed when empty.
	SHA256 string
	// BuildInfo is its Go build info as text, as Verify read it (binary.GoInfo.BuildInfo); empty:
	// read from the file.
	BuildInfo string
}

// Scanned is the outcome of scanning one Binary: a Result, or why there is none.
type Scanned struct {
	Result *Result
	// Cached is set when the result is an earlier scan's, of the same file against the same
	// database.
	Cached bool
	Err    error
}

// Scan checks every binary against the database, in parallel, and returns their outcomes in
// the order given. The database's index and the entries of the binaries' modules are fetched
// at most once per DB, and not at all when every result is in the cache.
func (db *DB) Scan(ctx context.Context, bins []Binary) []Scanned {
	out := make([]Scanned, len(bins))
	version := scannerVersion()
	jobs, modules := db.plan(bins, version, out)
	if len(jobs) == 0 {
		return out
	}
	fail := func(err error) []Scanned {
		for _, j := range jobs {
			out[j.i].Err = err
		}
		return out
	}
	if err := db.fetch(ctx, modules); err != nil {
		return fail(err)
	}
	dir, err := os.MkdirTemp("", "scratchkit-vulndb-")
	if err != nil {
		return fail(fmt.Errorf("vulnerability scan: %w", err))
	}
	defer os.RemoveAll(dir)
	copyDir := filepath.Join(dir, "db")
	if err := db.writeCopy(copyDir); err != nil {
		return fail(fmt.Errorf("vulnerability scan: copy of %s: %w", db.URL, err))
	}
	copyURL := FileURL(copyDir)

	parallel(len(jobs), db.opts.Parallel, func(n int) {
		j := jobs[n]
		blobPath := filepath.Join(dir, fmt.Sprintf("binary-%d.json", n))
		r, err := db.scanOne(ctx, copyURL, blobPath, j.bin, version)
		if err != nil {
			out[j.i].Err = fmt.Errorf("vulnerability scan of %s: %w", j.path, err)
			return
		}
		db.store(j.key, r)
		out[j.i] = Scanned{Result: r}
	})
	db.prune()
	return out
}

// parallel calls f(0) … f(n-1), at most limit at a time, and returns when every call has.
func parallel(n, limit int, f func(i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}

// scanJob is a binary to scan: bins[i], described.
type scanJob struct {
	i    int
	bin  *blob
	key  string // its result's cache key
	path string
}

// plan fills out with the results in the cache and the binaries that cannot be read, and
// returns the others to scan, with the modules (and the standard library) whose entries the
// scans need.
func (db *DB) plan(bins []Binary, version string, out []Scanned) ([]scanJob, map[string]bool) {
	var jobs []scanJob
	modules := map[string]bool{"stdlib": true, "toolchain": true}
	for i, b := range bins {
		sum := b.SHA256
		if sum == "" {
			s, err := fileSHA256(b.Path)
			if err != nil {
				out[i].Err = err
				continue
			}
			sum = s
		}
		key := cacheKey(version, db.URL, db.Modified, strings.TrimPrefix(sum, "sha256:"))
		if db.Modified.IsZero() {
			key = "" // a database of unknown date: what it said before may have changed
		}
		if r, ok := db.cached(key); ok {
			out[i] = Scanned{Result: r, Cached: true}
			continue
		}
		bl, err := describe(b.Path, b.BuildInfo)
		if err != nil {
			out[i].Err = err
			continue
		}
		for _, m := range bl.moduleQueries() {
			modules[m] = true
		}
		jobs = append(jobs, scanJob{i: i, bin: bl, key: key, path: b.Path})
	}
	return jobs, modules
}

// scanOne runs govulncheck on the description of one binary against the database copy.
func (db *DB) scanOne(ctx context.Context, dbURL, blobPath string, b *blob, version string) (*Result, error) {
	if err := b.write(blobPath); err != nil {
		return nil, err
	}
	started := db.opts.Now().UTC()
	cmd := scan.Command(ctx, "-mode=binary", "-format=json", "-db", dbURL, blobPath)
	stdout := &boundedBuffer{limit: maxScanOutput}
	stderr := &boundedBuffer{limit: 64 << 10}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), stdout, stderr
	cmd.Env = []string{}
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return nil, fmt.Errorf("govulncheck: %w: %s", err, msg)
		}
		return nil, fmt.Errorf("govulncheck: %w", err)
	}
	if stdout.over {
		return nil, fmt.Errorf("govulncheck printed more than %d bytes", maxScanOutput)
	}
	r, err := parseStream(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("govulncheck's output: %w", err)
	}
	r.DB, r.DBModified = db.URL, db.Modified
	r.Scanner, r.ScannerVersion = ScannerModule, version
	r.Started, r.Finished = started, db.opts.Now().UTC()
	return r, nil
}

// streamMessage is a message of govulncheck's JSON stream, with the parts parseStream reads.
type streamMessage struct {
	Config *struct {
		ProtocolVersion string `json:"protocol_version"`
		ScanMode        string `json:"scan_mode"`
		ScanLevel       string `json:"scan_level"`
	} `json:"config"`
	SBOM *json.RawMessage `json:"SBOM"`
	OSV  *struct {
		ID      string   `json:"id"`
		Aliases []string `json:"aliases"`
		Summary string   `json:"summary"`
	} `json:"osv"`
	Finding *streamFinding `json:"finding"`
}

// streamFinding is a finding message: a vulnerability and where the binary has it, the
// vulnerable frame first.
type streamFinding struct {
	OSV          string         `json:"osv"`
	FixedVersion string         `json:"fixed_version"`
	Trace        []*streamFrame `json:"trace"`
}

type streamFrame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
}

// osvText is what a stream says of a vulnerability beside its findings.
type osvText struct {
	aliases []string
	summary string
}

// parseStream reads govulncheck's JSON stream (config, progress, SBOM, osv and finding
// messages) into a Result. A stream without its config and SBOM messages is not a scan.
func parseStream(data []byte) (*Result, error) {
	var (
		configured, sbom bool
		found            findingSet
		osvs             = map[string]osvText{}
	)
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var m streamMessage
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch {
		case m.Config != nil:
			if !strings.HasPrefix(m.Config.ProtocolVersion, "v1.") || m.Config.ScanMode != "binary" || m.Config.ScanLevel != "symbol" {
				return nil, fmt.Errorf("a scan of protocol %q, mode %q, level %q; want protocol v1, a binary scan at symbol level", m.Config.ProtocolVersion, m.Config.ScanMode, m.Config.ScanLevel)
			}
			configured = true
		case m.SBOM != nil:
			sbom = true
		case m.OSV != nil:
			osvs[m.OSV.ID] = osvText{m.OSV.Aliases, m.OSV.Summary}
		case m.Finding != nil:
			if err := found.add(m.Finding); err != nil {
				return nil, err
			}
		}
	}
	if !configured || !sbom {
		return nil, errors.New("no config or SBOM message: govulncheck did not scan")
	}
	return &Result{Findings: found.sorted(osvs)}, nil
}

// findingSet gathers a stream's findings: one per vulnerability and module, with every package
// and symbol the stream names for it.
type findingSet struct {
	order []findingKey
	found map[findingKey]*Finding
}

type findingKey struct{ id, module string }

// add adds a finding message.
func (s *findingSet) add(f *streamFinding) error {
	if f.OSV == "" || len(f.Trace) == 0 || f.Trace[0] == nil || f.Trace[0].Module == "" {
		return errors.New("a finding without a vulnerability ID or module")
	}
	top := f.Trace[0]
	k := findingKey{f.OSV, top.Module}
	fd := s.found[k]
	if fd == nil {
		if s.found == nil {
			s.found = map[findingKey]*Finding{}
		}
		fd = &Finding{ID: f.OSV, Module: top.Module, Found: goVersion(top.Module, top.Version), Fixed: goVersion(top.Module, f.FixedVersion)}
		s.found[k] = fd
		s.order = append(s.order, k)
	}
	if top.Package != "" && !slices.Contains(fd.Packages, top.Package) {
		fd.Packages = append(fd.Packages, top.Package)
	}
	if top.Function != "" {
		sym := top.Function
		if r := strings.Trim(top.Receiver, "(*)"); r != "" {
			sym = r + "." + sym
		}
		if top.Package != "" {
			sym = top.Package + "." + sym
		}
		if !slices.Contains(fd.Symbols, sym) {
			fd.Symbols = append(fd.Symbols, sym)
		}
	}
	return nil
}

// sorted returns the findings, with the aliases and summaries of osvs, sorted by ID and module.
func (s *findingSet) sorted(osvs map[string]osvText) []Finding {
	var out []Finding
	for _, k := range s.order {
		f := s.found[k]
		if o, ok := osvs[f.ID]; ok {
			f.Aliases, f.Summary = o.aliases, o.summary
		}
		slices.Sort(f.Packages)
		slices.Sort(f.Symbols)
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b Finding) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Module, b.Module)
	})
	return out
}

// goVersion writes a standard-library version the Go way (go1.26.8) instead of as the semantic
// version govulncheck reports (v1.26.8).
func goVersion(module, v string) string {
	if module == "stdlib" || module == "toolchain" {
		if rest, ok := strings.CutPrefix(v, "v"); ok {
			return "go" + rest
		}
	}
	return v
}

// blob is what govulncheck's extract mode writes about a binary (its vulncheck.Bin, after a
// header naming the format): build info and the functions in the binary, which is all its
// binary mode reads.
type blob struct {
	Path       string        `json:"path,omitempty"`
	Main       *blobModule   `json:"main,omitempty"`
	Modules    []*blobModule `json:"modules,omitempty"`
	PkgSymbols []blobSymbol  `json:"pkgSymbols,omitempty"`
	GoVersion  string        `json:"goVersion,omitempty"`
	GOOS       string        `json:"goos,omitempty"`
	GOARCH     string        `json:"goarch,omitempty"`
}

type blobModule struct {
	Path    string
	Version string
	Replace *blobModule `json:",omitempty"`
}

type blobSymbol struct {
	Pkg  string `json:"pkg,omitempty"`
	Name string `json:"name,omitempty"`
}

// blobHeader is the first value of an extract-mode file.
var blobHeader = struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}{"govulncheck-extract", "0.1.0"}

// describe reads what govulncheck needs of the binary at path: its build info, and the names
// of its functions from the function table (which stripped binaries keep, unlike the symbol
// table govulncheck would read).
func describe(path, recorded string) (*blob, error) {
	var bi *debug.BuildInfo
	var err error
	if recorded != "" {
		bi, err = binary.BuildInfoOf(recorded, nil)
	} else {
		bi, err = binary.ReadBuildInfoFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("vulnerability scan of %s: read its Go build info: %w (only Go binaries built in module mode can be checked)", path, err)
	}
	names, err := binary.FuncNames(path)
	if err != nil {
		return nil, fmt.Errorf("vulnerability scan of %s: %w", path, err)
	}
	b := &blob{Path: bi.Path, GoVersion: bi.GoVersion}
	if bi.Main.Path != "" {
		b.Main = &blobModule{Path: bi.Main.Path, Version: bi.Main.Version}
	}
	for _, d := range bi.Deps {
		if d == nil {
			continue
		}
		m := &blobModule{Path: d.Path, Version: d.Version}
		if d.Replace != nil {
			m.Replace = &blobModule{Path: d.Replace.Path, Version: d.Replace.Version}
		}
		b.Modules = append(b.Modules, m)
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			b.GOOS = s.Value
		case "GOARCH":
			b.GOARCH = s.Value
		}
	}
	seen := map[blobSymbol]bool{}
	for _, n := range names {
		s := symbolOf(n)
		if s.Pkg != "" && !seen[s] {
			seen[s] = true
			b.PkgSymbols = append(b.PkgSymbols, s)
		}
	}
	return b, nil
}

// symbolOf splits a function name the way govulncheck names symbols: the package path, and the
// function or Type.Method (without the pointer of a pointer receiver).
func symbolOf(name string) blobSymbol {
	s := &gosym.Sym{Name: name}
	sym := s.BaseName()
	if r := s.ReceiverName(); r != "" {
		if strings.HasPrefix(r, "(*") {
			r = strings.Trim(r, "(*)")
		}
		sym = r + "." + sym
	}
	pkg := s.PackageName()
	if p, err := url.PathUnescape(pkg); err == nil {
		pkg = p
	}
	return blobSymbol{Pkg: pkg, Name: sym}
}

// moduleQueries are the module paths govulncheck will look up for the binary: every module,
// under its own path and its replacement's, the main module, and the standard library.
func (b *blob) moduleQueries() []string {
	var out []string
	if b.Main != nil {
		out = append(out, b.Main.Path)
	}
	for _, m := range b.Modules {
		out = append(out, m.Path)
		if m.Replace != nil {
			out = append(out, m.Replace.Path)
		}
	}
	return out
}

func (b *blob) write(path string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(blobHeader); err != nil {
		return err
	}
	if err := enc.Encode(b); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// scannerVersion is the version of golang.org/x/vuln linked into this program ("(unknown)" in a
// test binary, whose build info lists no modules).
func scannerVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == ScannerModule {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "(unknown)"
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("vulnerability scan: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("vulnerability scan: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// boundedBuffer keeps at most limit bytes and remembers that more came.
type boundedBuffer struct {
	bytes.Buffer
	limit int
	over  bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// FileURL is the file:// URL of an absolute directory (FilePath's inverse).
func FileURL(dir string) string {
	p := filepath.ToSlash(dir)
	if !strings.HasPrefix(p, "/") { // C:/…
		p = "/" + p
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}
