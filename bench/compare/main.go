// Command compare measures scratchkit against the tools it replaces, both side by side in one
// run, and prints markdown tables of medians and the ratio scratchkit/other.
//
// Run it from the repository root:
//
//	go run ./bench/compare all       # build, image and deps
//	go run ./bench/compare build     # mage build vs the bare go build it wraps
//	go run ./bench/compare image     # mage image vs ko build (pinned, koVersion) to the same registry
//	go run ./bench/compare deps      # a magefile importing targets vs nothing; the engine, core and full
//	go run ./bench/compare large     # scratchkit image vs ko build on a large service (Caddy), no-op and one-file change
//	go run ./bench/compare dev       # scratchkit dev's save-to-pushed-digest vs ko build after the same change
//	go run ./bench/compare -n 7 -cold=false image
//
// Method: every comparison works on a fresh copy of examples/hello in a temporary directory, its
// magefiles module pointing at a snapshot of the checkout's HEAD (git archive; -src worktree
// measures the checkout as it is instead), so edits during a long run change nothing measured.
// The example itself is never written. Each row
// warms up both tools once, untimed, then runs N iterations; each iteration runs every variant
// once, in an order rotated by the iteration, so whatever else the machine does hits all of them
// alike. Times are wall-clock times of the whole command as a user types it; the tables give the
// medians. Rows marked cold run -cold-n times per tool, each run with its own empty GOCACHE
// (and, for mage, empty engine and magefile caches); the module cache stays warm.
//
// The mage targets run the scratchkit engine, built once into SCRATCHKIT_CACHE: every project
// here has its own (and its own MAGEFILE_CACHE), empty at first, so a warm row's untimed warm-up
// builds the engine and a cold row starts without one.
//
// Everything lives under one temporary directory (mage's and scratchkit's caches included),
// which is removed on exit, as are the registries and proxies it starts, also on error or
// interrupt; the user's own caches are never read or written. Nothing here runs under go test.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// options are the command-line flags.
type options struct {
	n       int    // iterations per warm row
	depsN   int    // iterations of the warm deps rows
	cold    bool   // run the cold rows
	coldN   int    // iterations of the cold rows
	keep    bool   // keep the temporary directory
	src     string // head or worktree
	tools   string // where ko is installed
	koSBOM  string // ko's --sbom
	verbose bool   // print every iteration
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 5, "iterations per warm row (each runs every variant once)")
	flag.IntVar(&o.depsN, "deps-n", 10, "iterations of the warm rows of deps")
	flag.BoolVar(&o.cold, "cold", true, "run the cold-cache rows (empty caches per run: minutes each)")
	flag.IntVar(&o.coldN, "cold-n", 1, "iterations of the cold rows (each run with empty caches)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory")
	flag.StringVar(&o.src, "src", "head", "scratchkit source to measure: head (a snapshot of the commit, immune to edits during the run) or worktree (the checkout as it is)")
	flag.StringVar(&o.tools, "tools", "", "directory holding ko (installed there at koVersion if absent); default $SCRATCHKIT_TOOLS, else .ci/bin")
	flag.StringVar(&o.koSBOM, "ko-sbom", "none", "ko's --sbom: none, or spdx (ko's default, which also pushes the SBOM)")
	flag.BoolVar(&o.verbose, "v", false, "print every iteration")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./bench/compare [flags] build|image|deps|large|dev|all\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	what := "all"
	if flag.NArg() > 1 {
		flag.Usage()
		os.Exit(2)
	}
	if flag.NArg() == 1 {
		what = flag.Arg(0)
	}
	comparisons := map[string]func(context.Context, *bench) error{
		"build": compareBuild,
		"image": compareImage,
		"deps":  compareDeps,
		"large": compareLarge,
		"dev":   compareDev,
	}
	var run []string
	switch what {
	case "all":
		run = []string{"build", "image", "deps"}
	case "build", "image", "deps", "large", "dev":
		run = []string{what}
	default:
		fmt.Fprintf(os.Stderr, "compare: unknown comparison %q: want build, image, deps, large, dev or all\n", what)
		os.Exit(2)
	}
	if o.src != "head" && o.src != "worktree" {
		fmt.Fprintln(os.Stderr, "compare: -src must be head or worktree")
		os.Exit(2)
	}
	if o.n < 1 || o.depsN < 1 || o.coldN < 1 {
		fmt.Fprintln(os.Stderr, "compare: -n, -deps-n and -cold-n must be at least 1")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := func() (err error) {
		b, err := newBench(ctx, o)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, b.Close()) }()
		b.header()
		for _, name := range run {
			start := loadAvg()
			if err := comparisons[name](ctx, b); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			fmt.Printf("\nload average (1, 5, 15 min) when %s started: %s; when it ended: %s\n", name, start, loadAvg())
		}
		return nil
	}()
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare: %s\n", strings.TrimSpace(err.Error()))
		os.Exit(1)
	}
}
