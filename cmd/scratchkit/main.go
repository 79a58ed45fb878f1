// Command scratchkit takes a Go service from source to a signed, minimal container image. Its
// subcommands are the mage targets of github.com/scratchkit/scratchkit/targets, with the same
// configuration (scratchkit.yaml, .ko.yaml, the environment) and the same output:
//
//	scratchkit [-v] [-C dir] <command> [argument]
//
// Teams without mage install it with
//
//	go install github.com/scratchkit/scratchkit/cmd/scratchkit@<version>
//
// and call it from a Makefile or a CI script. The mage targets run this same command, built once
// and cached; built with the scratchkit_core tag it leaves out signing and ko's daemon and kind
// publishers, and says so when a command needs them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/scratchkit/scratchkit/internal/redact"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/engine"
	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/launch"
)

// A command is a subcommand, as mage's target of the same name.
type command struct {
	name string
	arg  string // the argument's name; "" for none
	doc  string // the target's one-line doc (mage -l)
	full bool   // needs the full engine (signing)
	// noDist: the command reads and writes nothing in dist/, so it runs without dist/'s lock
	// (and creates no dist/).
	noDist bool
	run    func(ctx context.Context, e *engine.Run, arg string) error
}

// signing holds the stages of the full engine (full.go); nil in a core build.
var signing *signingStages

type signingStages struct {
	sign, signRecorded, verifySignatures, release func(context.Context, *engine.Run) error
}

// extra gives the Image stage ko's daemon and kind publishers in a full build (full.go).
var extra engine.Extra

func commands() []command {
	signed := func(f func(*signingStages) func(context.Context, *engine.Run) error) func(context.Context, *engine.Run, string) error {
		return func(ctx context.Context, e *engine.Run, _ string) error {
			if signing == nil {
				return errNeedsFull
			}
			return f(signing)(ctx, e)
		}
	}
	return []command{
		{name: "build", doc: "Build cross-compiles every main package into static binaries under dist/.",
			run: func(ctx context.Context, e *engine.Run, _ string) error { return e.Build(ctx) }},
		{name: "verify", doc: "Verify proves every built binary static, stripped and clean, and says why when it is not.",
			run: func(ctx context.Context, e *engine.Run, _ string) error { return e.Verify(ctx) }},
		{name: "verifyFiles", arg: "paths", noDist: true, doc: `VerifyFiles checks binaries from elsewhere: mage verifyFiles "bin/app bin/worker".`,
			run: func(ctx context.Context, e *engine.Run, paths string) error { return e.VerifyFiles(ctx, paths) }},
		{name: "image", doc: "Image builds, verifies and assembles an image per build, then publishes it (default: dist/).",
			run: func(ctx context.Context, e *engine.Run, _ string) error { return e.Image(ctx) }},
		{name: "imageTo", arg: "repo", doc: "ImageTo publishes the images to one more registry repository: mage imageTo ghcr.io/acme.",
			run: func(ctx context.Context, e *engine.Run, repo string) error { return e.ImageTo(ctx, repo) }},
		{name: "index", arg: "sources", doc: `Index joins per-platform images into one index: mage index "amd64/artifacts.json arm64/artifacts.json".`,
			run: func(ctx context.Context, e *engine.Run, sources string) error { return e.Index(ctx, sources) }},
		{name: "smoke", doc: "Smoke checks each image's filesystem and runs it in a real container with its probes.",
			run: func(ctx context.Context, e *engine.Run, _ string) error { return e.Smoke(ctx) }},
		{name: "pgo", doc: "PGO collects CPU profiles, validates and merges them, and places default.pgo for each build.",
			run: func(ctx context.Context, e *engine.Run, _ string) error { return e.PGO(ctx) }},
		{name: "pgoCheck", doc: "PGOCheck measures what a new profile buys on pgo.workload, built with and without it side by side, and places nothing.",
			run: func(ctx context.Context, e *engine.Run, _ string) error { return e.PGOCheck(ctx) }},
		{name: "resolve", doc: "Resolve runs Image, then writes resolve.files with each ko://<import path> replaced by that image's reference by digest.",
			run: func(ctx context.Context, e *engine.Run, _ string) error { return e.Resolve(ctx) }},
		{name: "dev", doc: "Dev rebuilds, verifies and reruns (or pushes) the host platform's image on every saved change, until Ctrl-C.",
			run: func(ctx context.Context, e *engine.Run, _ string) error { return e.Dev(ctx) }},
		{name: "dockerfile", noDist: true, doc: "Dockerfile writes the equivalent multi-stage Dockerfile, for teams that must keep one.",
			run: func(ctx context.Context, e *engine.Run, _ string) error { return e.Dockerfile(ctx) }},
		{name: "sign", full: true, doc: "Sign signs every pushed image digest with cosign, attests SBOM and provenance, signs SHA256SUMS.",
			run: signed(func(s *signingStages) func(context.Context, *engine.Run) error { return s.sign })},
		{name: "signRecorded", full: true, doc: "SignRecorded signs the image digests artifacts.json records, without running Image first.",
			run: signed(func(s *signingStages) func(context.Context, *engine.Run) error { return s.signRecorded })},
		{name: "verifySignatures", full: true, doc: "VerifySignatures checks the signatures and attestations of artifacts.json with the public key.",
			run: signed(func(s *signingStages) func(context.Context, *engine.Run) error { return s.verifySignatures })},
		{name: "keygen", noDist: true, doc: "Keygen writes a cosign key pair (cosign.key, cosign.pub), encrypted with COSIGN_PASSWORD.",
			run: func(ctx context.Context, e *engine.Run, _ string) error { return e.Keygen(ctx) }},
		{name: "release", full: true, doc: "Release runs Build, Verify, Image, Smoke and Sign, each once, and prints what went where.",
			run: signed(func(s *signingStages) func(context.Context, *engine.Run) error { return s.release })},
	}
}

var errNeedsFull = engine.ErrNeedsFull

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the whole command; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	inv, code, ok := parse(args, stderr)
	if !ok {
		return code
	}
	status := launch.Status{}
	statusFile := os.Getenv(launch.EnvStatus)
	os.Unsetenv(launch.EnvStatus)
	code = execute(inv, &status, stdout, stderr)
	status.Code = code
	status.Error = redact.Text(status.Error) // what mage prints, as everything else printed
	if statusFile != "" {
		// The mage targets report the error themselves, once, as mage reports any target's.
		if err := status.Write(statusFile); err != nil {
			fmt.Fprintf(stderr, "scratchkit: %s\nscratchkit: write the status for mage: %v\n", status.Error, err)
		}
		return code
	}
	if status.Error != "" {
		fmt.Fprintf(stderr, "scratchkit: %s\n", status.Error)
		if status.NeedsFull {
			fmt.Fprintln(stderr, "scratchkit: this binary was built with -tags scratchkit_core; build github.com/scratchkit/scratchkit/cmd/scratchkit without it")
		}
	}
	return code
}

// invocation is a command line, parsed.
type invocation struct {
	cmd     command
	arg     string // the command's argument, if it takes one
	dir     string
	verbose bool
	skip    []string
}

// parse parses the command line; when it is not a command to run (-h, a usage error), it says
// so on stderr and returns ok false with the exit status.
func parse(args []string, stderr io.Writer) (inv invocation, code int, ok bool) {
	fs := flag.NewFlagSet("scratchkit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", os.Getenv("MAGEFILE_VERBOSE") == "1", "print each command line and every registry request")
	dir := fs.String("C", ".", "the project `directory` (where go.mod and scratchkit.yaml are)")
	var skip []string
	fs.Func("skip", "a `stage` that already ran in this mage invocation (set by the mage targets; repeatable)", func(s string) error {
		skip = append(skip, s)
		return nil
	})
	fs.Usage = func() { usage(fs, stderr) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return invocation{}, 0, false
		}
		return invocation{}, launch.ExitUsage, false
	}
	if fs.NArg() == 0 {
		usage(fs, stderr)
		return invocation{}, launch.ExitUsage, false
	}
	cmd, ok := find(fs.Arg(0))
	if !ok {
		fmt.Fprintf(stderr, "scratchkit: unknown command %q\n", fs.Arg(0))
		usage(fs, stderr)
		return invocation{}, launch.ExitUsage, false
	}
	var arg string
	switch {
	case cmd.arg == "" && fs.NArg() > 1:
		fmt.Fprintf(stderr, "scratchkit: %s takes no argument (got %q)\n", cmd.name, fs.Arg(1))
		return invocation{}, launch.ExitUsage, false
	case cmd.arg != "" && fs.NArg() != 2:
		fmt.Fprintf(stderr, "scratchkit: %s takes one argument, the %s: scratchkit %s <%s>\n", cmd.name, cmd.arg, cmd.name, cmd.arg)
		return invocation{}, launch.ExitUsage, false
	case cmd.arg != "":
		arg = fs.Arg(1)
	}
	return invocation{cmd: cmd, arg: arg, dir: *dir, verbose: *verbose, skip: skip}, 0, true
}

// execute runs the command of inv on one engine Run, filling in status (all but its code), and
// returns the exit status.
func execute(inv invocation, status *launch.Status, stdout, stderr io.Writer) int {
	cmd := inv.cmd
	if cmd.full && signing == nil {
		status.NeedsFull = true
		status.Error = fmt.Sprintf("%s: %v", cmd.name, errNeedsFull)
		return launch.ExitNeedsFull
	}
	configured, err := configure()
	if err != nil {
		status.Error = err.Error()
		return launch.ExitFailure
	}
	ctx, stop := interrupts(stderr)
	defer stop()
	_, warned := os.LookupEnv(launch.EnvWarned)
	os.Unsetenv(launch.EnvWarned)
	e, err := engine.New(engine.Options{Dir: inv.dir, Configure: configured, Verbose: inv.verbose, Out: stdout, Extra: extra, Skip: inv.skip, Command: cmd.name, WarningsSaid: warned})
	if err != nil {
		status.Error = err.Error()
		return launch.ExitFailure
	}
	if e.NeedsFull() {
		status.NeedsFull = true
		status.Error = fmt.Sprintf("%s: %v", cmd.name, errNeedsFull)
		return launch.ExitNeedsFull
	}
	if !cmd.noDist {
		unlock, err := e.LockDist(ctx)
		if err != nil {
			status.Error = fmt.Sprintf("%s: %v", cmd.name, err)
			if ctx.Err() != nil {
				return launch.ExitInterrupted
			}
			return launch.ExitFailure
		}
		defer unlock()
	}
	err = cmd.run(ctx, e, inv.arg)
	status.Ran = e.Ran()
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		status.Error = fmt.Sprintf("%s: interrupted: %v", cmd.name, err)
		return launch.ExitInterrupted
	case errors.Is(err, engine.ErrNeedsFull):
		status.NeedsFull = true
	}
	status.Error = err.Error()
	if status.NeedsFull {
		return launch.ExitNeedsFull
	}
	return launch.ExitFailure
}

// configure reads what a magefile passed to targets.Configure, handed over by the mage targets
// in the environment, and removes it so no child process sees it.
func configure() (*config.Config, error) {
	data, ok := os.LookupEnv(launch.EnvConfigure)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(launch.EnvConfigure)
	var c config.Config
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return nil, fmt.Errorf("read targets.Configure's configuration from %s: %w", launch.EnvConfigure, err)
	}
	return &c, nil
}

// interrupts cancels the returned context on the first SIGINT or SIGTERM, so the stages clean up
// (smoke containers, temporary files) before the command exits. The terminal sends Ctrl-C to
// mage and to this process alike, and mage's targets forward it too: signals within a moment
// of the first are the same interrupt; a later one exits at once.
func interrupts(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		first := time.Now()
		fmt.Fprintln(stderr, "scratchkit: interrupted: cleaning up (interrupt again to exit at once)")
		cancel()
		for range sigs {
			if time.Since(first) > 2*time.Second {
				fmt.Fprintln(stderr, "scratchkit: interrupted twice: exiting without cleaning up")
				os.Exit(launch.ExitInterrupted)
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(sigs)
		cancel()
	}
}

func find(name string) (command, bool) {
	for _, c := range commands() {
		if strings.EqualFold(c.name, name) {
			return c, true
		}
	}
	return command{}, false
}

func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintln(w, "usage: scratchkit [-v] [-C dir] <command> [argument]")
	fmt.Fprintln(w, "\ncommands (the mage targets of the same names):")
	for _, c := range commands() {
		name := c.name
		if c.arg != "" {
			name += " <" + c.arg + ">"
		}
		note := ""
		if c.full && signing == nil {
			note = " (not in this core build)"
		}
		fmt.Fprintf(w, "  %-22s %s%s\n", name, c.doc, note)
	}
	fmt.Fprintln(w, "\nflags:")
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "skip" {
			return
		}
		arg, text := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  -%-21s %s\n", strings.TrimSpace(f.Name+" "+arg), text)
	})
}
