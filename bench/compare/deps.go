package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// magefileBody is a user's magefile importing one scratchkit package, plus a target that does
// nothing, so `mage noop` times what mage and the imported packages cost on every invocation.
const magefileBody = `//go:build mage

package main

%s

// Noop does nothing: mage noop measures the cost of an invocation.
func Noop() {}
`

// magefileModule is a magefiles module (the example's go.mod and go.sum, pointing at the
// checkout) whose magefile imports pkg ("" for none), with its own mage and engine caches.
type magefileModule struct {
	name, dir, bin string
}

// env is the module's caches, then extra.
func (m *magefileModule) env(extra ...string) []string {
	return append([]string{"MAGEFILE_CACHE=" + filepath.Join(m.dir, ".magecache"), "SCRATCHKIT_CACHE=" + filepath.Join(m.dir, ".scratchkit-cache")}, extra...)
}

// copyTree copies the files of a directory tree (a Go build cache) to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, target)
	})
}

func (b *bench) magefileModule(name, pkg string) (*magefileModule, error) {
	m := &magefileModule{name: name, dir: filepath.Join(b.tmp, "deps", name), bin: filepath.Join(b.tmp, "deps", name+"-bin")}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return nil, err
	}
	src := filepath.Join(b.src, "examples", "hello", "magefiles")
	gomod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		return nil, err
	}
	gomod = []byte(strings.Replace(string(gomod), "=> ../../..", "=> "+b.src, 1))
	if err := os.WriteFile(filepath.Join(m.dir, "go.mod"), gomod, 0o644); err != nil {
		return nil, err
	}
	if err := copyFile(filepath.Join(src, "go.sum"), filepath.Join(m.dir, "go.sum")); err != nil {
		return nil, err
	}
	imports := ""
	if pkg != "" {
		imports = fmt.Sprintf("import (\n\t//mage:import\n\t_ %q\n)", pkg)
	}
	return m, os.WriteFile(filepath.Join(m.dir, "magefile.go"), []byte(fmt.Sprintf(magefileBody, imports)), 0o644)
}

// countPackages counts what `go list -deps ARGS` lists in dir: all packages, and those outside
// the standard library.
func (b *bench) countPackages(ctx context.Context, dir string, env []string, args ...string) (all, nonStd int, err error) {
	cmd := b.command(ctx, dir, env, "go", append([]string{"list", "-deps", "-f", "{{.Standard}}"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("go list -deps %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	for _, l := range strings.Fields(string(out)) {
		all++
		if l == "false" {
			nonStd++
		}
	}
	return all, nonStd, nil
}

// engineBuild is the engine's build as targets/launch runs it for a checkout (a replace
// directive's directory): go build -o OUT [-tags=scratchkit_core] ./cmd/scratchkit in the
// checkout, with GOFLAGS and GOWORK cleared.
type engineBuild struct {
	name string // core or full
	tags []string
}

func (e engineBuild) cmd(ctx context.Context, b *bench, out string, env ...string) *exec.Cmd {
	args := append([]string{"build", "-o", out}, e.tags...)
	return b.command(ctx, b.src, append([]string{"GOFLAGS=", "GOWORK=off"}, env...), "go", append(args, "./cmd/scratchkit")...)
}

// seedStd compiles the standard library into a new cache, to copy into cold runs' caches: what
// a CI job that already built something would have, less that something's own packages.
func (b *bench) seedStd(ctx context.Context) (string, error) {
	fmt.Fprintf(os.Stderr, "compare: deps: compiling the standard library into a seed cache\n")
	seed, err := b.freshCache("deps-std")
	if err != nil {
		return "", err
	}
	if _, err := run(b.command(ctx, b.src, []string{"GOCACHE=" + seed, "GOFLAGS=", "GOWORK=off"}, "go", "build", "std")); err != nil {
		return "", err
	}
	return seed, nil
}

// coldGoCache is a new cache, empty or a copy of seed.
func (b *bench) coldGoCache(name, seed string) (string, error) {
	cache, err := b.freshCache(name)
	if err != nil {
		return "", err
	}
	if seed != "" {
		if err := copyTree(seed, cache); err != nil {
			return "", err
		}
	}
	return cache, nil
}

// compareDeps measures what the targets cost a magefile (packages, a cold compile of the
// magefile binary, the per-invocation overhead with a warm cache) against a magefile importing
// nothing, then what the engine costs once: its packages, building it cold, its size.
func compareDeps(ctx context.Context, b *bench) error {
	fmt.Printf("\n## deps: a magefile importing targets vs one importing nothing; the engine, core and full\n")
	targets, err := b.magefileModule("targets", "github.com/scratchkit/scratchkit/targets")
	if err != nil {
		return err
	}
	bare, err := b.magefileModule("nothing", "")
	if err != nil {
		return err
	}
	// Like mage's own go build, go list names the file rather than the package.
	pkgs := map[string][2]int{}
	for _, m := range []*magefileModule{targets, bare} {
		all, nonStd, err := b.countPackages(ctx, m.dir, m.env(), "-tags", "mage", "magefile.go")
		if err != nil {
			return err
		}
		pkgs[m.name] = [2]int{all, nonStd}
	}
	core := engineBuild{name: "core", tags: []string{"-tags=scratchkit_core"}}
	full := engineBuild{name: "full"}
	for _, e := range []engineBuild{core, full} {
		all, nonStd, err := b.countPackages(ctx, b.src, []string{"GOFLAGS=", "GOWORK=off"}, append(e.tags, "./cmd/scratchkit")...)
		if err != nil {
			return err
		}
		pkgs["engine "+e.name] = [2]int{all, nonStd}
	}
	rows := []row{
		{name: "packages in the magefile build (`go list -deps`)", sk: []float64{float64(pkgs[targets.name][0])}, other: []float64{float64(pkgs[bare.name][0])}, unit: count},
		{name: "… of which outside the standard library", sk: []float64{float64(pkgs[targets.name][1])}, other: []float64{float64(pkgs[bare.name][1])}, unit: count},
	}
	engineRows := []row{
		{name: "packages (`go list -deps ./cmd/scratchkit`)", sk: []float64{float64(pkgs["engine core"][0])}, other: []float64{float64(pkgs["engine full"][0])}, unit: count},
		{name: "… of which outside the standard library", sk: []float64{float64(pkgs["engine core"][1])}, other: []float64{float64(pkgs["engine full"][1])}, unit: count},
	}

	// Warm, untimed: the engines and the magefile binaries exist, and the module cache holds
	// everything the cold builds need.
	engineBin := func(e engineBuild) string { return filepath.Join(b.tmp, "deps", "engine-"+e.name) }
	for _, e := range []engineBuild{core, full} {
		if _, err := run(e.cmd(ctx, b, engineBin(e))); err != nil {
			return err
		}
	}
	// A cold compile writes a new binary: go build skips the work (even with a cold cache)
	// when its output already holds the up-to-date binary, and a first mage run has none.
	compile := func(ctx context.Context, m *magefileModule, out, cache string) *exec.Cmd {
		var env []string
		if cache != "" {
			env = []string{"GOCACHE=" + cache}
		}
		return b.command(ctx, m.dir, m.env(env...), b.mage, "-compile", out)
	}
	for _, m := range []*magefileModule{targets, bare} {
		if _, err := run(compile(ctx, m, m.bin, "")); err != nil {
			return err
		}
	}

	var coldRuns []func() // printed after the tables
	if b.opts.cold {
		seed, err := b.seedStd(ctx)
		if err != nil {
			return err
		}
		defer os.RemoveAll(seed)
		for _, withStd := range []bool{false, true} {
			label, what, from := "empty GOCACHE", "deps cold", ""
			if withStd {
				label, what, from = "GOCACHE holding only std", "deps cold, std cached", seed
			}
			fmt.Fprintf(os.Stderr, "compare: deps: compiling each magefile and each engine %d time(s), each with its own cache (%s; minutes)\n", b.opts.coldN, label)
			magefileVariant := func(m *magefileModule) *variant {
				return &variant{name: m.name, run: func(ctx context.Context) (sample, error) {
					cache, err := b.coldGoCache("deps-"+m.name, from)
					if err != nil {
						return sample{}, err
					}
					defer os.RemoveAll(cache)
					out := cache + "-magefile"
					defer os.Remove(out)
					d, err := run(compile(ctx, m, out, cache))
					return sample{d: d}, err
				}}
			}
			engineVariant := func(e engineBuild) *variant {
				return &variant{name: "engine " + e.name, run: func(ctx context.Context) (sample, error) {
					cache, err := b.coldGoCache("deps-engine-"+e.name, from)
					if err != nil {
						return sample{}, err
					}
					defer os.RemoveAll(cache)
					out := cache + "-scratchkit"
					defer os.Remove(out)
					d, err := run(e.cmd(ctx, b, out, "GOCACHE="+cache))
					return sample{d: d}, err
				}}
			}
			res, err := b.alternate(ctx, what, b.opts.coldN, false, magefileVariant(bare), engineVariant(core), magefileVariant(targets), engineVariant(full))
			if err != nil {
				return err
			}
			rows = append(rows, row{name: "cold compile of the magefile binary (`mage -compile`, " + label + ")", sk: durations(res[targets.name]), other: durations(res[bare.name])})
			coldRuns = append(coldRuns, func() { printRuns(what, res, targets.name, bare.name, "engine core", "engine full") })
			engineRows = append(engineRows, row{name: "build the engine, " + label, sk: durations(res["engine core"]), other: durations(res["engine full"])})
		}
	}

	type trio struct{ list, noop, direct *variant }
	mk := func(m *magefileModule) trio {
		return trio{
			list: &variant{name: m.name + ": mage -l", run: timed(func(ctx context.Context) *exec.Cmd { return b.command(ctx, m.dir, m.env(), b.mage, "-l") })},
			noop: &variant{name: m.name + ": mage noop", run: timed(func(ctx context.Context) *exec.Cmd { return b.command(ctx, m.dir, m.env(), b.mage, "noop") })},
			direct: &variant{name: m.name + ": compiled noop", run: timed(func(ctx context.Context) *exec.Cmd {
				return b.command(ctx, m.dir, m.env(), m.bin, "noop")
			})},
		}
	}
	// An engine build with a warm Go cache links only: what a new SCRATCHKIT_CACHE (or a changed
	// checkout of scratchkit itself) costs on a machine that built it before.
	relink := func(e engineBuild) *variant {
		i := 0
		return &variant{name: "engine " + e.name + " relink", run: func(ctx context.Context) (sample, error) {
			i++
			out := fmt.Sprintf("%s-relink-%d", engineBin(e), i)
			defer os.Remove(out)
			d, err := run(e.cmd(ctx, b, out))
			return sample{d: d}, err
		}}
	}
	t, n := mk(targets), mk(bare)
	res, err := b.alternate(ctx, "deps warm", b.opts.depsN, true, t.list, n.list, t.noop, n.noop, t.direct, n.direct)
	if err != nil {
		return err
	}
	coreRelink, fullRelink := relink(core), relink(full)
	relinks, err := b.alternate(ctx, "engine relink", b.opts.n, false, coreRelink, fullRelink)
	if err != nil {
		return err
	}
	size := func(path string) (float64, error) {
		fi, err := os.Stat(path)
		if err != nil {
			return 0, err
		}
		return float64(fi.Size()), nil
	}
	var sizes [4]float64
	for i, path := range []string{targets.bin, bare.bin, engineBin(core), engineBin(full)} {
		if sizes[i], err = size(path); err != nil {
			return err
		}
	}
	rows = append(rows,
		row{name: "`mage -l`, warm cache (mage parses the imports; no build)", sk: durations(res[t.list.name]), other: durations(res[n.list.name])},
		row{name: "`mage noop`, warm cache (parse + go build of the magefile + run)", sk: durations(res[t.noop.name]), other: durations(res[n.noop.name])},
		row{name: "compiled magefile binary, `noop` (process start and package init)", sk: durations(res[t.direct.name]), other: durations(res[n.direct.name])},
		row{name: "size of the compiled magefile binary", sk: []float64{sizes[0]}, other: []float64{sizes[1]}, unit: byteSize},
	)
	engineRows = append(engineRows,
		row{name: "build the engine, warm GOCACHE (link only)", sk: durations(relinks[coreRelink.name]), other: durations(relinks[fullRelink.name])},
		row{name: "size of the engine binary", sk: []float64{sizes[2]}, other: []float64{sizes[3]}, unit: byteSize},
	)
	printTable("deps: cost of importing the targets into a magefile (ratio = targets / nothing)", "imports targets", "imports nothing", rows)
	printTable("deps: the engine, built once per version, Go and host (ratio = core / full)", "core", "full", engineRows)
	if len(coldRuns) > 0 {
		fmt.Println()
		for _, r := range coldRuns {
			r()
		}
	}
	fmt.Printf("\nThe engine builds as targets/launch builds it for a replaced checkout: go build -o OUT [-tags=scratchkit_core] ./cmd/scratchkit, GOFLAGS and GOWORK cleared. A magefile requiring a scratchkit version runs go install …/cmd/scratchkit@version instead: the same packages.\n")
	return nil
}
