package engine

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/targets/gobuild"
	"github.com/scratchkit/scratchkit/targets/pgo"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// PGO collects CPU profiles (live endpoints, files, or a local workload), validates and merges
// them, and places default.pgo next to each main package; a failed run changes nothing.
func (e *Run) PGO(ctx context.Context) error { return e.Stage(ctx, StagePGO, e.pgo) }

func (e *Run) pgo(ctx context.Context) error {
	c := e.Config.PGO
	if len(c.Endpoints) == 0 && len(c.Files) == 0 && c.Workload == nil {
		return fmt.Errorf("pgo: nothing to profile: set pgo.endpoints (or SCRATCHKIT_PGO_ENDPOINTS) to your services' pprof addresses, pgo.files to collected profiles, or pgo.workload to profile a local run")
	}
	if c.Workload != nil && c.Workload.Build != "" {
		if err := e.Build(ctx); err != nil {
			return err
		}
	}
	builds, _, err := e.ResolveBuilds(ctx)
	if err != nil {
		return err
	}
	module, err := gobuild.ModulePath(ctx, e.Dir)
	if err != nil {
		return err
	}
	opts := pgo.Options{
		Seconds: c.Seconds, MinSources: c.MinSources, Timeout: c.Timeout.D(), Retries: c.Retries,
		MainModule: module, Log: func(f string, a ...any) { e.UI.Info(f, a...) },
	}
	if c.Retries == 0 {
		opts.Retries = -1 // pgo.retries: 0 means no retries
	}
	for _, ep := range c.Endpoints {
		headers := map[string]string{}
		for k, v := range c.Headers {
			headers[k] = v
		}
		for k, v := range ep.Headers {
			headers[k] = v
		}
		o := pgo.Endpoint{URL: ep.URL, Headers: headers, BearerTokenEnv: cmp.Or(ep.BearerTokenEnv, c.BearerTokenEnv), CAFile: cmp.Or(ep.CAFile, c.CAFile), Insecure: ep.Insecure || c.Insecure}
		if o.CAFile != "" {
			o.CAFile = e.Abs(o.CAFile)
		}
		opts.Endpoints = append(opts.Endpoints, o)
	}
	for _, f := range c.Files {
		opts.Files = append(opts.Files, e.Abs(f))
	}
	if w := c.Workload; w != nil {
		cmd := w.Command
		if w.Build != "" {
			bin, err := hostBinary(e, w.Build)
			if err != nil {
				return err
			}
			cmd = append([]string{bin}, w.Args...)
		}
		if len(cmd) == 0 {
			return e.Config.Errorf("pgo.workload", "no service to start: set build (the name of a build) or command")
		}
		if w.Pprof == "" {
			return e.Config.Errorf("pgo.workload.pprof", "missing: the URL the service serves net/http/pprof on, e.g. http://127.0.0.1:6060")
		}
		opts.Workload = &pgo.Workload{
			Command: cmd, Dir: e.Dir, Env: w.Env, PprofURL: w.Pprof, Ready: w.Ready,
			Load: w.Load, URLs: w.URLs, Rate: w.Rate, Duration: w.Duration.D(),
			Concurrency: w.Concurrency, Warmup: w.Warmup.D(), ReadyTimeout: w.ReadyTimeout.D(),
		}
	}
	var targets []pgo.Target
	want := map[string]bool{}
	for _, n := range c.Builds {
		want[n] = true
	}
	for _, b := range builds {
		if len(want) > 0 && !want[b.Name] {
			continue
		}
		if len(want) == 0 && !b.InModule {
			e.UI.Warn("build %s: its main package %s lives in a dependency; it gets %s and is built with -pgo=<file>", b.Name, b.ImportPath, e.Rel(depProfile(e, b.Name)))
		}
		targets = append(targets, pgo.Target{Build: b.Name, MainDir: b.PkgDir, InModule: b.InModule})
		delete(want, b.Name)
	}
	for n := range want {
		return e.Config.Errorf("pgo.builds", "%q is not a build; builds are named in builds[].name (or after their main package)", n)
	}
	res, err := pgo.Refresh(ctx, opts, targets, pgo.PlaceOptions{Dir: filepath.Join(e.DistDir(), "pgo"), MainModule: module}, e.Dir)
	e.UI.Heading("PGO")
	if werr := render.PGOReport(e.UI.Out, res.Report); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("%w (every existing profile is unchanged)", err)
	}
	for _, p := range res.Placements {
		state := "unchanged"
		if p.Changed {
			state = "written"
		}
		e.UI.OK("%s: %s %s %s", p.Build, e.Rel(p.Path), state, p.PGOFlag)
	}
	e.UI.Info("commit the profiles; the next mage build uses them (build info records -pgo)")
	return nil
}

// depProfile is where a build whose main package is in a dependency gets its profile: the
// file pgo.Place writes for it.
func depProfile(e *Run, name string) string {
	return pgo.DependencyProfile(filepath.Join(e.DistDir(), "pgo"), name)
}

// hostBinary is the recorded binary of a build for the host platform.
func hostBinary(e *Run, name string) (string, error) {
	rec, err := e.Record()
	if err != nil {
		return "", err
	}
	host := platform.Host()
	b, ok := rec.Binary(name, host)
	if !ok {
		return "", e.Config.Errorf("pgo.workload.build", "no %s binary for %s in artifacts.json: add %s to platforms so the workload can run here", name, host, host)
	}
	return e.Abs(b.Path), nil
}

// dependencyPGO gives builds whose main package lives in a dependency the profile PGO placed for
// them, since -pgo=auto only looks next to the main package.
func (e *Run) dependencyPGO(b *gobuild.Build) {
	if b.InModule || (b.PGO != "" && b.PGO != "auto") {
		return
	}
	if p := depProfile(e, b.Name); fileExists(p) {
		b.PGO = p
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
