// Package engine runs scratchkit's stages: Build, Verify, Image, Smoke, PGO and the rest. One
// Run is one invocation: the configuration loaded and validated once, one printer, the
// artifacts record held in memory and saved after each stage, facts learned once. Each stage
// runs at most once per Run, however many others depend on it.
//
// The engine is what cmd/scratchkit runs; the mage targets (package targets) exec that command.
// Its stages render for a person; the packages under targets/ are the plain Go APIs they use.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/scratchkit/scratchkit/internal/cachedir"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/ui"
	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/internal/filelock"
	"github.com/scratchkit/scratchkit/internal/redact"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/config/load"
	"github.com/scratchkit/scratchkit/targets/gobuild"
	"github.com/scratchkit/scratchkit/targets/goenv"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/relink"
	"github.com/scratchkit/scratchkit/targets/vuln"
)

// Stage names, as cmd/scratchkit and the status it reports name them. A stage that takes an
// argument (imageTo, index, verifyFiles) is named "<stage> <argument>".
const (
	StageBuild      = "build"
	StageVerify     = "verify"
	StageImage      = "image"
	StageSmoke      = "smoke"
	StagePGO        = "pgo"
	StagePGOCheck   = "pgoCheck"
	StageDockerfile = "dockerfile"
	StageResolve    = "resolve"
	StageSummary    = "summary"
)

// Options configures New.
type Options struct {
	// Dir is the project directory (scratchkit.yaml, .ko.yaml, go.mod). Default: ".".
	Dir string
	// Configure is what a magefile passed to targets.Configure.
	Configure *config.Config
	// Verbose prints each command line and every registry request's progress.
	Verbose bool
	// Out is where the run prints. Default: os.Stdout.
	Out io.Writer
	// Extra makes the publishers of destinations the core engine leaves out (daemon, kind);
	// nil refuses them with ErrNeedsFull.
	Extra Extra
	// Skip names stages that already ran in this invocation (another process of the same mage
	// run): they count as done.
	Skip []string
	// WarningsSaid: an earlier process of the same invocation printed the configuration's
	// warnings, so New does not print them again.
	WarningsSaid bool
	// Command is the command the run serves (cmd/scratchkit's). For resolve writing its stream
	// to standard output (resolve.output: -), Out carries the stream alone and the run prints
	// to standard error.
	Command string
}

// Extra makes a publisher for a destination the core set leaves out (daemon, kind).
type Extra func(e *Run, destination string) (publish.Publisher, error)

// ErrNeedsFull is returned before any stage runs when the run needs a part the running engine
// was built without (signing, or ko's daemon and kind publishers).
var ErrNeedsFull = errors.New("this run needs the full scratchkit engine (signing, and ko's daemon and kind publishers)")

// Run is one invocation's state.
type Run struct {
	// Config is the configuration, loaded and validated once.
	Config *load.Resolved
	// Dir is the absolute project directory.
	Dir     string
	UI      *ui.Printer
	Verbose bool
	extra   Extra
	stdout  io.Writer // Options.Out, for data written to standard output

	mu   sync.Mutex
	done map[string]error         // stages finished in this Run (nil error: passed) or skipped
	ran  []string                 // stages this process ran and passed, in order
	took map[string]time.Duration // how long each stage this process ran took

	rec    *artifacts.Artifacts // the record in memory; nil until first read
	warmed *image.Warmed        // binaries read and layers made while Verify ran
	builds *resolvedBuilds      // the resolved builds, once learned

	// The facts are shared by a Run and the cycles of the dev loop it starts (Dev): each cycle
	// runs its stages afresh, and knows what the Run learned.
	*facts
}

// facts are what a Run learns from child processes, once each, outside mu: Verify and Image
// start learning them before the build they wait for, so that they are known when it is done.
type facts struct {
	sourceOnce sync.Once
	source     string // the repository URL
	goEnvOnce  sync.Once
	goEnv      goenv.Env // what `go env` reports for the project
	goEnvErr   error
	toolOnce   sync.Once
	toolchain  string // the GOTOOLCHAIN build.toolchain resolved to; "" for the go on PATH
	toolErr    error

	vulnOnce sync.Once // the vulnerability database, opened at most once per run
	vulnDB   *vuln.DB
	vulnErr  error
	// vulnWarned: that the database could not be opened is said once per process (a dev loop's
	// cycles share it), not once per cycle.
	vulnWarned sync.Once

	// bases are the registry bases pinned by digest this process resolved.
	bases image.BaseCache

	// keep: the dev loop's publishers, made once and used by every cycle (their registry
	// transport and its connections stay open); nil outside the dev loop.
	keep *keptPublishers
	// relink: the dev loop's plans for linking its binaries again without go build (package
	// relink), told of each cycle's changes; nil outside the dev loop.
	relink *relink.Set
	// compression: how the dev loop's images compress their binary and data layers (dev.compression
	// resolved); empty outside the dev loop (image's gzip).
	compression image.Compression
}

type keptPublishers struct {
	mu   sync.Mutex
	pubs map[string][]publish.Publisher // by the repository given to imageTo ("" for none)
}

type resolvedBuilds struct {
	builds []gobuild.Build
	info   gobuild.Info
}

// New loads and validates the configuration for opts.Dir and prints its warnings, once per
// invocation (see Options.WarningsSaid).
func New(opts Options) (*Run, error) {
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	r, err := load.Load(load.Options{Dir: dir, Configure: opts.Configure})
	if err != nil {
		return nil, err
	}
	out := opts.Out
	if out == nil {
		out = os.Stdout
	}
	// What the engine prints for a person passes the one redactor; the resolved YAML stream on
	// standard output (resolve.output "-") is the user's data and stays as it is.
	e := &Run{Config: r, Dir: r.Dir, UI: &ui.Printer{Out: redact.Writer(out)}, Verbose: opts.Verbose, extra: opts.Extra, stdout: out, done: map[string]error{}, warmed: &image.Warmed{}, facts: &facts{}}
	if opts.Command == StageResolve && r.Resolve.Output == "-" {
		e.UI.Out = redact.Writer(stderr)
	}
	for _, s := range opts.Skip {
		e.done[s] = nil
	}
	if !opts.WarningsSaid {
		for _, w := range r.Warnings {
			e.UI.Warn("%s", w)
		}
	}
	return e, nil
}

// NeedsFull reports whether the configured destinations need publishers this engine lacks.
func (e *Run) NeedsFull() bool {
	if e.extra != nil {
		return false
	}
	for _, d := range e.Config.Destinations() {
		if d == publish.Daemon || d == publish.Kind {
			return true
		}
	}
	return false
}

// Stage runs fn as the stage called name, at most once per Run: a second call returns the
// first one's result. A failed stage's error is returned to every later caller.
func (e *Run) Stage(ctx context.Context, name string, fn func(context.Context) error) error {
	e.mu.Lock()
	err, seen := e.done[name]
	e.mu.Unlock()
	if seen {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	err = fn(ctx)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done[name] = err
	if e.took == nil {
		e.took = map[string]time.Duration{}
	}
	e.took[name] = time.Since(start)
	if err == nil {
		e.ran = append(e.ran, name)
	}
	return err
}

// Ran returns the stages this Run ran and passed, in order (not those it was told to skip).
func (e *Run) Ran() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.ran)
}

// CacheDir is where scratchkit keeps what it builds once and reuses across runs and projects
// (engines, compressed layers, the smoke prober): $SCRATCHKIT_CACHE, else the user cache
// directory's scratchkit folder. Empty when there is none: then nothing is cached.
func (e *Run) CacheDir() string {
	d, err := cachedir.Dir()
	if err != nil {
		return ""
	}
	return d
}

// DistDir is the absolute dist folder.
func (e *Run) DistDir() string {
	if filepath.IsAbs(e.Config.Dist) {
		return e.Config.Dist
	}
	return filepath.Join(e.Dir, e.Config.Dist)
}

// DistLockFile is the lock a run holds in dist/ from start to end, so that two runs on one
// project (a second `mage image`, parallel CI steps in one workspace) take turns instead of
// losing each other's updates of artifacts.json.
const DistLockFile = ".scratchkit.lock"

// LockDist takes dist/'s lock, saying so when another run holds it for more than a moment, and
// waits until it is free or ctx ends. The lock ends with its process, however that ends.
func (e *Run) LockDist(ctx context.Context) (unlock func(), err error) {
	if err := e.makeDist(); err != nil {
		return nil, err
	}
	path := filepath.Join(e.DistDir(), DistLockFile)
	quick, cancel := context.WithTimeout(ctx, time.Second)
	unlock, err = filelock.Lock(quick, path)
	cancel()
	if err == nil || ctx.Err() != nil {
		return unlock, err
	}
	e.UI.Info("waiting for another scratchkit run using %s to finish …", e.Rel(e.DistDir()))
	return filelock.Lock(ctx, path)
}

// makeDist creates dist/ when there is none, with a .gitignore that ignores all of it (as
// `python -m venv` does for its directory). Go stamps vcs.modified=true into binaries built in a
// checkout with untracked files, so an unignored dist/ would make every build after the first
// differ from it, and its layer be pushed again. A dist/ that exists is left as it is.
func (e *Run) makeDist() error {
	dir := e.DistDir()
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", dir, err)
	}
	ignore := "# Written by scratchkit when it made this directory: what it builds here stays out of git.\n*\n"
	if err := atomicfile.WriteFile(filepath.Join(dir, ".gitignore"), []byte(ignore), 0o644); err != nil {
		return fmt.Errorf("make %s: %w", dir, err)
	}
	return nil
}

// LayoutDir is the OCI layout the layout destination writes: dist/layout.
func (e *Run) LayoutDir() string { return filepath.Join(e.DistDir(), "layout") }

// Rel names a path relative to the working directory, with forward slashes.
func (e *Run) Rel(p string) string {
	if r, err := filepath.Rel(e.Dir, p); err == nil {
		return filepath.ToSlash(r)
	}
	return filepath.ToSlash(p)
}

// Abs resolves a path recorded relative to the working directory.
func (e *Run) Abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.Dir, filepath.FromSlash(p))
}

// Record returns the artifacts record: the one in memory, or dist/artifacts.json read once.
func (e *Run) Record() (*artifacts.Artifacts, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rec != nil {
		return e.rec, nil
	}
	rec, err := artifacts.Load(e.DistDir())
	var le *artifacts.LoadError
	switch {
	case errors.As(err, &le) && le.Missing:
		return nil, fmt.Errorf("%w: run `mage build` first", err)
	case errors.As(err, &le):
		return nil, fmt.Errorf("%w: delete it and run `mage build`", err)
	case err != nil:
		return nil, err
	}
	e.rec = rec
	return rec, nil
}

// SetRecord replaces the record in memory (Build starts a new one) and saves it.
func (e *Run) SetRecord(rec *artifacts.Artifacts) error {
	e.mu.Lock()
	e.rec = rec
	e.mu.Unlock()
	return e.Save()
}

// Save writes the record in memory to dist/artifacts.json.
func (e *Run) Save() error {
	e.mu.Lock()
	rec := e.rec
	e.mu.Unlock()
	if rec == nil {
		return nil
	}
	return rec.Save(e.DistDir())
}

// stderr is where verbose command lines go.
var stderr = redact.Writer(os.Stderr)

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
