package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// project is a copy of examples/hello with its own magefiles module pointing at the checkout,
// as a user's service would have it, and its own caches: mage's compiled magefiles
// (MAGEFILE_CACHE) and scratchkit's engines (SCRATCHKIT_CACHE), both empty at first.
type project struct {
	b         *bench
	dir       string // the service: go.mod, main.go, scratchkit.yaml, default.pgo
	magefiles string // the magefiles module
	magecache string // MAGEFILE_CACHE
	skcache   string // SCRATCHKIT_CACHE
	compiled  string // the magefile compiled by mage -compile, once compile ran
	engine    string // the core engine the targets built into skcache, once findEngine ran
	stamps    int
}

// versionLine is the line of main.go a one-file change rewrites. With -X main.version the
// binary still reports the ldflags value, but the package recompiles, the link runs and the
// binary changes (the old default string stays in it), so the image gets a new layer.
var versionLine = regexp.MustCompile(`(?m)^var version = "[^"]*"`)

// newProject copies the example (never writing into it) to <tmp>/<name>/hello.
func (b *bench) newProject(name string) (*project, error) {
	src := filepath.Join(b.src, "examples", "hello")
	p := &project{b: b, dir: filepath.Join(b.tmp, name, "hello")}
	p.magefiles = filepath.Join(p.dir, "magefiles")
	p.magecache = filepath.Join(b.tmp, name, "magecache")
	p.skcache = filepath.Join(b.tmp, name, "scratchkit-cache")
	for _, d := range []string{p.magefiles, p.magecache, p.skcache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, fmt.Errorf("read the example: %w", err)
	}
	for _, e := range entries {
		// dist/ and keys are what earlier runs left in the example, not part of it.
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), "cosign.") {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(p.dir, e.Name())); err != nil {
			return nil, err
		}
	}
	mf := filepath.Join(src, "magefiles")
	if err := copyFile(filepath.Join(mf, "go.sum"), filepath.Join(p.magefiles, "go.sum")); err != nil {
		return nil, err
	}
	if err := copyFile(filepath.Join(mf, "magefile.go"), filepath.Join(p.magefiles, "magefile.go")); err != nil {
		return nil, err
	}
	gomod, err := os.ReadFile(filepath.Join(mf, "go.mod"))
	if err != nil {
		return nil, err
	}
	const rel = "=> ../../.."
	if !strings.Contains(string(gomod), rel) {
		return nil, fmt.Errorf("%s: no %q replace to point at the checkout", filepath.Join(mf, "go.mod"), rel)
	}
	gomod = []byte(strings.Replace(string(gomod), rel, "=> "+b.src, 1))
	if err := os.WriteFile(filepath.Join(p.magefiles, "go.mod"), gomod, 0o644); err != nil {
		return nil, err
	}
	main, err := os.ReadFile(filepath.Join(p.dir, "main.go"))
	if err != nil {
		return nil, err
	}
	if !versionLine.Match(main) {
		return nil, fmt.Errorf("%s: no line matching %s to change between iterations", filepath.Join(src, "main.go"), versionLine)
	}
	return p, nil
}

// stamp makes the one-file change: a new default version string in main.go.
func (p *project) stamp() error {
	path := filepath.Join(p.dir, "main.go")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	p.stamps++
	data = versionLine.ReplaceAll(data, []byte(fmt.Sprintf(`var version = "devel-bench-%d"`, p.stamps)))
	return os.WriteFile(path, data, 0o644)
}

// env is the project's caches, then extra (which may override them, e.g. for a cold run).
func (p *project) env(extra ...string) []string {
	return append([]string{"MAGEFILE_CACHE=" + p.magecache, "SCRATCHKIT_CACHE=" + p.skcache}, extra...)
}

// mage is `mage -w .. ARGS` run from the magefiles module with the mage CLI built once.
func (p *project) mage(ctx context.Context, env []string, args ...string) *exec.Cmd {
	return p.b.command(ctx, p.magefiles, p.env(env...), p.b.mage, append([]string{"-w", ".."}, args...)...)
}

// goToolMage is `go tool mage -w .. ARGS`, as the README says to run it: the go command builds
// mage from the module's tool directive (cached in GOCACHE) before mage starts.
func (p *project) goToolMage(ctx context.Context, env []string, args ...string) *exec.Cmd {
	return p.b.command(ctx, p.magefiles, p.env(env...), "go", append([]string{"tool", "mage", "-w", ".."}, args...)...)
}

// compile builds the magefile binary once (mage -compile), so a row can time the targets
// without mage's per-invocation parse and go build of the magefile.
func (p *project) compile(ctx context.Context) error {
	p.compiled = filepath.Join(filepath.Dir(p.dir), "magefile-bin")
	_, err := output(p.b.command(ctx, p.magefiles, p.env(), p.b.mage, "-compile", p.compiled))
	return err
}

// direct runs the compiled magefile binary in the service directory; it execs the engine.
func (p *project) direct(ctx context.Context, env []string, args ...string) *exec.Cmd {
	return p.b.command(ctx, p.dir, p.env(env...), p.compiled, args...)
}

// findEngine finds the core engine a first mage run built into the project's SCRATCHKIT_CACHE.
func (p *project) findEngine() error {
	found, err := filepath.Glob(filepath.Join(p.skcache, "engine", "*", "scratchkit-core"))
	if err != nil {
		return err
	}
	if len(found) != 1 {
		return fmt.Errorf("want one core engine in %s after a mage run, found %d: %v", p.skcache, len(found), found)
	}
	p.engine = found[0]
	return nil
}

// engineCmd runs the cached engine directly in the service directory, as a team without mage
// would run `scratchkit ARGS`: no mage, no magefile, no launch.
func (p *project) engineCmd(ctx context.Context, env []string, args ...string) *exec.Cmd {
	return p.b.command(ctx, p.dir, p.env(env...), p.engine, args...)
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}
