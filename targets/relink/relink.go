// Package relink rebuilds a pure-Go binary after an edit to the Go files of its own packages by
// running only what that edit needs: the compiles of the edited packages and the link, as the go
// command plans them (go build -n -a), against the packages the Go build cache already holds (go
// list -export). It is the dev loop's way past the go command's own start on every save, which
// loads and hashes every package of the program (a tenth of a second on a small service, a third
// on one of a thousand packages) before it links.
//
// It links only what go build would link: an edit qualifies when every file it touches is one the
// plan compiles, keeps its package clause, imports and build constraints, and is in a package with
// no cgo, assembly or embedded files; and when every edited package other than main keeps its
// export data byte for byte, so nothing that imports it would compile differently. Anything else
// is an error matching ErrNotApplicable: the caller runs go build, and prepares a new Plan after
// it. The binary differs from go build's only in its build IDs, which are derived from what was
// linked and are never an action ID the go command could take for its own (so its next build of
// the same output links again rather than keep this one).
package relink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// ErrNotApplicable is matched by every error that means "run go build instead".
var ErrNotApplicable = errors.New("go build must run")

type notApplicable struct{ why string }

func (n *notApplicable) Error() string        { return "go build must run: " + n.why }
func (n *notApplicable) Is(target error) bool { return target == ErrNotApplicable }

func notFor(format string, args ...any) error {
	return &notApplicable{why: fmt.Sprintf(format, args...)}
}

// Options describe the go build a Plan shortcuts.
type Options struct {
	// Go is the go command. Default "go".
	Go string
	// Dir is where go build runs.
	Dir string
	// Root is the directory whose packages may be compiled again (the watched module). Absolute.
	Root string
	// Args are go build's arguments: "build", its flags ("-o" and its value are ignored), and the
	// package last.
	Args []string
	// Env is go build's environment.
	Env []string
}

// A Plan holds what one go build compiles and links, and links again after an edit. Its methods
// may be called from several goroutines; Link calls run one at a time.
type Plan struct {
	mu      sync.Mutex
	work    string            // this plan's own directory: what $WORK stood for
	env     []string          // the tools' environment, as the go command gives it
	pkgs    map[string]*pkg   // the packages under Root, by directory
	outs    map[string]string // each linked package's compiled file, by import path
	link    command
	linkCfg []string // importcfg.link's lines that are not packagefile lines (modinfo)
	order   []string // the linked packages' import paths, in importcfg.link's order
	main    string   // the main package's import path
	gen     int
	// cleanVCS: the planned build stamped a clean checkout (vcs.modified=false), which no
	// binary of an edit may claim.
	cleanVCS bool
}

type pkg struct {
	path    string            // import path, as importcfg.link names it
	compile command           // its compile, with $WORK already this plan's directory
	deps    []string          // the import paths its importcfg maps to compiled files
	cfg     []string          // its importcfg's other lines (importmap)
	files   map[string]string // its Go files (absolute) and what each must keep (see header)
	unfit   string            // why an edit here always needs go build; empty when none
}

// Prepare asks the go command what o's build compiles and links, and where the build cache
// holds each compiled package. The build must be up to date (just built): otherwise the cache
// lacks some package and Prepare says so. Close the plan to remove its directory.
func Prepare(ctx context.Context, o Options) (*Plan, error) {
	if o.Go == "" {
		o.Go = "go"
	}
	if len(o.Args) < 2 || o.Args[0] != "build" {
		return nil, fmt.Errorf("relink: want go build's arguments, got %q", o.Args)
	}
	var flags []string
	for i := 1; i < len(o.Args)-1; i++ {
		if o.Args[i] == "-o" {
			i++
			continue
		}
		flags = append(flags, o.Args[i])
	}
	pkgArg := o.Args[len(o.Args)-1]
	work, err := os.MkdirTemp("", "scratchkit-relink-")
	if err != nil {
		return nil, fmt.Errorf("relink: %w", err)
	}
	p := &Plan{work: work, pkgs: map[string]*pkg{}, outs: map[string]string{}}
	if err := p.prepare(ctx, o, flags, pkgArg); err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	return p, nil
}

// Close removes the plan's directory.
func (p *Plan) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return os.RemoveAll(p.work)
}

func (p *Plan) prepare(ctx context.Context, o Options, flags []string, pkgArg string) error {
	var (
		wg                 sync.WaitGroup
		script, list, envs []byte
		sErr, lErr, eErr   error
	)
	// run runs the go command; out is its standard output, or, for go build -n, which prints its
	// script there, its standard error.
	run := func(out *[]byte, errp *error, args ...string) {
		defer wg.Done()
		cmd := exec.CommandContext(ctx, o.Go, args...)
		cmd.Dir, cmd.Env = o.Dir, o.Env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if *errp = cmd.Run(); *errp != nil {
			*errp = fmt.Errorf("relink: go %s: %w: %s", args[0], *errp, bytes.TrimSpace(stderr.Bytes()))
		}
		*out = stdout.Bytes()
		if args[0] == "build" {
			*out = stderr.Bytes()
		}
	}
	wg.Add(3)
	go run(&script, &sErr, append(append([]string{"build", "-n", "-a", "-o", filepath.Join(p.work, "a.out")}, flags...), pkgArg)...)
	go run(&list, &lErr, append(append([]string{"list", "-e", "-export", "-deps", "-json=ImportPath,Export,Error"}, flags...), pkgArg)...)
	go run(&envs, &eErr, "env", "-json")
	wg.Wait()
	if err := errors.Join(sErr, lErr, eErr); err != nil {
		return err
	}
	p.env, eErr = toolEnv(o.Env, envs)
	if eErr != nil {
		return eErr
	}
	exports := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(list))
	for dec.More() {
		var lp struct {
			ImportPath, Export string
			Error              *struct{ Err string }
		}
		if err := dec.Decode(&lp); err != nil {
			return fmt.Errorf("relink: go list: %w", err)
		}
		if lp.Error != nil {
			return notFor("package %s: %s", lp.ImportPath, lp.Error.Err)
		}
		exports[lp.ImportPath] = lp.Export
	}
	s, err := parseScript(string(script), o.Dir)
	if err != nil {
		return fmt.Errorf("relink: %w", err)
	}
	return p.fromScript(s, o.Root, exports)
}

// toolEnv is the environment the go command runs its tools with: its own, with every go env
// value set (cmd/go does this at its start, so that the tools agree with it).
func toolEnv(env []string, goEnv []byte) ([]string, error) {
	var vars map[string]string
	if err := json.Unmarshal(goEnv, &vars); err != nil {
		return nil, fmt.Errorf("relink: go env -json: %w", err)
	}
	out := slices.Clone(env)
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		out = setEnv(out, k, vars[k])
	}
	return out, nil
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); name == k {
			if kv[len(k)+1:] == v {
				return env
			}
			env = slices.Delete(slices.Clone(env), i, i+1)
			break
		}
	}
	return append(env, k+"="+v)
}

const workVar = "$WORK"

// actionDir is an action's directory in go build -n's script: $WORK/b001/.
var actionDir = regexp.MustCompile(`\$WORK/b[0-9]+/`)

// fromScript finds the link and the compiles of the packages under root in s.
func (p *Plan) fromScript(s *script, root string, exports map[string]string) error {
	sub := func(x string) string { return strings.ReplaceAll(x, workVar, p.work) }
	var link *command
	for i := range s.cmds {
		c := &s.cmds[i]
		if c.tool() == "link" {
			if link != nil {
				return notFor("go build links more than once")
			}
			link = c
		}
		if c.tool() == "preprofile" {
			return notFor("the build uses a PGO profile")
		}
	}
	if link == nil {
		return notFor("go build -n printed no link")
	}
	cfgPath, ok := link.flag("-importcfg")
	if !ok {
		return notFor("the link has no -importcfg")
	}
	cfg, ok := s.files[cfgPath]
	if !ok {
		return notFor("go build -n did not print %s", cfgPath)
	}
	byFile := map[string]string{} // $WORK/bNNN/_pkg_.a → import path
	for _, l := range cfg {
		if rest, ok := strings.CutPrefix(l, "packagefile "); ok {
			path, file, ok := strings.Cut(rest, "=")
			if !ok {
				return notFor("importcfg.link line %q", l)
			}
			exp := exports[path]
			if exp == "" {
				return notFor("the build cache has no compiled %s (build first)", path)
			}
			byFile[file] = path
			p.outs[path] = exp
			p.order = append(p.order, path)
			continue
		}
		p.linkCfg = append(p.linkCfg, l)
		if strings.HasPrefix(l, "modinfo ") && strings.Contains(l, `vcs.modified=false`) {
			p.cleanVCS = true
		}
	}
	mainFile := link.argv[len(link.argv)-1]
	if p.main = byFile[mainFile]; p.main == "" {
		return notFor("the link's package %s is not in its importcfg", mainFile)
	}
	p.link = command{dir: link.dir, env: link.env, argv: slices.Clone(link.argv)}
	for i := range p.link.argv {
		p.link.argv[i] = sub(p.link.argv[i])
	}

	// Which $WORK/bNNN/ directories the other tools (asm, cgo) use: a package compiled with
	// their output is not one a compile alone rebuilds.
	others := map[string]bool{}
	for _, c := range s.cmds {
		if c.tool() == "compile" || c.tool() == "link" {
			continue
		}
		for _, a := range c.argv {
			for _, d := range actionDir.FindAllString(a, -1) {
				others[d] = true
			}
		}
	}
	for _, c := range s.cmds {
		if c.tool() != "compile" {
			continue
		}
		out, _ := c.flag("-o")
		path := byFile[out]
		var goFiles []string
		for _, a := range c.argv[1:] {
			if strings.HasSuffix(a, ".go") && !strings.HasPrefix(a, "-") {
				goFiles = append(goFiles, a)
			}
		}
		if path == "" || len(goFiles) == 0 {
			continue // not linked
		}
		abs := func(f string) string {
			if !filepath.IsAbs(f) {
				f = filepath.Join(c.dir, f)
			}
			return filepath.Clean(f)
		}
		pkgDir := filepath.Dir(abs(goFiles[len(goFiles)-1]))
		rel, err := filepath.Rel(root, pkgDir)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue // not one of root's packages
		}
		k := &pkg{path: path, files: map[string]string{}}
		k.compile = command{dir: c.dir, env: c.env}
		for _, a := range c.argv {
			k.compile.argv = append(k.compile.argv, sub(a))
		}
		for _, f := range []string{"-embedcfg", "-asmhdr", "-symabis", "-pgoprofile"} {
			if _, ok := c.flag(f); ok {
				k.unfit = "it is compiled with " + f
			}
		}
		if others[filepath.Dir(out)+"/"] {
			k.unfit = "it has assembly or cgo"
		}
		pcfg, _ := c.flag("-importcfg")
		for _, l := range s.files[pcfg] {
			if rest, ok := strings.CutPrefix(l, "packagefile "); ok {
				dep, file, _ := strings.Cut(rest, "=")
				if byFile[file] != dep {
					return notFor("package %s imports %s from %s, which the link does not use", path, dep, file)
				}
				k.deps = append(k.deps, dep)
				continue
			}
			k.cfg = append(k.cfg, l)
		}
		for _, a := range goFiles {
			if strings.Contains(a, workVar) {
				k.unfit = "it compiles generated files"
				continue
			}
			f := abs(a)
			if filepath.Dir(f) != pkgDir {
				k.unfit = "its files are in more than one directory"
			}
			h, err := header(f)
			if err != nil {
				k.unfit = err.Error()
			}
			k.files[f] = h
		}
		p.pkgs[pkgDir] = k
	}
	if len(p.pkgs) == 0 {
		return notFor("no package of %s is compiled", root)
	}
	return nil
}

// header is what a Go file must keep for an edit of it to need no other package compiled: its
// package clause, imports and build constraints. A file with cgo or embedded files has none.
func header(file string) (string, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	f, err := parser.ParseFile(token.NewFileSet(), file, src, parser.ImportsOnly|parser.ParseComments)
	if err != nil {
		return "", fmt.Errorf("%s: %v", filepath.Base(file), err)
	}
	if bytes.Contains(src, []byte("//go:embed")) {
		return "", fmt.Errorf("%s embeds files", filepath.Base(file))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n", f.Name.Name)
	for _, cg := range f.Comments {
		if cg.Pos() > f.Package {
			break
		}
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, "//go:build") || strings.HasPrefix(c.Text, "// +build") {
				fmt.Fprintf(&b, "%s\n", c.Text)
			}
		}
	}
	for _, im := range f.Imports {
		if im.Path.Value == `"C"` {
			return "", fmt.Errorf("%s uses cgo", filepath.Base(file))
		}
		name := ""
		if im.Name != nil {
			name = im.Name.Name
		}
		fmt.Fprintf(&b, "import %s %s\n", name, im.Path.Value)
	}
	return b.String(), nil
}

// Link builds the binary at out again after the Go files changed (absolute paths) were edited:
// it compiles their packages and links. Its error matches ErrNotApplicable when go build must
// run instead (the edit needs more than this, or a compile failed: go build says why better).
// output is what the link printed.
func (p *Plan) Link(ctx context.Context, changed []string, out string) (output string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(changed) == 0 {
		return "", notFor("nothing changed")
	}
	if p.cleanVCS {
		return "", notFor("the planned build is of a clean checkout: go build stamps an edited one vcs.modified=true")
	}
	edited := map[string]*pkg{}
	newHeaders := map[string]string{}
	for _, f := range changed {
		f = filepath.Clean(f)
		if !strings.HasSuffix(f, ".go") {
			return "", notFor("%s is not a Go file", f)
		}
		k := p.pkgs[filepath.Dir(f)]
		if k == nil {
			return "", notFor("%s is not in a package this plan compiles", f)
		}
		want, ok := k.files[f]
		if !ok {
			return "", notFor("%s is not one of the files package %s compiled", f, k.path)
		}
		if k.unfit != "" {
			return "", notFor("package %s: %s", k.path, k.unfit)
		}
		got, err := header(f)
		if err != nil {
			return "", notFor("%v", err)
		}
		if got != want {
			return "", notFor("%s changed its package clause, imports or build constraints", f)
		}
		newHeaders[f] = got
		edited[k.path] = k
	}
	p.gen++
	dir := filepath.Join(p.work, fmt.Sprintf("g%d", p.gen))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("relink: %w", err)
	}
	newOuts := map[string]string{}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, k := range sortedPkgs(edited) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := p.compile(ctx, k, dir)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			newOuts[k.path] = o
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	output, err = p.relink(ctx, dir, newOuts, out)
	if err != nil {
		return output, err
	}
	for path, o := range newOuts {
		old := p.outs[path]
		p.outs[path] = o
		if strings.HasPrefix(old, p.work) {
			os.Remove(old) // an earlier Link's; the cache's files are the cache's
		}
	}
	for f, h := range newHeaders {
		p.pkgs[filepath.Dir(f)].files[f] = h
	}
	return output, nil
}

func sortedPkgs(m map[string]*pkg) []*pkg {
	out := make([]*pkg, 0, len(m))
	for _, k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *pkg) int { return strings.Compare(a.path, b.path) })
	return out
}

// compile compiles package k into dir against the plan's compiled packages and returns the
// file. A package other than main must keep its export data.
func (p *Plan) compile(ctx context.Context, k *pkg, dir string) (string, error) {
	name := strings.NewReplacer("/", "_", ".", "_").Replace(k.path)
	cfgFile := filepath.Join(dir, name+".importcfg")
	var cfg strings.Builder
	for _, d := range k.deps {
		fmt.Fprintf(&cfg, "packagefile %s=%s\n", d, p.outs[d])
	}
	for _, l := range k.cfg {
		cfg.WriteString(l + "\n")
	}
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o644); err != nil {
		return "", fmt.Errorf("relink: %w", err)
	}
	out := filepath.Join(dir, name+".a")
	argv := slices.Clone(k.compile.argv)
	for i := 1; i < len(argv); i++ {
		switch argv[i-1] {
		case "-o":
			argv[i] = out
		case "-importcfg":
			argv[i] = cfgFile
		}
	}
	if msg, err := p.tool(ctx, k.compile, argv); err != nil {
		return "", notFor("compile %s: %v: %s", k.path, err, firstLine(msg))
	}
	if k.path == p.main {
		return out, nil
	}
	same, err := sameExport(p.outs[k.path], out)
	if err != nil {
		return "", notFor("compare the export data of %s: %v", k.path, err)
	}
	if !same {
		return "", notFor("package %s changed its export data: what imports it compiles again", k.path)
	}
	return out, nil
}

// relink links the main package with newOuts in place of the plan's files, into out.
func (p *Plan) relink(ctx context.Context, dir string, newOuts map[string]string, out string) (string, error) {
	outOf := func(path string) string {
		if o, ok := newOuts[path]; ok {
			return o
		}
		return p.outs[path]
	}
	var cfg strings.Builder
	for _, path := range p.order {
		fmt.Fprintf(&cfg, "packagefile %s=%s\n", path, outOf(path))
	}
	for _, l := range p.linkCfg {
		cfg.WriteString(l + "\n")
	}
	cfgFile := filepath.Join(dir, "importcfg.link")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o644); err != nil {
		return "", fmt.Errorf("relink: %w", err)
	}
	argv := slices.Clone(p.link.argv)
	for i := 1; i < len(argv); i++ {
		switch {
		case argv[i-1] == "-o":
			argv[i] = out
		case argv[i-1] == "-importcfg":
			argv[i] = cfgFile
		case strings.HasPrefix(argv[i], "-buildid="):
			argv[i] = "-buildid=" + buildID(strings.TrimPrefix(argv[i], "-buildid="), cfg.String(), outOf(p.main))
		}
	}
	argv[len(argv)-1] = outOf(p.main)
	msg, err := p.tool(ctx, p.link, argv)
	if err != nil {
		os.Remove(out)
		return msg, notFor("link: %v: %s", err, firstLine(msg))
	}
	return msg, nil
}

// buildID is a build ID shaped as planned (the same parts and lengths, so the binary's layout is
// go build's) made of a hash of what is linked: the go command never computes it as an action ID.
func buildID(planned, cfg, mainFile string) string {
	h := sha256.New()
	h.Write([]byte("scratchkit relink\n" + cfg))
	if b, err := os.ReadFile(mainFile); err == nil {
		h.Write(b)
	}
	sum := h.Sum(nil)
	parts := strings.Split(planned, "/")
	for i, part := range parts {
		d := sha256.Sum256(append(sum, byte(i)))
		id := base64.RawURLEncoding.EncodeToString(d[:]) // 43 characters
		for len(id) < len(part) {
			id += id
		}
		parts[i] = id[:len(part)]
	}
	return strings.Join(parts, "/")
}

// tool runs a compile or link as the go command would: in its directory, with the tools'
// environment and the command's own.
func (p *Plan) tool(ctx context.Context, c command, argv []string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = append(slices.Clone(p.env), "PWD="+c.dir)
	for _, kv := range c.env {
		k, v, _ := strings.Cut(kv, "=")
		cmd.Env = setEnv(cmd.Env, k, v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
