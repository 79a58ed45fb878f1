package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// goBuild is the go build command line scratchkit printed under mage -v.
type goBuild struct {
	dir  string
	env  []string // the variables gobuild sets (CGO_ENABLED, GOOS, GOARCH, ...)
	args []string // after "go", with -o replaced by the caller
}

// firstBuild is the project's first, untimed `mage -v build`: it builds the engine into the
// project's empty SCRATCHKIT_CACHE, warms the Go cache, and prints the go build line it returns.
func (p *project) firstBuild(ctx context.Context, env []string) (*goBuild, error) {
	out, err := output(p.mage(ctx, env, "-v", "build"))
	if err != nil {
		return nil, err
	}
	if err := p.findEngine(); err != nil {
		return nil, err
	}
	return parseGoBuild(out)
}

// parseGoBuild finds `(cd DIR && ENV... go build ...)` in mage -v output.
func parseGoBuild(out string) (*goBuild, error) {
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "(cd ") || !strings.HasSuffix(line, ")") || !strings.Contains(line, " go build ") {
			continue
		}
		words, err := splitWords(strings.TrimSuffix(strings.TrimPrefix(line, "("), ")"))
		if err != nil {
			return nil, err
		}
		if len(words) < 5 || words[0] != "cd" || words[2] != "&&" {
			return nil, fmt.Errorf("unexpected go build line %q", line)
		}
		g := &goBuild{dir: words[1]}
		rest := words[3:]
		for len(rest) > 0 && strings.Contains(rest[0], "=") {
			g.env = append(g.env, rest[0])
			rest = rest[1:]
		}
		if len(rest) < 2 || rest[1] != "build" {
			return nil, fmt.Errorf("unexpected go build line %q", line)
		}
		g.args = rest[1:]
		return g, nil
	}
	return nil, fmt.Errorf("mage -v build printed no go build command line:\n%s", tail(out, 20))
}

// withOutput returns the arguments with -o set to out.
func (g *goBuild) withOutput(out string) ([]string, error) {
	args := append([]string(nil), g.args...)
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			args[i+1] = out
			return args, nil
		}
		if strings.HasPrefix(a, "-o=") {
			args[i] = "-o=" + out
			return args, nil
		}
	}
	return nil, fmt.Errorf("no -o in go %s", strings.Join(g.args, " "))
}

// ldflags returns the -ldflags value of the command line.
func (g *goBuild) ldflags() string {
	for i, a := range g.args {
		if v, ok := strings.CutPrefix(a, "-ldflags="); ok {
			return v
		}
		if a == "-ldflags" && i+1 < len(g.args) {
			return g.args[i+1]
		}
	}
	return ""
}

// timed is a variant body that runs and times the command mk makes.
func timed(mk func(ctx context.Context) *exec.Cmd) func(context.Context) (sample, error) {
	return func(ctx context.Context) (sample, error) {
		d, err := run(mk(ctx))
		return sample{d: d}, err
	}
}

// compareBuild times `mage build` against the bare go build it wraps, on a no-op and on a
// one-file change, with mage's own startup and the engine alone split out.
func compareBuild(ctx context.Context, b *bench) error {
	fmt.Printf("\n## build: mage build vs the bare go build it wraps\n")
	p, err := b.newProject("build")
	if err != nil {
		return err
	}
	// The first run builds the engine into the project's empty SCRATCHKIT_CACHE, warms the Go
	// cache and prints the exact go build command line.
	g, err := p.firstBuild(ctx, nil)
	if err != nil {
		return err
	}
	bareOut := filepath.Join(b.tmp, "build", "bare", "hello")
	bareArgs, err := g.withOutput(bareOut)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(bareOut), 0o755); err != nil {
		return err
	}
	if err := p.compile(ctx); err != nil {
		return err
	}
	fmt.Printf("\nscratchkit runs: (cd %s && %s go %s)\nthe bare build: (cd %s && %s go %s)\n",
		g.dir, strings.Join(g.env, " "), strings.Join(g.args, " "), g.dir, strings.Join(g.env, " "), strings.Join(bareArgs, " "))

	mageBuild := &variant{name: "mage build", run: timed(func(ctx context.Context) *exec.Cmd { return p.mage(ctx, nil, "build") })}
	goTool := &variant{name: "go tool mage build", run: timed(func(ctx context.Context) *exec.Cmd { return p.goToolMage(ctx, nil, "build") })}
	hashFast := &variant{name: "MAGEFILE_HASHFAST=1 mage build", run: timed(func(ctx context.Context) *exec.Cmd {
		return p.mage(ctx, []string{"MAGEFILE_HASHFAST=1"}, "build")
	})}
	direct := &variant{name: "compiled magefile build", run: timed(func(ctx context.Context) *exec.Cmd { return p.direct(ctx, nil, "build") })}
	engine := &variant{name: "scratchkit build", run: timed(func(ctx context.Context) *exec.Cmd { return p.engineCmd(ctx, nil, "build") })}
	bare := &variant{name: "go build", run: timed(func(ctx context.Context) *exec.Cmd {
		return b.command(ctx, g.dir, g.env, "go", bareArgs...)
	})}
	list := &variant{name: "mage -l", run: timed(func(ctx context.Context) *exec.Cmd { return p.mage(ctx, nil, "-l") })}

	n := b.opts.n
	noop, err := b.alternate(ctx, "build no-op", n, true, mageBuild, goTool, hashFast, direct, engine, bare, list)
	if err != nil {
		return err
	}
	for _, v := range []*variant{mageBuild, goTool, hashFast, direct, engine, bare} {
		v.prep = p.stamp
	}
	change, err := b.alternate(ctx, "build one-file change", n, false, mageBuild, goTool, hashFast, direct, engine, bare)
	if err != nil {
		return err
	}

	goTimes := func(m map[string][]sample) []float64 { return durations(m[bare.name]) }
	printTable("build: wall time, medians (ratio = scratchkit / go build)", "scratchkit", "go build", []row{
		{name: "no-op: `mage build`", sk: durations(noop[mageBuild.name]), other: goTimes(noop)},
		{name: "no-op: `go tool mage build`", sk: durations(noop[goTool.name]), other: goTimes(noop)},
		{name: "no-op: `MAGEFILE_HASHFAST=1 mage build`", sk: durations(noop[hashFast.name]), other: goTimes(noop)},
		{name: "no-op: compiled magefile `build` (launch + engine)", sk: durations(noop[direct.name]), other: goTimes(noop)},
		{name: "no-op: engine alone, `scratchkit build`", sk: durations(noop[engine.name]), other: goTimes(noop)},
		{name: "mage startup only: `mage -l` (parse, no magefile build)", sk: durations(noop[list.name])},
		{name: "one-file change: `mage build`", sk: durations(change[mageBuild.name]), other: goTimes(change)},
		{name: "one-file change: `go tool mage build`", sk: durations(change[goTool.name]), other: goTimes(change)},
		{name: "one-file change: `MAGEFILE_HASHFAST=1 mage build`", sk: durations(change[hashFast.name]), other: goTimes(change)},
		{name: "one-file change: compiled magefile `build` (launch + engine)", sk: durations(change[direct.name]), other: goTimes(change)},
		{name: "one-file change: engine alone, `scratchkit build`", sk: durations(change[engine.name]), other: goTimes(change)},
	})
	fmt.Println()
	goal("`mage build` no-op / `go build`", durations(noop[mageBuild.name]), goTimes(noop), 3)
	return nil
}

// goal prints whether a measured ratio (medians) meets its goal: at most max.
func goal(what string, sk, other []float64, max float64) {
	r := median(sk) / median(other)
	verdict := "met"
	if r > max {
		verdict = "**not met**"
	}
	fmt.Printf("- goal: %s ≤ %.2f×: measured %.2f×, %s\n", what, max, r, verdict)
}
