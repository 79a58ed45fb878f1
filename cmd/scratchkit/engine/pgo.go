package engine

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/google/pprof/profile"

	"github.com/scratchkit/scratchkit/internal/atomicfile"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/gobuild"
	"github.com/scratchkit/scratchkit/targets/pgo"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// PGO collects CPU profiles (live endpoints, files, or a local workload), validates and merges
// them, and places default.pgo next to each main package; a failed run changes nothing. With
// pgo.check set, it measures the new profile first (see PGOCheck) and, under enforce, keeps the
// current file when the new one measured worse.
func (e *Run) PGO(ctx context.Context) error {
	return e.Stage(ctx, StagePGO, func(ctx context.Context) error { return e.pgo(ctx, e.Config.PGO.Check) })
}

// PGOCheck collects a profile as PGO does and measures what it buys on pgo.workload (the
// service built without it, with it, and with the placed profile, side by side), records the
// result in artifacts.json, and places nothing.
func (e *Run) PGOCheck(ctx context.Context) error {
	return e.Stage(ctx, StagePGOCheck, func(ctx context.Context) error { return e.pgo(ctx, modeMeasure) })
}

// modeMeasure is pgoCheck's: measure, record, place nothing.
const modeMeasure = "measure"

func (e *Run) pgo(ctx context.Context, mode string) error {
	if mode == "" {
		mode = pgo.ModeOff
	}
	c := e.Config.PGO
	if len(c.Endpoints) == 0 && len(c.Files) == 0 && (c.Workload == nil || c.Workload.MeasureOnly) {
		return fmt.Errorf("pgo: nothing to profile: set pgo.endpoints (or SCRATCHKIT_PGO_ENDPOINTS) to your services' pprof addresses, pgo.files to collected profiles, or pgo.workload to profile a local run (without measure_only)")
	}
	if c.Workload != nil && c.Workload.Build != "" {
		if err := e.Build(ctx); err != nil {
			return err
		}
	}
	builds, err := e.pgoBuilds(ctx, mode)
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
	if w := c.Workload; w != nil && !w.MeasureOnly && w.Bench != nil {
		// A library: its benchmarks, profiled from the test binary built without a profile.
		f, err := e.benchProfile(ctx, w)
		if err != nil {
			return fmt.Errorf("%w (every existing profile is unchanged)", err)
		}
		opts.Files = append(opts.Files, f)
	} else if w != nil && !w.MeasureOnly {
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
	place := pgo.PlaceOptions{Dir: filepath.Join(e.DistDir(), "pgo"), MainModule: module}
	var placements []pgo.Placement
	if mode == pgo.ModeOff {
		res, err := pgo.Refresh(ctx, opts, targets, place, e.Dir)
		e.UI.Heading("PGO")
		if werr := render.PGOReport(e.UI.Out, res.Report); werr != nil && err == nil {
			err = werr
		}
		if err != nil {
			return fmt.Errorf("%w (every existing profile is unchanged)", err)
		}
		placements = res.Placements
	} else {
		if placements, err = e.pgoChecked(ctx, mode, opts, builds, targets, place); err != nil || mode == modeMeasure {
			return err
		}
	}
	for _, p := range placements {
		state := "unchanged"
		if p.Changed {
			state = "written"
		}
		e.UI.OK("%s: %s %s %s", p.Build, e.Rel(p.Path), state, p.PGOFlag)
	}
	e.UI.Info("commit the profiles; the next mage build uses them (build info records -pgo)")
	return nil
}

// pgoBuilds are the builds a profile may be placed for. A library (pgo.workload.bench, no builds
// configured, no main package in the module) has none: pgoCheck then measures, and pgo, which
// has nowhere to place default.pgo, says so.
func (e *Run) pgoBuilds(ctx context.Context, mode string) ([]gobuild.Build, error) {
	if w := e.Config.PGO.Workload; w != nil && w.Bench != nil && len(e.Config.Builds) == 0 {
		mains, err := gobuild.MainPackages(ctx, e.Dir)
		if err != nil {
			return nil, err
		}
		if len(mains) == 0 {
			if mode != modeMeasure {
				return nil, fmt.Errorf("pgo: %s has no main package, so there is no default.pgo to place (Go reads it next to package main only): run pgoCheck to measure what a profile of pgo.workload.bench buys, or add builds (every existing profile is unchanged)", e.Dir)
			}
			return nil, nil
		}
	}
	builds, _, err := e.ResolveBuilds(ctx)
	return builds, err
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

// pgoChecked collects, measures the profile (pgo.check), records the result, and places the
// profile unless mode is modeMeasure or enforce refuses it.
func (e *Run) pgoChecked(ctx context.Context, mode string, opts pgo.Options, builds []gobuild.Build, targets []pgo.Target, place pgo.PlaceOptions) ([]pgo.Placement, error) {
	key := "pgo.check"
	if mode == modeMeasure {
		key = "pgoCheck"
	}
	w := e.Config.PGO.Workload
	if w != nil && w.Bench != nil {
		return e.pgoCheckedBench(ctx, mode, opts, targets, place)
	}
	switch {
	case w == nil || w.Build == "":
		return nil, e.Config.Errorf("pgo.workload.build", "%s rebuilds the service with and without the profile and runs both: set pgo.workload.build to the build to run (with args, pprof, ready and urls)", key)
	case len(w.URLs) == 0:
		return nil, e.Config.Errorf("pgo.workload.urls", "%s counts operations with the built-in load generator: list the requests of your workload under pgo.workload.urls (a load command cannot be counted)", key)
	}
	var b *gobuild.Build
	for i := range builds {
		if builds[i].Name == w.Build {
			b = &builds[i]
		}
	}
	if b == nil {
		return nil, e.Config.Errorf("pgo.workload.build", "%q is not a build; builds are named in builds[].name (or after their main package)", w.Build)
	}
	p, inputs, err := pgo.Collect(ctx, opts)
	report := pgo.Summarize(p, inputs, 10)
	e.UI.Heading("PGO")
	if werr := render.PGOReport(e.UI.Out, report); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return nil, fmt.Errorf("%w (every existing profile is unchanged)", err)
	}
	copts, err := e.checkVariants(ctx, b, p)
	if err != nil {
		return nil, fmt.Errorf("pgo: check: %w (every existing profile is unchanged)", err)
	}
	copts.Build = b.Name
	copts.Measure = pgo.MeasureOptions{
		// Command's first word names the service in reports; Measure runs each variant's binary.
		Workload: pgo.Workload{Command: append([]string{b.Name}, w.Args...), Dir: e.Dir, Env: w.Env,
			Ready: w.Ready, ReadyTimeout: w.ReadyTimeout.D(), URLs: w.URLs, Rate: w.Rate, Concurrency: w.Concurrency},
		Addrs:  workloadAddrs(w.Ready, w.Pprof, w.URLs),
		Rounds: e.Config.PGO.CheckRounds, Duration: e.Config.PGO.CheckWindow.D(), Warmup: e.Config.PGO.CheckWarmup.D(),
		Log: func(f string, a ...any) { e.UI.Info(f, a...) },
	}
	if copts.Measure.Warmup == 0 {
		copts.Measure.Warmup = -1 // pgo.check_warmup: 0s means none
	}
	return e.checkAndPlace(ctx, mode, p, copts, targets, place)
}

// checkAndPlace runs the check, places the profile as mode says, and records and reports both.
func (e *Run) checkAndPlace(ctx context.Context, mode string, p *profile.Profile, copts pgo.CheckOptions, targets []pgo.Target, place pgo.PlaceOptions) ([]pgo.Placement, error) {
	e.UI.Info("pgo: check: %d rounds of %s for each of %d comparisons, two copies side by side", copts.Measure.Rounds, copts.Measure.Duration, 2+len(optional(copts.Current)))
	rep, err := pgo.Check(ctx, copts)
	if err != nil {
		return nil, fmt.Errorf("%w (every existing profile is unchanged)", err)
	}
	var placements []pgo.Placement
	switch mode {
	case modeMeasure:
		rep.Decision = "measured"
	default:
		placements, err = pgo.PlaceChecked(p, rep, mode, targets, place)
		rep.Decision = "placed"
		if err != nil {
			rep.Decision = "kept"
			if !errors.As(err, new(*pgo.CheckError)) {
				rep.Decision = "failed"
				err = fmt.Errorf("%w (every existing profile is unchanged)", err)
			}
		}
	}
	e.UI.Heading("PGO check")
	if werr := render.PGOCheck(e.UI.Out, rep); werr != nil && err == nil {
		err = werr
	}
	if rerr := e.recordCheck(rep, copts.Measure.Bench != nil); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	return placements, nil
}

// pgoCheckedBench is pgoChecked for a library's workload (pgo.workload.bench): the variants
// are the package's test binaries, and the check runs their benchmarks.
func (e *Run) pgoCheckedBench(ctx context.Context, mode string, opts pgo.Options, targets []pgo.Target, place pgo.PlaceOptions) ([]pgo.Placement, error) {
	p, inputs, err := pgo.Collect(ctx, opts)
	report := pgo.Summarize(p, inputs, 10)
	e.UI.Heading("PGO")
	if werr := render.PGOReport(e.UI.Out, report); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return nil, fmt.Errorf("%w (every existing profile is unchanged)", err)
	}
	data, err := pgo.Encode(p)
	if err != nil {
		return nil, err
	}
	copts, err := e.benchVariants(ctx, e.Config.PGO.Workload, data, targets)
	if err != nil {
		return nil, fmt.Errorf("pgo: check: %w (every existing profile is unchanged)", err)
	}
	copts.Measure.Rounds, copts.Measure.Duration = e.Config.PGO.CheckRounds, e.Config.PGO.CheckWindow.D()
	copts.Measure.Log = func(f string, a ...any) { e.UI.Info(f, a...) }
	return e.checkAndPlace(ctx, mode, p, copts, targets, place)
}

func optional[T any](p *T) []T {
	if p == nil {
		return nil
	}
	return []T{*p}
}

// recordCheck adds the check to artifacts.json. A library's check (bench) may run where nothing
// was built yet: then it is reported and not recorded.
func (e *Run) recordCheck(rep pgo.CheckReport, bench bool) error {
	rec, err := e.Record()
	var le *artifacts.LoadError
	if bench && errors.As(err, &le) && le.Missing {
		e.UI.Warn("pgo: check of %s not recorded: no %s yet (mage build writes it)", rep.Build, e.Rel(filepath.Join(e.DistDir(), "artifacts.json")))
		return nil
	}
	if err != nil {
		return err
	}
	rec.AddPGOCheck(rep)
	return e.Save()
}

// checkVariants builds b for the host three ways under dist/pgo/check: without a profile, with
// the candidate p, and with the profile placed for it now (if any).
func (e *Run) checkVariants(ctx context.Context, b *gobuild.Build, p *profile.Profile) (pgo.CheckOptions, error) {
	var out pgo.CheckOptions
	dir := filepath.Join(e.DistDir(), "pgo", "check")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return out, err
	}
	data, err := pgo.Encode(p)
	if err != nil {
		return out, err
	}
	candidate := filepath.Join(dir, "candidate.pgo")
	if err := atomicfile.WriteFile(candidate, data, 0o644); err != nil {
		return out, err
	}
	variant := func(name, profile string) gobuild.Build {
		v := *b
		v.Name, v.PGO, v.Platforms = b.Name+"."+name, profile, []platform.Platform{platform.Host()}
		return v
	}
	builds := []gobuild.Build{variant("none", "off"), variant("candidate", candidate)}
	current := pgoFile(b)
	if current == "" && !b.InModule && fileExists(depProfile(e, b.Name)) {
		current = depProfile(e, b.Name)
	}
	if current != "" {
		builds = append(builds, variant("current", current))
	}
	env, err := e.GoEnviron(ctx)
	if err != nil {
		return out, err
	}
	e.UI.Info("pgo: check: building %s without a profile, with the new one%s (a new profile recompiles the standard library once)", b.Name, map[bool]string{true: " and with " + e.Rel(current)}[current != ""])
	opts := gobuild.Options{Dist: dir, Env: env}
	if e.Verbose {
		opts.Verbose = stderr
	}
	results, err := gobuild.Run(ctx, builds, opts)
	if err != nil {
		return out, fmt.Errorf("build the variants to measure: %w", err)
	}
	out.None = pgo.Variant{Name: "none", Binary: results[0].Path}
	out.Candidate = pgo.Variant{Name: "candidate", Binary: results[1].Path, Profile: sha256Hex(data)}
	if current != "" {
		cur, err := os.ReadFile(current)
		if err != nil {
			return out, err
		}
		out.Current = &pgo.Variant{Name: "current", Binary: results[2].Path, Profile: sha256Hex(cur)}
	}
	return out, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// workloadAddrs are the host:port addresses a workload names (its ready URL, pprof, its
// requests), each once: a check gives each copy of the service fresh ports for them.
func workloadAddrs(ready, pprof string, urls []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range append([]string{ready, pprof}, urls...) {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || seen[u.Host] {
			continue
		}
		seen[u.Host] = true
		out = append(out, u.Host)
	}
	return out
}
