// Package stage implements each mage target on top of the engine packages: it loads the
// configuration, calls the engine, prints for a person and records the outcome in
// dist/artifacts.json. The targets packages only expose these stages to mage.
package stage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/magefile/mage/mg"

	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/internal/ui"
)

// configured is what the magefile passed to targets.Configure: the one piece of state.
var configured struct {
	sync.Mutex
	c *config.Config
}

// Configure records the magefile's configuration; it is read by every stage that runs after it.
func Configure(c config.Config) {
	configured.Lock()
	defer configured.Unlock()
	configured.c = &c
}

// Env is one run's loaded configuration and printer.
type Env struct {
	*config.Resolved
	UI *ui.Printer
}

// Load reads the configuration for the current working directory.
func Load() (*Env, error) {
	configured.Lock()
	c := configured.c
	configured.Unlock()
	r, err := config.Load(config.Options{Dir: ".", Configure: c})
	if err != nil {
		return nil, err
	}
	e := &Env{Resolved: r, UI: ui.New()}
	for _, w := range r.Warnings {
		e.UI.Warn("%s", w)
	}
	return e, nil
}

// DistDir is the absolute dist folder.
func (e *Env) DistDir() string {
	if filepath.IsAbs(e.Dist) {
		return e.Dist
	}
	return filepath.Join(e.Dir, e.Dist)
}

// Rel names a path relative to the working directory, with forward slashes.
func (e *Env) Rel(p string) string {
	if r, err := filepath.Rel(e.Dir, p); err == nil {
		return filepath.ToSlash(r)
	}
	return filepath.ToSlash(p)
}

// Abs resolves a path recorded relative to the working directory.
func (e *Env) Abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.Dir, filepath.FromSlash(p))
}

// Artifacts loads dist/artifacts.json.
func (e *Env) Artifacts() (*artifacts.Artifacts, error) { return artifacts.Load(e.DistDir()) }

// Deps runs stages through mage's dependency machinery, so each runs once per mage invocation
// however many targets depend on it. A failure comes back as an error instead of mage's panic,
// so the stages can also be called from plain Go.
func Deps(ctx context.Context, fns ...any) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if e, ok := v.(error); ok {
				err = e
				return
			}
			panic(v)
		}
	}()
	mg.CtxDeps(ctx, fns...)
	return nil
}

// Verbose reports whether mage runs with -v (or MAGEFILE_VERBOSE is set).
func Verbose() bool { return mg.Verbose() }

// stderr is where verbose command lines go.
var stderr = os.Stderr

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
