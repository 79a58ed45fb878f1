// Package gobuild cross-compiles Go main packages into static binaries: one `go build` per
// (build, platform), in parallel, each written atomically under dist/<name>/<os>_<arch>/.
package gobuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/goenv"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/relink"
)

// Build is one binary to build, already resolved (see Resolve).
type Build struct {
	Name string
	// Index is the build's position in the configuration's builds list (for messages).
	Index int
	// Main is the package to build as go build sees it from Dir (import path or ./dir).
	Main string
	// ImportPath and PkgDir are the main package's import path and absolute directory.
	ImportPath string
	PkgDir     string
	// Module is the path of the main package's module; InModule says whether that is the main
	// module (the project). ModuleVersion is the version of a dependency's module.
	Module        string
	InModule      bool
	ModuleVersion string
	// Install builds a dependency's main package the way `go install <main>@<version>` does:
	// with that module's own go.mod as the main module, so the binary's build info (and its
	// own version reporting) says the module's version. Without it, the package is built inside
	// the project's module, whose go.mod decides every dependency's version.
	Install bool
	// Dir is the absolute directory go build runs in.
	Dir string
	// Ldflags are the user's ldflags, templates already rendered.
	Ldflags []string
	Flags   []string
	Tags    []string
	Env     []string
	// Linkage is one of binary.BuildLinkages; empty means static.
	Linkage binary.Linkage
	// CC is the C compiler for cgo linkages; empty: found per platform.
	CC string
	// PGO is auto, off, or a profile path.
	PGO       string
	Platforms []platform.Platform
}

// Options are the settings of a Run.
type Options struct {
	// Dist is the absolute output folder.
	Dist string
	// Env is the environment go build starts from. Default: os.Environ() without the signing secrets (secrets.Names).
	Env []string
	// Jobs bounds the go builds that run at once. Default: runtime.NumCPU().
	Jobs int
	// Verbose, when set, receives each exact go build command line.
	Verbose io.Writer
	// Done is called as each (build, platform) finishes, from its goroutine.
	Done func(Result)
	// Go is the go command. Default: "go".
	Go string
	// Relink, when set, links a static build again without go build after the changes said to
	// it, where it can (see package relink), and is told of every binary go build writes.
	// Keyed by RelinkKey.
	Relink *relink.Set
}

// RelinkKey names a build's binary for a platform in Options.Relink.
func RelinkKey(b *Build, p platform.Platform) string { return b.Name + " " + p.String() }

// Result is one (build, platform) outcome.
type Result struct {
	Name     string
	Platform platform.Platform
	// Path is the absolute path of the binary.
	Path     string
	SHA256   string
	Size     int64
	Duration time.Duration
	// Command is the go build command line with the environment that matters.
	Command string
	// Warnings are the warnings go build printed for a build that succeeded (the C linker's,
	// for a cgo linkage), each once; GlibcRuntime are the C functions among them that glibc says
	// need its shared libraries at run time ("Using 'getaddrinfo' in statically linked
	// applications requires at runtime …").
	Warnings     []string
	GlibcRuntime []string
	Build        *Build
	// Relinked: Options.Relink wrote the binary, not go build.
	Relinked bool
	Err      error
}

// Run builds every build for every platform. It returns every result, and an error joining the
// failures; a failed platform leaves no file behind, and the others finish.
func Run(ctx context.Context, builds []Build, opts Options) ([]Result, error) {
	if opts.Env == nil {
		opts.Env = secrets.Environ()
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	if opts.Go == "" {
		opts.Go = "go"
	}
	type job struct {
		b *Build
		p platform.Platform
		i int
	}
	var jobs []job
	for i := range builds {
		if err := checkCgoEnv(&builds[i], opts.Env); err != nil {
			return nil, err
		}
		for _, p := range builds[i].Platforms {
			jobs = append(jobs, job{&builds[i], p, len(jobs)})
		}
	}
	results := make([]Result, len(jobs))
	sem := make(chan struct{}, opts.Jobs)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[j.i] = Result{Name: j.b.Name, Platform: j.p, Build: j.b, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			r := buildOne(ctx, j.b, j.p, opts)
			results[j.i] = r
			if opts.Done != nil {
				opts.Done(r)
			}
		}()
	}
	wg.Wait()
	return results, joinFailures(results)
}

// BuildError is go build failing the same way for one or more platforms of a build: the
// compiler's output is said once, with every platform it applies to.
type BuildError struct {
	Name      string
	Platforms []platform.Platform
	Output    string // what the go command printed
	Hint      string // what to do, when the output has a known cause
}

func (e *BuildError) Error() string {
	ps := make([]string, len(e.Platforms))
	for i, p := range e.Platforms {
		ps[i] = p.String()
	}
	return fmt.Sprintf("build %s for %s failed:\n%s%s", e.Name, strings.Join(ps, ", "), indent(e.Output), e.Hint)
}

// joinFailures joins the results' errors, merging the build errors that differ only in platform.
func joinFailures(results []Result) error {
	var errs []error
	for _, r := range results {
		var be *BuildError
		if !errors.As(r.Err, &be) {
			if r.Err != nil {
				errs = append(errs, r.Err)
			}
			continue
		}
		merged := false
		for _, e := range errs {
			if prev, ok := e.(*BuildError); ok && prev.Name == be.Name && prev.Output == be.Output && prev.Hint == be.Hint {
				prev.Platforms = append(prev.Platforms, be.Platforms...)
				merged = true
				break
			}
		}
		if !merged {
			errs = append(errs, &BuildError{Name: be.Name, Platforms: slices.Clone(be.Platforms), Output: be.Output, Hint: be.Hint})
		}
	}
	return errors.Join(errs...)
}

// OutputPath is where a build's binary for a platform lands: dist/<name>/<os>_<arch>[_<v>]/<name>[.exe].
func OutputPath(dist, name string, p platform.Platform) string {
	return filepath.Join(dist, name, p.Dir(), name+p.Exe())
}

// checkCgoEnv refuses a CGO_ENABLED=1 that would make a static build dynamic.
func checkCgoEnv(b *Build, env []string) error {
	if v, ok := lookup(env, "CGO_ENABLED"); ok {
		if err := checkCgo(v, b.Linkage); err != nil {
			return fmt.Errorf("build %s: the environment sets %w", b.Name, err)
		}
	}
	return nil
}

func lookup(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Args returns the go build arguments (after "go") and the extra environment for a build and platform.
func Args(b *Build, p platform.Platform, out string) (args, env []string, err error) {
	for i, kv := range b.Env {
		if err := CheckEnv(kv, b.Linkage); err != nil {
			return nil, nil, fmt.Errorf("build %s: env[%d]: %w", b.Name, i, err)
		}
	}
	for i, f := range b.Flags {
		if err := CheckFlag(f); err != nil {
			return nil, nil, fmt.Errorf("build %s: flags[%d] %q: %w", b.Name, i, f, err)
		}
	}
	ldflags := []string{"-s", "-w"}
	tags := append([]string(nil), b.Tags...)
	args = []string{"build", "-o", out, "-trimpath"}
	env = append(env, p.Env()...)
	switch {
	case b.Linkage == binary.LinkageStatic || b.Linkage == "":
		env = append(env, "CGO_ENABLED=0")
	case b.Linkage.Cgo():
		if !p.Linux() {
			return nil, nil, fmt.Errorf("build %s: linkage %s is for linux platforms; build %s with linkage: static", b.Name, b.Linkage, p)
		}
		cc, err := findCC(b, p)
		if err != nil {
			return nil, nil, err
		}
		env = append(env, "CGO_ENABLED=1", "CC="+cc)
		tags = appendMissing(tags, "netgo", "osusergo")
		if b.Linkage == binary.LinkageStaticPIE {
			args = append(args, "-buildmode=pie")
			ldflags = append(ldflags, "-linkmode=external", "-extldflags=-static-pie")
		} else {
			ldflags = append(ldflags, "-linkmode=external", "-extldflags=-static")
		}
	default:
		return nil, nil, fmt.Errorf("build %s: unknown linkage %q", b.Name, b.Linkage)
	}
	ldflags = append(ldflags, b.Ldflags...)
	args = append(args, "-ldflags="+strings.Join(ldflags, " "))
	if len(tags) > 0 {
		args = append(args, "-tags="+strings.Join(tags, ","))
	}
	switch b.PGO {
	case "", "auto":
		args = append(args, "-pgo=auto")
	case "off":
		args = append(args, "-pgo=off")
	default:
		args = append(args, "-pgo="+b.PGO)
	}
	args = append(args, b.Flags...)
	args = append(args, b.Main)
	env = append(env, b.Env...)
	return args, env, nil
}

func appendMissing(list []string, items ...string) []string {
	for _, it := range items {
		found := false
		for _, l := range list {
			found = found || l == it
		}
		if !found {
			list = append(list, it)
		}
	}
	return list
}

// findCC picks the C compiler for a cgo linkage: the configured one, else per platform
// musl-gcc (cgo-static on amd64), the host gcc, <triple>-gcc, or zig cc.
func findCC(b *Build, p platform.Platform) (string, error) {
	if b.CC != "" {
		return b.CC, nil
	}
	if v, ok := lookup(b.Env, "CC"); ok && v != "" {
		return v, nil
	}
	var tried []string
	try := func(cmd string) bool {
		tried = append(tried, cmd)
		_, err := exec.LookPath(strings.Fields(cmd)[0])
		return err == nil
	}
	native := p.Arch == runtime.GOARCH && runtime.GOOS == "linux"
	if b.Linkage == binary.LinkageCgoStatic && p.Arch == "amd64" && native && try("musl-gcc") {
		return "musl-gcc", nil
	}
	if native && try("gcc") {
		return "gcc", nil
	}
	if t := p.Triple(); t != "" && try(t+"-gcc") {
		return t + "-gcc", nil
	}
	if z := p.ZigTarget(); z != "" && try("zig") {
		return "zig cc -target " + z, nil
	}
	hint := "zig (zig cc -target " + p.ZigTarget() + ")"
	if t := p.Triple(); t != "" {
		pkg := "gcc-" + strings.ReplaceAll(t, "_", "-")
		hint = fmt.Sprintf("Debian's %s (%s-gcc) or %s", pkg, t, hint)
	}
	if b.Linkage == binary.LinkageCgoStatic && p.Arch == "amd64" {
		hint = "musl-tools (musl-gcc) or " + hint
	}
	return "", fmt.Errorf("build %s for %s: linkage %s needs a C compiler for %s and none was found (tried %s): install %s, or set cc in the build", b.Name, p, b.Linkage, p, strings.Join(tried, ", "), hint)
}

// buildOne runs go build into a temporary file next to the output, seeded with the previous
// binary so an up-to-date build skips the link, then renames it into place; or, with
// Options.Relink, links it again without go build where it can.
func buildOne(ctx context.Context, b *Build, p platform.Platform, opts Options) Result {
	start := time.Now()
	out := OutputPath(opts.Dist, b.Name, p)
	r := Result{Name: b.Name, Platform: p, Path: out, Build: b}
	fail := func(err error) Result {
		r.Err = err
		r.Duration = time.Since(start)
		return r
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fail(fmt.Errorf("build %s for %s: %w", b.Name, p, err))
	}
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp")
	_ = os.Remove(tmp)
	defer os.Remove(tmp) // gone after the rename; removes a failed build's leftovers
	args, extra, err := Args(b, p, tmp)
	if err != nil {
		return fail(err)
	}
	var gopath string
	if b.Install {
		// go install <main>@<version> into a GOPATH of its own, sharing the module cache.
		gopath, err = os.MkdirTemp(filepath.Dir(out), ".install-")
		if err != nil {
			return fail(fmt.Errorf("build %s for %s: %w", b.Name, p, err))
		}
		defer os.RemoveAll(gopath)
		args, extra, err = installArgs(ctx, opts, b, args, extra, gopath)
		if err != nil {
			return fail(fmt.Errorf("build %s for %s: %w", b.Name, p, err))
		}
	}
	r.Command = commandLine(opts.Go, args, extra)
	env := secrets.Env(opts.Env, extra...) // go build never sees the signing secrets
	var output bytes.Buffer
	relinkable := opts.Relink != nil && !b.Install && !b.Linkage.Cgo()
	if relinkable {
		msg, err := opts.Relink.Link(ctx, RelinkKey(b, p), tmp)
		switch {
		case err == nil:
			r.Relinked = true
			output.WriteString(msg)
		case !errors.Is(err, relink.ErrNotApplicable):
			return fail(fmt.Errorf("build %s for %s: %w", b.Name, p, err))
		case opts.Verbose != nil:
			fmt.Fprintf(opts.Verbose, "%s %s: %v\n", b.Name, p, err)
		}
	}
	if !r.Relinked {
		if err := copyFile(out, tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fail(fmt.Errorf("build %s for %s: seed %s: %w", b.Name, p, tmp, err))
		}
		if opts.Verbose != nil {
			fmt.Fprintf(opts.Verbose, "(cd %s && %s)\n", b.Dir, r.Command)
		}
		cmd := exec.CommandContext(ctx, opts.Go, args...)
		cmd.Dir = b.Dir
		cmd.Env = env
		cmd.Stdout = &output
		cmd.Stderr = &output
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(output.String())
			if msg == "" {
				msg = err.Error()
			}
			return fail(&BuildError{Name: b.Name, Platforms: []platform.Platform{p}, Output: msg, Hint: hint(b, p, msg)})
		}
		if b.Install {
			if err := takeInstalled(gopath, tmp); err != nil {
				return fail(fmt.Errorf("build %s for %s: %w", b.Name, p, err))
			}
		}
		if relinkable {
			opts.Relink.Built(RelinkKey(b, p), relink.Options{Go: opts.Go, Dir: b.Dir, Args: args, Env: env})
		}
	}
	r.Warnings, r.GlibcRuntime = linkWarnings(output.String())
	sum, size, err := hashFile(tmp)
	if err != nil {
		return fail(fmt.Errorf("build %s for %s: %w", b.Name, p, err))
	}
	if err := os.Rename(tmp, out); err != nil {
		return fail(fmt.Errorf("build %s for %s: %w", b.Name, p, err))
	}
	r.SHA256, r.Size, r.Duration = sum, size, time.Since(start)
	return r
}

// hint explains compiler output that has a known cause.
func hint(b *Build, p platform.Platform, output string) string {
	cc := b.CC
	if cc == "" {
		cc = ccOf(output)
	}
	switch {
	case strings.Contains(output, "rcrt1.o"):
		return fmt.Sprintf("\n  the C library of %s has no static-pie start files (rcrt1.o) for %s: use linkage: static or cgo-static for this platform, or a toolchain with static-pie support (zig cc -target %s)", cc, p, p.ZigTarget())
	case strings.Contains(output, "cannot find -lc") || strings.Contains(output, "cannot find -lpthread"):
		return fmt.Sprintf("\n  the C toolchain has no static C library for %s: install its libc development package (e.g. Debian's libc6-dev-%s-cross) or use musl (musl-gcc, zig cc -target %s)", p, debArch(p), p.ZigTarget())
	}
	return ""
}

// ccOf finds the compiler name in linker output, when the build did not name one.
func ccOf(output string) string {
	for _, f := range strings.Fields(output) {
		if strings.HasSuffix(f, "-gcc") || strings.HasSuffix(f, "/gcc") || f == "gcc" {
			return filepath.Base(f)
		}
	}
	return ""
}

func debArch(p platform.Platform) string {
	switch p.Arch {
	case "arm":
		return "armhf"
	case "386":
		return "i386"
	}
	return p.Arch
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// commandLine renders the command the way a person would type it, with the variables that matter.
func commandLine(goCmd string, args, env []string) string {
	var b strings.Builder
	sorted := append([]string(nil), env...)
	sort.Strings(sorted)
	for _, e := range sorted {
		b.WriteString(shellQuote(e))
		b.WriteByte(' ')
	}
	b.WriteString(goCmd)
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(shellQuote(a))
	}
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"$`\\*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	// Keep the modification time: go build compares build IDs, not times, but this keeps the
	// copy indistinguishable from the file it seeds.
	return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// installArgs turns go build arguments into those of go install <main>@<version> with GOPATH
// set to gopath (go install writes cross-compiled binaries only below GOPATH/bin, never GOBIN),
// the user's module cache kept, and no GOFLAGS or workspace of the project's.
func installArgs(ctx context.Context, opts Options, b *Build, args, env []string, gopath string) ([]string, []string, error) {
	if b.InModule || b.ModuleVersion == "" {
		return nil, nil, fmt.Errorf("install builds a dependency's main package at its module version, and %s has none", b.ImportPath)
	}
	modcache, ok := lookup(opts.Env, "GOMODCACHE")
	if !ok || modcache == "" {
		ge, err := goenv.Read(ctx, opts.Go, b.Dir, secrets.Env(opts.Env))
		if err != nil {
			return nil, nil, fmt.Errorf("the module cache go install keeps: %w", err)
		}
		modcache = ge.GOMODCACHE
	}
	// args: build -o OUT -trimpath ... MAIN → install -trimpath ... MAIN@VERSION
	in := append([]string{"install"}, args[3:len(args)-1]...)
	in = append(in, b.ImportPath+"@"+b.ModuleVersion)
	env = append(env, "GOPATH="+gopath, "GOMODCACHE="+modcache, "GOBIN=", "GOFLAGS=", "GOWORK=off")
	return in, env, nil
}

// takeInstalled moves the one binary go install wrote below gopath/bin to dst.
func takeInstalled(gopath, dst string) error {
	var found []string
	err := filepath.WalkDir(filepath.Join(gopath, "bin"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			found = append(found, p)
		}
		return err
	})
	if err != nil || len(found) != 1 {
		return fmt.Errorf("go install left %d binaries in %s (%v), want one", len(found), filepath.Join(gopath, "bin"), err)
	}
	return os.Rename(found[0], dst)
}

// glibcRuntimeRE is glibc's linker warning for a function a static binary can only run with
// glibc's shared libraries present (NSS, dlopen, iconv).
var glibcRuntimeRE = regexp.MustCompile(`warning: Using '([A-Za-z0-9_]+)' in statically linked applications requires at runtime the shared libraries`)

// linkWarnings picks the warning lines out of a successful build's output, each once, and the
// functions glibc warned about.
func linkWarnings(out string) (warnings, glibc []string) {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if !strings.Contains(l, "warning:") || slices.Contains(warnings, l) {
			continue
		}
		warnings = append(warnings, l)
		if m := glibcRuntimeRE.FindStringSubmatch(l); m != nil && !slices.Contains(glibc, m[1]) {
			glibc = append(glibc, m[1])
		}
	}
	return warnings, glibc
}
