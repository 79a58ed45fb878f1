package binary

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/scratchkit/scratchkit/internal/bytesize"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// Names of the checks, as used in configuration (Expect.Report, Expect.Enforce) and in
// Result.Check. They are stable.
const (
	CheckLinkage   = "linkage"   // no PT_INTERP, no DT_NEEDED
	CheckPlatform  = "platform"  // ELF class/machine/float ABI and Go GOOS/GOARCH/level match the platform
	CheckCgo       = "cgo"       // CGO_ENABLED=0 unless the linkage is a cgo one
	CheckNSS       = "nss"       // a static binary does not carry glibc's name service switch
	CheckTrimpath  = "trimpath"  // built with -trimpath
	CheckStripped  = "stripped"  // no .symtab, no .debug_*/.zdebug_*
	CheckPaths     = "paths"     // no build-machine paths in the bytes
	CheckPacked    = "packed"    // not UPX-packed
	CheckIntegrity = "integrity" // sha256 equals the one Build recorded
	CheckSize      = "size"      // within the size budget
	CheckPIE       = "pie"       // hardening: position independent
	CheckRELRO     = "relro"     // hardening: full RELRO
	CheckNX        = "nx"        // hardening: non-executable stack
)

// Pseudo-checks a Report can carry besides the named checks. They cannot be turned off.
const (
	CheckInspect = "inspect" // the file could not be inspected at all
	CheckConfig  = "config"  // the Expect given was invalid
)

// CheckNames returns every check name, in table order. Configuration validation uses it to
// reject unknown names.
func CheckNames() []string {
	return []string{CheckLinkage, CheckPlatform, CheckCgo, CheckNSS, CheckTrimpath, CheckStripped, CheckPaths,
		CheckPacked, CheckIntegrity, CheckSize, CheckPIE, CheckRELRO, CheckNX}
}

// IsHardening reports whether name is a hardening check: reported by default, enforced only
// when listed in Expect.Enforce.
func IsHardening(name string) bool {
	return name == CheckPIE || name == CheckRELRO || name == CheckNX
}

// Status is the outcome of one check: of a binary here, of an image in targets/run, whose
// findings pass, fail, warn or skip.
type Status string

// Statuses.
const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	StatusWarn Status = "warn" // worth knowing, does not fail: e.g. a check this build only reports (Expect.Report)
	StatusInfo Status = "info" // hardening property absent, and not enforced
	StatusSkip Status = "skip" // nothing to check against (no digest, no budget, not a Go binary)
	StatusNA   Status = "n/a"  // does not apply to this file format
)

// Result is one check's outcome.
type Result struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	// Value is a short form for the table, e.g. "static-pie", "partial", "off".
	Value string `json:"value,omitempty"`
	// Detail is the diagnosis: what was found, what it will do in a container, and the fix.
	Detail string `json:"detail,omitempty"`
}

// LinkageCgoStatic is a cgo build linked statically against a C library (musl, or glibc with
// -extldflags=-static). A build can ask for it; Inspect finds such a binary static.
const LinkageCgoStatic Linkage = "cgo-static"

// BuildLinkages are the linkages a build can ask for, the default first: static (CGO_ENABLED=0),
// static-pie and cgo-static. Expect.Linkage, gobuild and the configuration's linkage key accept
// these and no others.
func BuildLinkages() []Linkage {
	return []Linkage{LinkageStatic, LinkageStaticPIE, LinkageCgoStatic}
}

// Cgo reports whether a build of linkage l needs cgo and a C toolchain (static-pie, cgo-static).
func (l Linkage) Cgo() bool {
	return l == LinkageStaticPIE || l == LinkageCgoStatic
}

// Expect is what Verify knows about one binary: what Build recorded for it, and how strict to
// be. The zero value checks everything that needs no recorded data.
type Expect struct {
	Name     string            // shown in the table; default: the file's base name
	Platform platform.Platform // recorded platform, e.g. linux/arm/v7; the zero value skips the comparison
	Linkage  Linkage           // the build's linkage: "static" (default), "static-pie" or "cgo-static"
	SHA256   string            // digest Build recorded (hex, "sha256:" prefix allowed); "" skips integrity
	MaxSize  int64             // size budget in bytes (verify.max_size); 0 means none
	// Prev is the previous run's sizes of this binary, for the change shown in the breakdown.
	Prev *Sizes
	// LeakPaths are the build's working directory, $HOME, GOPATH, GOMODCACHE and GOROOT:
	// none may occur in the bytes. See BuildPaths.
	LeakPaths []string
	// Report lists checks whose failure is only reported (a warning), e.g. "stripped" for a
	// debug build.
	Report []string
	// Enforce lists hardening checks (pie, relro, nx) whose absence fails the binary.
	Enforce []string
	// LinkWarnings are the C functions the linker warned need glibc's shared libraries at run
	// time (Build's record); the nss check names them.
	LinkWarnings []string
	// Breakdown asks for the size breakdown even when the size check passes.
	Breakdown bool
	// ImagePath is where the image puts the binary, used in messages ("exec /app: ...");
	// default "/" + Name.
	ImagePath string
}

// Validate rejects unknown check names, names both reported and enforced, unknown linkages
// and malformed platforms, so that a typo in configuration is an error rather than a check
// silently left on or off.
func (e Expect) Validate() error {
	var errs []error
	known := CheckNames()
	for _, n := range e.Report {
		if !slices.Contains(known, n) {
			errs = append(errs, fmt.Errorf("report: unknown check %q (known: %s)", n, strings.Join(known, ", ")))
		}
		if slices.Contains(e.Enforce, n) {
			errs = append(errs, fmt.Errorf("check %q is both reported-only and enforced", n))
		}
	}
	for _, n := range e.Enforce {
		if !slices.Contains(known, n) {
			errs = append(errs, fmt.Errorf("enforce: unknown check %q (known: %s)", n, strings.Join(known, ", ")))
		}
	}
	if ls := BuildLinkages(); e.Linkage != "" && !slices.Contains(ls, e.Linkage) {
		names := make([]string, len(ls))
		for i, l := range ls {
			names[i] = string(l)
		}
		errs = append(errs, fmt.Errorf("linkage %q: want %s or %s", e.Linkage, strings.Join(names[:len(names)-1], ", "), names[len(names)-1]))
	}
	if !e.Platform.IsZero() {
		if err := checkPlatform(e.Platform); err != nil {
			errs = append(errs, err)
		}
	}
	if e.MaxSize < 0 {
		errs = append(errs, fmt.Errorf("max size %d: must not be negative", e.MaxSize))
	}
	if d := normDigest(e.SHA256); d != "" && (len(d) != 64 || strings.Trim(d, "0123456789abcdef") != "") {
		errs = append(errs, fmt.Errorf("sha256 %q: want 64 hex digits", e.SHA256))
	}
	return errors.Join(errs...)
}

func (e Expect) linkage() Linkage {
	if e.Linkage == "" {
		return LinkageStatic
	}
	return e.Linkage
}

// Report is the verification of one binary.
type Report struct {
	Name     string            `json:"name"`
	Platform platform.Platform `json:"platform,omitzero"`
	Path     string            `json:"path,omitempty"`
	Format   Format            `json:"format,omitempty"`
	Size     int64             `json:"size"`
	PrevSize int64             `json:"prev_size,omitempty"`
	SHA256   string            `json:"sha256,omitempty"`

	Linkage   Linkage  `json:"linkage,omitempty"`    // as found
	GoVersion string   `json:"go_version,omitempty"` // "" when not Go
	PGO       string   `json:"pgo,omitempty"`        // the -pgo profile, "" when PGO was off
	Tags      []string `json:"tags,omitempty"`       // -tags
	BuildMode string   `json:"buildmode,omitempty"`

	Results   []Result   `json:"results"`
	Breakdown *Breakdown `json:"breakdown,omitempty"` // on a size failure, or when asked for
	Notes     []string   `json:"notes,omitempty"`
}

// Failed reports whether any enforced check failed.
func (r Report) Failed() bool {
	for _, res := range r.Results {
		if res.Status == StatusFail {
			return true
		}
	}
	return false
}

// Unchecked returns the failed inspect or config result of a report whose checks did not run:
// the file could not be inspected, or the Expect was invalid.
func (r Report) Unchecked() (Result, bool) {
	for _, res := range r.Results {
		if (res.Check == CheckInspect || res.Check == CheckConfig) && res.Status == StatusFail {
			return res, true
		}
	}
	return Result{}, false
}

// Result returns the result of the named check.
func (r Report) Result(check string) (Result, bool) {
	for _, res := range r.Results {
		if res.Check == check {
			return res, true
		}
	}
	return Result{}, false
}

// Verify inspects the file at path and checks it against exp. It never returns without a
// Report: a file that cannot be inspected gets a failed "inspect" result saying why.
func Verify(ctx context.Context, path string, exp Expect) Report {
	if exp.Name == "" {
		exp.Name = filepath.Base(path)
	}
	if err := exp.Validate(); err != nil {
		return Report{Name: exp.Name, Platform: exp.Platform, Path: path,
			Results: []Result{{Check: CheckConfig, Status: StatusFail, Value: "invalid", Detail: err.Error()}}}
	}
	info, err := Inspect(ctx, path, WithLeakPaths(exp.LeakPaths...))
	if err != nil {
		return Report{Name: exp.Name, Platform: exp.Platform, Path: path,
			Results: []Result{{Check: CheckInspect, Status: StatusFail, Value: "error", Detail: err.Error()}}}
	}
	return Check(info, exp)
}

// Check checks an inspected file against exp. Every check produces a Result, so a Report lists
// every failure, not just the first. An invalid exp gives a failed "config" result.
func Check(info *Info, exp Expect) Report {
	if exp.Name == "" {
		exp.Name = "binary"
		if info.Path != "" {
			exp.Name = filepath.Base(info.Path)
		}
	}
	if exp.ImagePath == "" {
		exp.ImagePath = "/" + exp.Name
	}
	rep := Report{
		Name: exp.Name, Platform: exp.Platform, Path: info.Path, Format: info.Format,
		Size: info.Size, SHA256: info.SHA256, Notes: slices.Clone(info.Notes),
	}
	if err := exp.Validate(); err != nil {
		rep.Results = []Result{{Check: CheckConfig, Status: StatusFail, Value: "invalid", Detail: err.Error()}}
		return rep
	}
	if exp.Prev != nil {
		rep.PrevSize = exp.Prev.Total
	}
	if info.ELF != nil {
		rep.Linkage = info.ELF.Linkage
	}
	if g := info.Go; g != nil {
		rep.GoVersion, rep.PGO, rep.Tags, rep.BuildMode = g.Version, g.PGO, g.Tags, g.BuildMode
	}
	c := checker{info: info, exp: exp}
	for _, name := range CheckNames() {
		res := c.run(name)
		res.Check = name
		switch {
		case res.Status == StatusFail && IsHardening(name) && !slices.Contains(exp.Enforce, name):
			res.Status = StatusInfo
		case res.Status == StatusFail && slices.Contains(exp.Report, name):
			res.Status = StatusWarn
			res.Detail = "(reported only for this build) " + res.Detail
		}
		rep.Results = append(rep.Results, res)
	}
	if sz, _ := rep.Result(CheckSize); sz.Status == StatusFail || sz.Status == StatusWarn || exp.Breakdown {
		rep.Breakdown = info.Breakdown(exp.Prev)
	}
	return rep
}

type checker struct {
	info *Info
	exp  Expect
}

func (c *checker) run(name string) Result {
	elfOnly := map[string]bool{CheckLinkage: true, CheckPlatform: true, CheckCgo: true, CheckNSS: true, CheckTrimpath: true,
		CheckStripped: true, CheckPacked: true, CheckPIE: true, CheckRELRO: true, CheckNX: true}
	if c.info.ELF == nil && elfOnly[name] {
		return Result{Status: StatusNA, Detail: fmt.Sprintf("a %s file, not ELF: does not go into a Linux image, so the ELF and Go checks do not apply", formatName(c.info.Format))}
	}
	switch name {
	case CheckLinkage:
		return c.linkage()
	case CheckPlatform:
		return c.platform()
	case CheckCgo:
		return c.cgo()
	case CheckNSS:
		return c.nss()
	case CheckTrimpath:
		return c.trimpath()
	case CheckStripped:
		return c.stripped()
	case CheckPaths:
		return c.paths()
	case CheckPacked:
		return c.packed()
	case CheckIntegrity:
		return c.integrity()
	case CheckSize:
		return c.size()
	case CheckPIE:
		return c.pie()
	case CheckRELRO:
		return c.relro()
	case CheckNX:
		return c.nx()
	}
	return Result{Status: StatusSkip}
}

func formatName(f Format) string {
	switch f {
	case FormatMachO:
		return "Mach-O"
	case FormatPE:
		return "PE"
	}
	return string(f)
}

const staticPIEFlags = "CGO_ENABLED=1 -buildmode=pie -tags netgo,osusergo -ldflags '-linkmode=external -extldflags=-static-pie'"

func (c *checker) linkage() Result {
	e, g := c.info.ELF, c.info.Go
	var r Result
	switch e.Linkage {
	case LinkageStatic:
		r = Result{Status: StatusPass, Value: string(LinkageStatic), Detail: "statically linked (ET_EXEC, no PT_INTERP, no DT_NEEDED): the kernel starts it directly"}
		if c.exp.linkage() == LinkageStaticPIE {
			r = Result{Status: StatusFail, Value: string(LinkageStatic),
				Detail: "the build's linkage is static-pie but the binary is not position independent (ET_EXEC): the PIE flags did not take effect, so it gets no ASLR. " +
					"Fix: build with " + staticPIEFlags + "."}
		}
	case LinkageStaticPIE:
		r = Result{Status: StatusPass, Value: string(LinkageStaticPIE), Detail: "static PIE (ET_DYN without PT_INTERP or DT_NEEDED): relocates itself, runs in scratch with ASLR"}
	case LinkageDynamic, LinkageBroken:
		var asks []string
		if e.Interpreter != "" {
			asks = append(asks, "the dynamic loader "+e.Interpreter)
		}
		if len(e.Needed) > 0 {
			asks = append(asks, "the libraries "+strings.Join(e.Needed, ", "))
		}
		var d strings.Builder
		fmt.Fprintf(&d, "dynamically linked: asks for %s, which a scratch or distroless/static image does not have. ", strings.Join(asks, " and "))
		if e.Linkage == LinkageDynamic {
			fmt.Fprintf(&d, "The container dies at start with \"exec %s: no such file or directory\" although %s is there: the missing file is the loader. ", c.exp.ImagePath, c.exp.ImagePath)
		} else {
			d.WriteString("With no interpreter named, nothing loads those libraries: the program crashes at its first call into them. ")
		}
		switch {
		case g != nil && g.CGO == "0" && g.BuildMode == "pie":
			d.WriteString("It was built with CGO_ENABLED=0 -buildmode=pie, and Go's internal linker still asks for the loader to apply the PIE relocations. " +
				"Fix: for ASLR without a loader use linkage: static-pie (" + staticPIEFlags + "); otherwise drop -buildmode=pie and build with CGO_ENABLED=0 (linkage: static).")
		case g != nil && g.CGO == "1":
			d.WriteString("It was built with CGO_ENABLED=1 and links the C library dynamically. " +
				"Fix: build with CGO_ENABLED=0 (linkage: static; net and os/user then use their pure Go code), or, when C code is needed, link it in statically: linkage: cgo-static (-ldflags '-linkmode=external -extldflags=-static') or linkage: static-pie.")
		case g != nil:
			d.WriteString("Fix: build with CGO_ENABLED=0 (linkage: static), or use linkage: static-pie or cgo-static when C code is needed.")
		default:
			d.WriteString("Fix: link it statically (gcc -static, musl-gcc -static, or -static-pie), or run it on a base image that ships these libraries.")
		}
		r = Result{Status: StatusFail, Value: "dynamic", Detail: d.String()}
	default:
		r = Result{Status: StatusFail, Value: strings.ToLower(strings.TrimPrefix(e.Type, "ET_")),
			Detail: fmt.Sprintf("ELF type %s: not an executable the kernel can start (an object file, shared library or core dump?)", e.Type)}
	}
	if c.info.Packed != nil {
		r.Detail += " (this is the UPX loader's linkage; the packed program's own cannot be seen)"
	}
	return r
}

func (c *checker) platform() Result {
	e, g := c.info.ELF, c.info.Go
	if c.exp.Platform.IsZero() {
		// Nothing recorded: still catch a file whose header and build info disagree.
		if g != nil && g.GOARCH != "" && e.Arch != "" && g.GOARCH != e.Arch {
			return Result{Status: StatusFail, Value: "mismatch", Detail: fmt.Sprintf("the ELF header says %s but Go build info says GOARCH=%s: the file is corrupt or was tampered with", describeELFArch(e), g.GOARCH)}
		}
		return Result{Status: StatusSkip, Detail: "no platform recorded for this binary"}
	}
	p := c.exp.Platform
	spec, _ := archSpecFor(p.Arch)
	var bad, ok []string
	if e.Class != spec.class || e.Machine != spec.machine.String() || e.ByteOrder != spec.order {
		bad = append(bad, fmt.Sprintf("the ELF header says %s, not %d-bit %s-endian %s", describeELFArch(e), spec.class, spec.order, spec.machine))
	} else {
		ok = append(ok, describeELFArch(e))
	}
	if p.OS == "linux" && e.OSABI != "ELFOSABI_NONE" && e.OSABI != "ELFOSABI_LINUX" {
		bad = append(bad, fmt.Sprintf("the ELF OS ABI is %s, not Linux", e.OSABI))
	}
	if p.Arch == "arm" && p.Variant != "" {
		want := "hard"
		if p.Variant == "v5" {
			want = "soft"
		}
		switch e.FloatABI {
		case "":
			ok = append(ok, "no float ABI marked (none needed without C code)")
		case want:
			ok = append(ok, e.FloatABI+"-float ABI")
		default:
			bad = append(bad, fmt.Sprintf("e_flags mark the %s-float ABI, but %s is %s-float", e.FloatABI, p, want))
		}
	}
	if g != nil {
		mis := g.Mismatch(p)
		bad = append(bad, mis...)
		if len(mis) == 0 && g.GOARCH != "" {
			ok = append(ok, "GOOS="+g.GOOS+" GOARCH="+g.GOARCH)
		}
	}
	if len(bad) > 0 {
		symptom := fmt.Sprintf("in a %s image it fails with \"exec %s: exec format error\" (or dies with an illegal instruction)", p, c.exp.ImagePath)
		return Result{Status: StatusFail, Value: "mismatch", Detail: fmt.Sprintf("recorded as %s but %s: %s. The artifact is mislabelled or was built for the wrong target; rebuild with GOOS=%s GOARCH=%s%s, or record the platform it was built for.",
			p, strings.Join(bad, "; "), symptom, p.OS, p.Arch, levelHint(p))}
	}
	return Result{Status: StatusPass, Value: p.Arch, Detail: fmt.Sprintf("%s matches: %s", p, strings.Join(ok, ", "))}
}

func levelHint(p platform.Platform) string {
	if k, v := p.Level(); k != "" {
		return " " + k + "=" + v
	}
	return ""
}

// goMissing is the result for a Go check on a file without Go build info.
func (c *checker) goMissing(what string) Result {
	if c.info.ELF.GoNote {
		return Result{Status: StatusFail, Value: "unknown", Detail: "a Go binary whose build info is unreadable: cannot tell " + what + ". Rebuild it; a tool may have damaged it."}
	}
	if c.info.Packed != nil {
		return Result{Status: StatusSkip, Detail: "packed: the Go build info is compressed inside and cannot be read"}
	}
	return Result{Status: StatusSkip, Detail: "not a Go binary: Go checks skipped"}
}

func (c *checker) cgo() Result {
	g := c.info.Go
	if g == nil {
		return c.goMissing("whether cgo was on")
	}
	switch g.CGO {
	case "0":
		return Result{Status: StatusPass, Value: "off", Detail: "CGO_ENABLED=0: pure Go, no C library"}
	case "1":
		if c.exp.Linkage.Cgo() {
			return Result{Status: StatusPass, Value: "on", Detail: fmt.Sprintf("CGO_ENABLED=1, as linkage %s requires", c.exp.Linkage)}
		}
		return Result{Status: StatusFail, Value: "on", Detail: "built with CGO_ENABLED=1 although the build's linkage is " + string(c.exp.linkage()) +
			" (pure Go): a CGO_ENABLED=1 from the environment or configuration won over the default (ko puts CGO_ENABLED=0 first, so a later one wins). " +
			"With cgo, net and os/user call the C library (getaddrinfo, getpwnam), which needs libc, /etc/nsswitch.conf and friends at run time. " +
			"Fix: build with CGO_ENABLED=0, or, if cgo is intended, set linkage: cgo-static or static-pie."}
	}
	return Result{Status: StatusFail, Value: "unknown", Detail: "CGO_ENABLED is not recorded in the Go build info (built by a Go older than 1.18?): cannot tell whether cgo was on. Rebuild with a current Go."}
}

// nss fails a static binary that carries glibc's name service switch: at run time, every host,
// user or group lookup through it (getaddrinfo, gethostbyname, getpwnam, getgrnam, …) makes glibc
// dlopen libnss_*.so of the very glibc version it was linked with, which scratch and distroless
// static lack, so the lookup fails (or crashes against another glibc). The linker warns about it
// ("Using 'getaddrinfo' in statically linked applications requires at runtime the shared
// libraries from the glibc version used for linking"); Build surfaces that warning.
func (c *checker) nss() Result {
	e := c.info.ELF
	if e.Linkage == LinkageDynamic || e.Linkage == LinkageBroken {
		return Result{Status: StatusNA, Value: "-", Detail: "a dynamic binary: the linkage check says what it needs"}
	}
	if !e.GlibcNSS {
		return Result{Status: StatusPass, Value: "none", Detail: "no glibc name service switch: host and user lookups need no shared library"}
	}
	detail := "the binary is static but carries glibc's name service switch (/etc/nsswitch.conf, libnss_*.so): every host, user or group lookup through it (getaddrinfo, gethostbyname, getpwnam, getgrnam, …) dlopens glibc's libnss_*.so of the version it was linked with at run time, which the image does not have: lookups fail, or crash against another glibc"
	if len(c.exp.LinkWarnings) > 0 {
		detail += ". The linker warned about " + strings.Join(c.exp.LinkWarnings, ", ")
	}
	return Result{Status: StatusFail, Value: "glibc", Detail: detail + ". Fix: use Go's resolver and user lookup (-tags netgo,osusergo, which scratchkit's cgo linkages add for Go's own calls) and keep C code off these functions; or link against musl (CC=musl-gcc), whose static lookups need no shared library; or accept it for this build with verify.report: [nss]."}
}

func (c *checker) trimpath() Result {
	g := c.info.Go
	if g == nil {
		return c.goMissing("whether -trimpath was used")
	}
	if g.Trimpath {
		return Result{Status: StatusPass, Value: "on", Detail: "-trimpath: file names are module paths, not build-machine paths"}
	}
	return Result{Status: StatusFail, Value: "off", Detail: "built without -trimpath: every file name in stack traces and runtime.Caller is the build machine's absolute path " +
		"(its user name, checkout and module cache layout), and the binary differs from one built elsewhere, so builds are not reproducible. Fix: add -trimpath to the build flags."}
}

func (c *checker) stripped() Result {
	e := c.info.ELF
	if !e.SectionHeaders {
		return Result{Status: StatusPass, Value: "yes", Detail: "no section headers at all"}
	}
	var found []string
	if e.Symtab > 0 {
		found = append(found, fmt.Sprintf("a symbol table (.symtab, %s)", bytesize.Format(e.Symtab)))
	}
	if len(e.Debug) > 0 {
		found = append(found, fmt.Sprintf("debug info (%s; %s)", strings.Join(e.Debug, ", "), bytesize.Format(e.DebugSize)))
	}
	if len(found) == 0 {
		return Result{Status: StatusPass, Value: "yes", Detail: "no .symtab, no .debug_* or .zdebug_* sections"}
	}
	fix := "Fix: build with -ldflags='-s -w' (Go keeps its pclntab, so panics still print file:line stack traces)."
	if c.info.Go == nil {
		fix = "Fix: strip it (strip --strip-all, or link with gcc -s)."
	}
	return Result{Status: StatusFail, Value: "no", Detail: fmt.Sprintf("not stripped: carries %s, %s of the file that the container never uses and that tells an attacker more about the program. %s",
		strings.Join(found, " and "), bytesize.Format(e.Symtab+e.DebugSize), fix)}
}

func (c *checker) paths() Result {
	if len(c.exp.LeakPaths) == 0 {
		return Result{Status: StatusSkip, Detail: "no build paths given to look for"}
	}
	want, _ := cleanLeakPaths(c.exp.LeakPaths)
	var notScanned []string
	for _, p := range want {
		if !slices.Contains(c.info.Scanned, p) {
			notScanned = append(notScanned, p)
		}
	}
	if len(notScanned) > 0 {
		return Result{Status: StatusSkip, Detail: fmt.Sprintf("%s not scanned: inspect with WithLeakPaths (Verify does this)", strings.Join(notScanned, ", "))}
	}
	var found []string
	for _, l := range c.info.Leaks {
		if !slices.Contains(want, l.Path) {
			continue
		}
		ex := ""
		if len(l.Examples) > 0 {
			ex = fmt.Sprintf(", e.g. %q at offset %d", l.Examples[0], l.Offsets[0])
		}
		found = append(found, fmt.Sprintf("%s (%d×%s)", l.Path, l.Count, ex))
	}
	if len(found) == 0 {
		return Result{Status: StatusPass, Value: "none", Detail: "none of " + strings.Join(want, ", ") + " occurs in the file"}
	}
	cause := "Fix: build with -trimpath."
	if c.info.Go != nil && c.info.Go.Trimpath {
		cause = "-trimpath was on, so they come from elsewhere: -ldflags -X values, embedded files, cgo (__FILE__, debug info) or generated code. Fix: find and remove them there."
	} else if c.info.Go == nil {
		cause = "Fix: find where the build puts them (__FILE__, debug info, -fdebug-prefix-map/-ffile-prefix-map for C)."
	}
	return Result{Status: StatusFail, Value: "leaked", Detail: fmt.Sprintf("contains build-machine paths: %s. They disclose the build machine's layout and user names and make the binary differ between machines. %s",
		strings.Join(found, "; "), cause)}
}

func (c *checker) packed() Result {
	p := c.info.Packed
	if p == nil {
		return Result{Status: StatusPass, Value: "no", Detail: "not packed"}
	}
	what := "UPX"
	if p.FormatName != "" {
		what += " (" + p.FormatName + ")"
	}
	orig := ""
	if p.OriginalSize > 0 {
		orig = fmt.Sprintf(" from %s", bytesize.Format(p.OriginalSize))
	}
	return Result{Status: StatusFail, Value: "upx", Detail: fmt.Sprintf("packed with %s%s (%s). A packed binary unpacks itself into anonymous memory at every start: "+
		"containers running the same image cannot share its pages, so each pays the whole unpacked size in RAM (50-100%% more memory); "+
		"every start is slower (15-160 ms to decompress); image layers are compressed anyway, so the image barely shrinks; "+
		"and scanners and antivirus flag UPX-packed files because malware uses UPX. Fix: drop the UPX step; -ldflags='-s -w' is the size reduction that costs nothing.",
		what, orig, strings.Join(p.Evidence, "; "))}
}

func normDigest(s string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "sha256:"))
}

func (c *checker) integrity() Result {
	want := normDigest(c.exp.SHA256)
	if want == "" {
		return Result{Status: StatusSkip, Detail: "Build recorded no sha256 for this binary"}
	}
	if c.info.SHA256 == want {
		return Result{Status: StatusPass, Value: "sha256:" + want[:12], Detail: "sha256:" + want + " is the digest Build recorded"}
	}
	return Result{Status: StatusFail, Value: "changed", Detail: fmt.Sprintf("sha256:%s, but Build recorded sha256:%s: the file at %s is not the artifact Build produced "+
		"(it was rebuilt, overwritten or modified since). Verify checks the artifact, not whatever sits at the path. Fix: run the Build target again, and find what rewrote the file.",
		c.info.SHA256, want, c.info.Path)}
}

func (c *checker) size() Result {
	delta := ""
	if c.exp.Prev != nil && c.exp.Prev.Total > 0 {
		delta = fmt.Sprintf(" (%s since the previous run)", bytesize.Signed(c.info.Size-c.exp.Prev.Total))
	}
	if c.exp.MaxSize <= 0 {
		return Result{Status: StatusSkip, Value: bytesize.Format(c.info.Size), Detail: "no size budget (verify.max_size) set; the binary is " + bytesize.Format(c.info.Size) + delta}
	}
	if c.info.Size <= c.exp.MaxSize {
		return Result{Status: StatusPass, Value: bytesize.Format(c.info.Size), Detail: fmt.Sprintf("%s, within the %s budget%s", bytesize.Format(c.info.Size), bytesize.Format(c.exp.MaxSize), delta)}
	}
	return Result{Status: StatusFail, Value: bytesize.Format(c.info.Size), Detail: fmt.Sprintf("%s is %s over the size budget (verify.max_size: %s)%s. See the breakdown for where the bytes go; "+
		"the usual fixes are -ldflags='-s -w', dropping a heavy dependency, or build tags that leave out unused features.",
		bytesize.Format(c.info.Size), bytesize.Format(c.info.Size-c.exp.MaxSize), bytesize.Format(c.exp.MaxSize), delta)}
}

func (c *checker) packedNote() string {
	if c.info.Packed != nil {
		return " (as seen in the UPX loader's headers)"
	}
	return ""
}

func (c *checker) pie() Result {
	if c.info.ELF.PIE {
		return Result{Status: StatusPass, Value: "yes", Detail: "position independent (ET_DYN): loaded at a random address (ASLR)" + c.packedNote()}
	}
	return Result{Status: StatusFail, Value: "no", Detail: "not position independent (ET_EXEC): always loaded at the same address, no ASLR" + c.packedNote() +
		". For a PIE that still runs in scratch, use linkage: static-pie (" + staticPIEFlags + ")."}
}

func (c *checker) relro() Result {
	switch c.info.ELF.RELRO {
	case "full":
		return Result{Status: StatusPass, Value: "full", Detail: "full RELRO: relocations are read-only after start-up (PT_GNU_RELRO and BIND_NOW)"}
	case "partial":
		return Result{Status: StatusFail, Value: "partial", Detail: "partial RELRO: PT_GNU_RELRO without BIND_NOW, so part of the GOT stays writable. Fix: add -Wl,-z,relro,-z,now to -extldflags (external linking)."}
	}
	d := "no RELRO (no PT_GNU_RELRO)"
	if c.info.ELF.Linkage == LinkageStatic {
		d += ": a static non-PIE binary has no dynamic relocations to protect; use linkage: static-pie with -extldflags '-static-pie -Wl,-z,relro,-z,now' for full RELRO"
	}
	return Result{Status: StatusFail, Value: "none", Detail: d}
}

func (c *checker) nx() Result {
	e := c.info.ELF
	if e.NX {
		return Result{Status: StatusPass, Value: "yes", Detail: "non-executable stack (PT_GNU_STACK without PF_X)"}
	}
	d := "executable stack: PT_GNU_STACK has PF_X"
	if !e.GNUStack {
		d = "no PT_GNU_STACK: the kernel may map the stack executable"
	}
	return Result{Status: StatusFail, Value: "no", Detail: d + ". Fix: link with -z noexecstack (-extldflags=-Wl,-z,noexecstack) and find the object that asks for an executable stack."}
}
