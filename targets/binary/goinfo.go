package binary

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/scratchkit/scratchkit/targets/platform"
)

// GoInfo is what the Go toolchain recorded in the binary (debug/buildinfo) plus where its
// function table was found.
type GoInfo struct {
	// BuildInfo is the build info as text (debug.BuildInfo.String, what `go version -m` prints):
	// what later steps parse instead of reading the binary again (BuildInfoOf).
	BuildInfo string            `json:"build_info,omitempty"`
	Version   string            `json:"version"`        // e.g. "go1.26.8"
	Path      string            `json:"path,omitempty"` // main package import path
	Main      Module            `json:"main"`
	Deps      []Module          `json:"deps,omitempty"`
	Settings  map[string]string `json:"settings,omitempty"` // -trimpath, CGO_ENABLED, GOARCH, ...

	CGO       string   `json:"cgo"`                 // CGO_ENABLED as recorded: "0", "1", or "" when absent
	Trimpath  bool     `json:"trimpath"`            // -trimpath=true
	PGO       string   `json:"pgo,omitempty"`       // the -pgo profile, "" when PGO was off
	Tags      []string `json:"tags,omitempty"`      // -tags
	BuildMode string   `json:"buildmode,omitempty"` // -buildmode, e.g. "exe", "pie"
	GOOS      string   `json:"goos"`
	GOARCH    string   `json:"goarch"`
	// ArchLevelKey and ArchLevel are the architecture level setting, e.g. GOAMD64=v1, GOARM=7.
	ArchLevelKey string `json:"arch_level_key,omitempty"`
	ArchLevel    string `json:"arch_level,omitempty"`

	// FuncTable says where the function table (pclntab) was read from: ".gopclntab", or
	// "pclntab magic at offset N" when there is no such section (external linking, no section
	// headers); "" when it was not found. Funcs is the number of functions in it.
	FuncTable string `json:"func_table,omitempty"`
	Funcs     int    `json:"funcs,omitempty"`
}

// Module is a module path and version.
type Module struct {
	Path    string `json:"path"`
	Version string `json:"version,omitempty"`
}

// Features are what a Go program links, read from the binary itself: they tell the image and
// smoke steps which runtime files the program will look for.
type Features struct {
	// Known is true when the function table was read; false means the fields below are
	// guesses from build info (or all false when there was none).
	Known bool `json:"known"`

	UsesTLS          bool `json:"uses_tls"`           // crypto/tls or crypto/x509 linked
	LoadsSystemRoots bool `json:"loads_system_roots"` // crypto/x509 can load the system CA roots (/etc/ssl/certs)
	EmbedsRoots      bool `json:"embeds_roots"`       // golang.org/x/crypto/x509roots/fallback linked
	UsesLoadLocation bool `json:"uses_load_location"` // time.LoadLocation reachable (reads /usr/share/zoneinfo)
	EmbedsTZData     bool `json:"embeds_tzdata"`      // time/tzdata linked
	UsesOSUser       bool `json:"uses_os_user"`       // os/user linked (reads /etc/passwd, /etc/group)
	UsesNet          bool `json:"uses_net"`           // net linked (DNS: /etc/resolv.conf, /etc/hosts, /etc/nsswitch.conf)
}

// PackageSize is the machine code one Go package contributes, from the function table.
type PackageSize struct {
	Name  string `json:"name"` // import path; "(generated)" for compiler-generated code
	Size  int64  `json:"size"` // bytes of code
	Funcs int    `json:"funcs"`
}

const (
	pkgFallbackRoots = "golang.org/x/crypto/x509roots/fallback"
	generatedPkg     = "(generated)"
)

// GoInfoOf summarises Go build info: versions, modules, settings, the platform and level it was
// built for.
func GoInfoOf(bi *debug.BuildInfo) *GoInfo {
	g := &GoInfo{
		BuildInfo: bi.String(),
		Version:   bi.GoVersion,
		Path:      bi.Path,
		Main:      Module{Path: bi.Main.Path, Version: bi.Main.Version},
		Settings:  map[string]string{},
	}
	for _, d := range bi.Deps {
		if d == nil {
			continue
		}
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		g.Deps = append(g.Deps, Module{Path: m.Path, Version: m.Version})
	}
	for _, s := range bi.Settings {
		g.Settings[s.Key] = s.Value
	}
	st := g.Settings
	g.CGO = st["CGO_ENABLED"]
	g.Trimpath = st["-trimpath"] == "true"
	g.PGO = st["-pgo"]
	if t := st["-tags"]; t != "" {
		g.Tags = strings.Split(t, ",")
	}
	g.BuildMode = st["-buildmode"]
	g.GOOS, g.GOARCH = st["GOOS"], st["GOARCH"]
	for _, k := range []string{"GOAMD64", "GOARM", "GOARM64", "GO386", "GOMIPS", "GOMIPS64", "GOPPC64", "GORISCV64"} {
		if v, ok := st[k]; ok {
			g.ArchLevelKey, g.ArchLevel = k, v
			break
		}
	}
	return g
}

// Mismatch says where build info disagrees with platform p: GOOS, GOARCH, or (for a platform
// with a variant) the architecture level; empty when it agrees or does not say.
func (g *GoInfo) Mismatch(p platform.Platform) []string {
	var bad []string
	if g.GOOS != "" && g.GOOS != p.OS {
		bad = append(bad, fmt.Sprintf("Go build info says GOOS=%s", g.GOOS))
	}
	if g.GOARCH != "" && g.GOARCH != p.Arch {
		bad = append(bad, fmt.Sprintf("Go build info says GOARCH=%s", g.GOARCH))
	}
	if p.Variant != "" && g.ArchLevelKey != "" && g.GOARCH == p.Arch && !p.LevelMatches(g.ArchLevel) {
		bad = append(bad, fmt.Sprintf("Go build info says %s=%s, not variant %s", g.ArchLevelKey, g.ArchLevel, p.Variant))
	}
	return bad
}

// inspectGo reads Go build info, if any. An unreadable one is a note, not an error: the file
// may simply not be Go.
func inspectGo(r io.ReaderAt, info *Info) {
	var bi *debug.BuildInfo
	err := guard("Go build info", func() (e error) { bi, e = ReadBuildInfo(r); return })
	if err != nil {
		if info.ELF != nil && info.ELF.GoNote {
			info.Notes = append(info.Notes, fmt.Sprintf("has Go's marks but its build info is unreadable: %v", err))
		}
		return
	}
	g := GoInfoOf(bi)
	info.Go = g

	// Without a function table, build info still says some things.
	for _, d := range g.Deps {
		if d.Path == pkgFallbackRoots {
			info.Features.EmbedsRoots = true
		}
	}
	for _, t := range g.Tags {
		if t == "timetzdata" {
			info.Features.EmbedsTZData = true
		}
	}
}

// pclntab magic numbers (internal/abi), by Go version that introduced the layout.
var pclntabMagics = []uint32{0xfffffff1 /* 1.20 */, 0xfffffff0 /* 1.18 */, 0xfffffffa /* 1.16 */, 0xfffffffb /* 1.2 */}

// readFuncTable finds the Go function table, reads it with debug/gosym, and fills
// info.Packages and info.Features. Failing to find or read it is a note.
func readFuncTable(r io.ReaderAt, f *elf.File, info *Info) {
	var textAddr uint64
	if t := f.Section(".text"); t != nil {
		textAddr = t.Addr
	}
	var tab *gosym.Table
	var where string
	if s := f.Section(".gopclntab"); s != nil && s.Type != elf.SHT_NOBITS {
		var data []byte
		err := guard("read .gopclntab", func() (e error) { data, e = s.Data(); return })
		if err == nil {
			tab, err = parseFuncTable(data, textAddr)
		}
		if err != nil {
			info.Notes = append(info.Notes, fmt.Sprintf("function table (.gopclntab) unreadable: %v; features and package sizes unknown", err))
			return
		}
		where = ".gopclntab"
	} else {
		// External linking may fold the table into .data.rel.ro or .rodata, and a file without
		// section headers has only segments: look for the table's header in the loaded bytes.
		tab, _, where = searchFuncTable(r, elfDataSpans(f), f.ByteOrder, textAddr)
		if tab == nil {
			info.Notes = append(info.Notes, "no Go function table (pclntab) found: features and package sizes unknown")
			return
		}
	}
	info.Go.FuncTable = where
	info.Go.Funcs = len(tab.Funcs)

	byPkg := map[string]*PackageSize{}
	names := map[string]bool{}
	for i := range tab.Funcs {
		fn := &tab.Funcs[i]
		pkg := fn.PackageName()
		if pkg == "" {
			pkg = generatedPkg
		}
		p := byPkg[pkg]
		if p == nil {
			p = &PackageSize{Name: pkg}
			byPkg[pkg] = p
		}
		p.Funcs++
		if fn.End > fn.Entry && fn.End-fn.Entry < 1<<40 {
			p.Size += int64(fn.End - fn.Entry)
		}
		switch fn.Name {
		case "time.LoadLocation", "crypto/x509.loadSystemRoots", "crypto/x509.systemRootsPool":
			names[fn.Name] = true
		}
	}
	for _, p := range byPkg {
		info.Packages = append(info.Packages, *p)
	}
	has := func(p string) bool { return byPkg[p] != nil }
	info.Features = Features{
		Known:            true,
		UsesTLS:          has("crypto/tls") || has("crypto/x509"),
		LoadsSystemRoots: names["crypto/x509.loadSystemRoots"] || names["crypto/x509.systemRootsPool"],
		EmbedsRoots:      has(pkgFallbackRoots),
		UsesLoadLocation: names["time.LoadLocation"],
		EmbedsTZData:     has("time/tzdata"),
		UsesOSUser:       has("os/user"),
		UsesNet:          has("net"),
	}
}

// parseFuncTable runs debug/gosym over a pclntab after a sanity check of its header.
func parseFuncTable(data []byte, textAddr uint64) (*gosym.Table, error) {
	if err := checkPclntabHeader(data, len(data)); err != nil {
		return nil, err
	}
	var tab *gosym.Table
	err := guard("function table", func() (e error) {
		tab, e = gosym.NewTable(nil, gosym.NewLineTable(data, textAddr))
		return
	})
	if err != nil {
		return nil, err
	}
	if len(tab.Funcs) == 0 {
		return nil, fmt.Errorf("function table lists no functions")
	}
	return tab, nil
}

// checkPclntabHeader checks the fixed header at the start of data: magic, two zero bytes,
// instruction size quantum, pointer size, and for the 1.16+ layouts that the function count
// and the table offsets fit in the total bytes available from the header on.
func checkPclntabHeader(data []byte, total int) error {
	if len(data) < 16 {
		return fmt.Errorf("pclntab header truncated (%d bytes)", len(data))
	}
	var bo binary.ByteOrder
	magic := binary.LittleEndian.Uint32(data)
	if !isPclntabMagic(magic) {
		bo, magic = binary.BigEndian, binary.BigEndian.Uint32(data)
		if !isPclntabMagic(magic) {
			return fmt.Errorf("pclntab magic %#x not recognised", binary.LittleEndian.Uint32(data))
		}
	} else {
		bo = binary.LittleEndian
	}
	quantum, ptr := data[6], int(data[7])
	if data[4] != 0 || data[5] != 0 || (quantum != 1 && quantum != 2 && quantum != 4) || (ptr != 4 && ptr != 8) {
		return fmt.Errorf("pclntab header malformed")
	}
	word := func(i int) (uint64, bool) {
		o := 8 + i*ptr
		if o+ptr > len(data) {
			return 0, false
		}
		if ptr == 8 {
			return bo.Uint64(data[o:]), true
		}
		return uint64(bo.Uint32(data[o:])), true
	}
	nfunc, ok := word(0)
	if !ok || nfunc == 0 || nfunc > uint64(total)/8 {
		return fmt.Errorf("pclntab function count %d does not fit its %d bytes", nfunc, total)
	}
	var offsets []int // header words holding offsets into data
	switch magic {
	case 0xfffffff1, 0xfffffff0:
		offsets = []int{3, 4, 5, 6, 7} // after nfunc, nfiles, textStart
	case 0xfffffffa:
		offsets = []int{2, 3, 4, 5, 6} // after nfunc, nfiles
	}
	prev := uint64(0)
	for _, i := range offsets {
		v, ok := word(i)
		if !ok || v > uint64(total) || v < prev {
			return fmt.Errorf("pclntab header offsets inconsistent")
		}
		prev = v
	}
	return nil
}

func isPclntabMagic(m uint32) bool {
	for _, x := range pclntabMagics {
		if m == x {
			return true
		}
	}
	return false
}

// maxPclntab bounds how much is read when the table's end is unknown.
const maxPclntab = 1 << 30

// span is a range of a file's bytes: a segment or a section.
type span struct{ off, len int64 }

// elfDataSpans are the file ranges of an ELF file's loaded, non-executable segments: where the
// function table is when no section names it.
func elfDataSpans(f *elf.File) []span {
	var out []span
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X == 0 {
			out = append(out, span{int64(p.Off), int64(p.Filesz)})
		}
	}
	return out
}

// searchFuncTable looks for a pclntab header in the spans and parses the first candidate that
// reads as a table; it returns the table, its bytes (from its header to the end of the span)
// and where it was found. A span is read into memory only when a candidate header in it passes
// the header check.
func searchFuncTable(r io.ReaderAt, spans []span, bo binary.ByteOrder, textAddr uint64) (*gosym.Table, []byte, string) {
	var pats [][]byte
	for _, m := range pclntabMagics {
		p := make([]byte, 6)
		bo.PutUint32(p, m)
		pats = append(pats, p)
	}
	const maxCandidates = 16
	for _, sp := range spans {
		if sp.len < 16 || sp.off < 0 {
			continue
		}
		segOff, segLen := sp.off, min(sp.len, maxPclntab)
		var cands []int64
		findInRange(r, segOff, segLen, pats, func(off int64) bool {
			hdr := make([]byte, min(segOff+segLen-off, 128))
			if m, _ := r.ReadAt(hdr, off); m == len(hdr) && checkPclntabHeader(hdr, int(segOff+segLen-off)) == nil {
				cands = append(cands, off)
			}
			return len(cands) < maxCandidates
		})
		if len(cands) == 0 {
			continue
		}
		seg := make([]byte, segLen)
		if m, _ := r.ReadAt(seg, segOff); int64(m) < segLen {
			continue
		}
		for _, off := range cands {
			if tab, err := parseFuncTable(seg[off-segOff:], textAddr); err == nil {
				return tab, seg[off-segOff:], fmt.Sprintf("pclntab magic at offset %d", off)
			}
		}
	}
	return nil, nil, ""
}

// findInRange calls fn with the file offset of every occurrence of any of pats in
// [off, off+n), reading in chunks, until fn returns false.
func findInRange(r io.ReaderAt, off, n int64, pats [][]byte, fn func(int64) bool) {
	const overlap = 8
	buf := make([]byte, min(chunkSize+overlap, n))
	for pos := int64(0); pos < n; {
		want := min(int64(len(buf)), n-pos)
		m, _ := r.ReadAt(buf[:want], off+pos)
		if m <= 0 {
			return
		}
		window := buf[:m]
		var hits []int
		for _, p := range pats {
			for i, k := 0, 0; k < 128; k++ { // fn gives up long before 128 candidates
				j := bytes.Index(window[i:], p)
				if j < 0 {
					break
				}
				hits = append(hits, i+j)
				i += j + 1
			}
		}
		slices.Sort(hits)
		advance := int64(m)
		if pos+int64(m) < n {
			advance = int64(m) - overlap
		}
		for _, h := range hits {
			if int64(h) >= advance {
				break
			}
			if !fn(off + pos + int64(h)) {
				return
			}
		}
		pos += advance
	}
}
