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
// checkout) whose magefile imports pkg ("" for none).
type magefileModule struct {
	name, dir, bin string
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

// packages counts the packages the magefile compiles: all of them, and those outside the
// standard library. Like mage's own go build, it names the file rather than the package.
func (b *bench) packages(ctx context.Context, m *magefileModule) (all, nonStd int, err error) {
	cmd := b.command(ctx, m.dir, nil, "go", "list", "-tags", "mage", "-deps", "-f", "{{.Standard}}", "magefile.go")
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("go list -deps in %s: %w", m.dir, err)
	}
	for _, l := range strings.Fields(string(out)) {
		all++
		if l == "false" {
			nonStd++
		}
	}
	return all, nonStd, nil
}

// compareDeps measures what importing the targets costs a magefile: packages, a cold compile
// of the magefile binary, and the per-invocation overhead with a warm cache.
func compareDeps(ctx context.Context, b *bench) error {
	fmt.Printf("\n## deps: a magefile importing targets vs targets/lite\n")
	full, err := b.magefileModule("targets", "github.com/scratchkit/scratchkit/targets")
	if err != nil {
		return err
	}
	lite, err := b.magefileModule("lite", "github.com/scratchkit/scratchkit/targets/lite")
	if err != nil {
		return err
	}
	bare, err := b.magefileModule("bare", "")
	if err != nil {
		return err
	}
	pkgs := map[string][2]int{}
	for _, m := range []*magefileModule{full, lite, bare} {
		all, nonStd, err := b.packages(ctx, m)
		if err != nil {
			return err
		}
		pkgs[m.name] = [2]int{all, nonStd}
	}

	var rows []row
	rows = append(rows,
		row{name: "packages in the magefile build (`go list -deps`)", sk: []float64{float64(pkgs["targets"][0])}, other: []float64{float64(pkgs["lite"][0])}, unit: count},
		row{name: "… of which outside the standard library", sk: []float64{float64(pkgs["targets"][1])}, other: []float64{float64(pkgs["lite"][1])}, unit: count},
	)

	compile := func(m *magefileModule, cache string) func(context.Context) *exec.Cmd {
		return func(ctx context.Context) *exec.Cmd {
			var env []string
			if cache != "" {
				env = []string{"GOCACHE=" + cache}
			}
			return b.command(ctx, m.dir, env, b.mage, "-compile", m.bin)
		}
	}
	if b.opts.cold {
		// Each run gets its own cache: empty, or a copy of one holding only the standard library
		// (what a CI job that already built the service would have, less the service's own
		// packages), to separate what the import costs from compiling std.
		fmt.Fprintf(os.Stderr, "compare: deps: compiling the standard library into a seed cache\n")
		seed, err := b.freshCache("deps-std")
		if err != nil {
			return err
		}
		defer os.RemoveAll(seed)
		if _, err := run(b.command(ctx, full.dir, []string{"GOCACHE=" + seed}, "go", "build", "std")); err != nil {
			return err
		}
		coldVariant := func(m *magefileModule, withStd bool) *variant {
			return &variant{name: m.name, run: func(ctx context.Context) (sample, error) {
				cache, err := b.freshCache("deps-" + m.name)
				if err != nil {
					return sample{}, err
				}
				defer os.RemoveAll(cache)
				if withStd {
					if err := copyTree(seed, cache); err != nil {
						return sample{}, err
					}
				}
				d, err := run(compile(m, cache)(ctx))
				return sample{d: d}, err
			}}
		}
		for _, withStd := range []bool{false, true} {
			label, what := "empty GOCACHE", "deps cold"
			if withStd {
				label, what = "GOCACHE holding only std", "deps cold, std cached"
			}
			fmt.Fprintf(os.Stderr, "compare: deps: compiling each magefile %d time(s), each with its own cache (%s; minutes)\n", b.opts.coldN, label)
			res, err := b.alternate(ctx, what, b.opts.coldN, false, coldVariant(lite, withStd), coldVariant(full, withStd))
			if err != nil {
				return err
			}
			rows = append(rows, row{name: "cold compile of the magefile binary (`mage -compile`, " + label + ")", sk: durations(res[full.name]), other: durations(res[lite.name])})
		}
	}
	// Warm: compile with the normal cache, untimed, so the binaries exist.
	for _, m := range []*magefileModule{full, lite, bare} {
		if _, err := run(compile(m, "")(ctx)); err != nil {
			return err
		}
	}
	var sizes [2]float64
	for i, m := range []*magefileModule{full, lite} {
		fi, err := os.Stat(m.bin)
		if err != nil {
			return err
		}
		sizes[i] = float64(fi.Size())
	}

	type trio struct{ list, noop, direct *variant }
	mk := func(m *magefileModule) trio {
		return trio{
			list: &variant{name: m.name + ": mage -l", run: timed(func(ctx context.Context) *exec.Cmd { return b.command(ctx, m.dir, nil, b.mage, "-l") })},
			noop: &variant{name: m.name + ": mage noop", run: timed(func(ctx context.Context) *exec.Cmd { return b.command(ctx, m.dir, nil, b.mage, "noop") })},
			direct: &variant{name: m.name + ": compiled noop", run: timed(func(ctx context.Context) *exec.Cmd {
				return b.command(ctx, m.dir, nil, m.bin, "noop")
			})},
		}
	}
	f, l, n := mk(full), mk(lite), mk(bare)
	res, err := b.alternate(ctx, "deps warm", b.opts.depsN, true, f.list, l.list, n.list, f.noop, l.noop, n.noop, f.direct, l.direct, n.direct)
	if err != nil {
		return err
	}
	rows = append(rows,
		row{name: "`mage -l`, warm cache (mage parses the imports; no build)", sk: durations(res[f.list.name]), other: durations(res[l.list.name])},
		row{name: "`mage noop`, warm cache (parse + go build of the magefile + run)", sk: durations(res[f.noop.name]), other: durations(res[l.noop.name])},
		row{name: "compiled magefile binary, `noop` (process start and package init)", sk: durations(res[f.direct.name]), other: durations(res[l.direct.name])},
		row{name: "size of the compiled magefile binary", sk: []float64{sizes[0]}, other: []float64{sizes[1]}, unit: byteSize},
	)
	printTable("deps: cost of importing the targets into a magefile (ratio = targets / targets/lite)", "targets", "targets/lite", rows)
	fmt.Printf("\nFor reference, a magefile importing nothing: %d packages (%d outside the standard library); warm `mage -l` %.2f s, `mage noop` %.2f s, compiled noop %.3f s.\n",
		pkgs["bare"][0], pkgs["bare"][1], median(durations(res[n.list.name])), median(durations(res[n.noop.name])), median(durations(res[n.direct.name])))
	return nil
}
