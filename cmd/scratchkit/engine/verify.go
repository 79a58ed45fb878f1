package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/internal/cachedir"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/cmd/scratchkit/ui"
	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/config/load"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/vuln"
)

// Verify checks every binary Build recorded and marks the ones that pass in artifacts.json,
// after Build.
func (e *Run) Verify(ctx context.Context) error {
	go e.GoEnv(ctx) // for the leak paths, learned while the go command builds
	if err := e.Build(ctx); err != nil {
		return err
	}
	return e.Stage(ctx, StageVerify, e.verify)
}

func (e *Run) verify(ctx context.Context) error {
	rec, err := e.Record()
	if err != nil {
		return err
	}
	prev := previousSizes(e.DistDir())
	leaks, err := e.buildPaths(ctx)
	if err != nil {
		return err
	}
	var reports []binary.Report
	var jobs []*vulnJob
	for i := range rec.Binaries {
		b := &rec.Binaries[i]
		v := e.Config.VerifyOf(e.BuildConfig(b.Name))
		exp := binary.Expect{
			Name: b.Name, Platform: b.Platform, Linkage: binary.Linkage(b.Linkage), SHA256: b.SHA256,
			MaxSize: int64(v.MaxSize), LeakPaths: leaks, Report: v.Report, Enforce: v.Enforce,
			Breakdown: v.Breakdown, ImagePath: image.AppPath(b.Name), LinkWarnings: b.GlibcRuntime,
		}
		if p, ok := prev[b.Name+" "+b.Platform.String()]; ok {
			exp.Prev = p
		}
		b.BuildInfo = ""
		info, err := binary.Inspect(ctx, e.Abs(b.Path), binary.WithLeakPaths(leaks...))
		var rep binary.Report
		if err != nil {
			rep = binary.Verify(ctx, e.Abs(b.Path), exp) // reports why the file cannot be inspected
			if errors.Is(err, fs.ErrNotExist) {
				missingBinary(&rep)
			}
		} else {
			rep = binary.Check(info, exp)
			sizes := info.Sizes()
			b.Sizes = &sizes
			if info.Go != nil {
				b.BuildInfo = info.Go.BuildInfo // read once here; every later step takes it from the record
			}
		}
		rep.Path = b.Path
		reports = append(reports, rep)
		// The scan's result is cached by the sha256 of the bytes read, not the recorded one: a file
		// that fails integrity must not lend its result to the binary Build made.
		jobs = append(jobs, &vulnJob{path: e.Abs(b.Path), sha256: rep.SHA256, buildInfo: b.BuildInfo, mode: vuln.Mode(v.VulnCheck), ignores: e.ignoresOf(b.Name)})
	}
	e.UI.Heading("Verify")
	vulnErr := e.vulncheck(ctx, reports, jobs)
	for i := range rec.Binaries {
		b := &rec.Binaries[i]
		b.Verified = !reports[i].Failed()
		b.Vuln, b.VulnError = jobs[i].result, jobs[i].err
	}
	if err := render.VerifyTable(e.UI.Out, reports, ui.Colour()); err != nil {
		return err
	}
	if err := e.Save(); err != nil {
		return err
	}
	return verdict(reports, "binary", "binaries", vulnErr)
}

// missingBinary adds to the inspect failure of a recorded binary whose file is gone how to get
// it back.
func missingBinary(rep *binary.Report) {
	for i, res := range rep.Results {
		if res.Check == binary.CheckInspect && res.Status == binary.StatusFail {
			rep.Results[i].Detail += ". The artifact is missing: run the Build target again, or fix the path recorded for it."
		}
	}
}

// verdict is Verify's error: the binaries that would break in a scratch image, then the
// vulnerability check's failures.
func verdict(reports []binary.Report, one, many string, vulnErr error) error {
	broken := 0
	for _, r := range reports {
		if slices.ContainsFunc(r.Results, func(res binary.Result) bool { return res.Status == binary.StatusFail && res.Check != vuln.Check }) {
			broken++
		}
	}
	var errs []error
	if broken > 0 {
		errs = append(errs, fmt.Errorf("verify: %s of %d would break in a scratch or distroless image; the diagnosis of each failure is above", plural(broken, one, many), len(reports)))
	}
	if vulnErr != nil {
		errs = append(errs, vulnErr)
	}
	return errors.Join(errs...)
}

// vulnJob is one binary's vulnerability check: what to check and how strictly, and its outcome.
type vulnJob struct {
	path, sha256 string
	buildInfo    string // as Verify read it
	mode         vuln.Mode
	ignores      []vulnIgnore
	result       *vuln.Result // nil when the check was off or could not run
	err          string       // why it could not run
}

// vulnIgnore is a verify.vuln_ignore entry and its key path, for messages.
type vulnIgnore struct {
	vuln.Ignore
	path string
}

// ignoresOf returns the vuln_ignore entries of a build: the top level's and its own.
func (e *Run) ignoresOf(name string) []vulnIgnore {
	var out []vulnIgnore
	add := func(path string, list []config.VulnIgnore) {
		for j, ig := range list {
			until, _ := time.Parse(load.VulnIgnoreDate, ig.Until) // validated
			out = append(out, vulnIgnore{vuln.Ignore{ID: ig.ID, Reason: ig.Reason, Until: until}, fmt.Sprintf("%s[%d]", path, j)})
		}
	}
	add("verify.vuln_ignore", e.Config.Verify.VulnIgnore)
	if name == "" {
		return out
	}
	if i := e.buildIndex(name); i >= 0 && e.Config.Builds[i].Verify != nil {
		add(fmt.Sprintf("builds[%d].verify.vuln_ignore", i), e.Config.Builds[i].Verify.VulnIgnore)
	}
	return out
}

// vulnDatabase opens the vulnerability database, once per run.
func (e *Run) vulnDatabase(ctx context.Context) (*vuln.DB, error) {
	e.vulnOnce.Do(func() {
		opts := vuln.Options{InfoMaxAge: vuln.DefaultInfoMaxAge}
		if dir, err := cachedir.Dir(); err == nil {
			opts.CacheDir = filepath.Join(dir, "vuln")
		}
		if db := e.Config.VulnDB(); db == vuln.GoProxy {
			mo := vuln.ModuleOptions{Env: secrets.Environ(), LatestMaxAge: vuln.DefaultInfoMaxAge}
			if opts.CacheDir != "" {
				mo.CacheDir = filepath.Join(filepath.Dir(opts.CacheDir), "vulndb")
			}
			e.vulnDB, e.vulnErr = vuln.OpenModule(ctx, mo, opts)
		} else {
			e.vulnDB, e.vulnErr = vuln.Open(ctx, db, opts)
		}
	})
	return e.vulnDB, e.vulnErr
}

// vulncheck runs the vulnerability check of every job whose mode is not off, against the
// database opened once per run, in parallel, and adds its result to the job's report. The
// error names each enforced finding, each expired ignore entry and, under enforce, a database
// that could not be read.
func (e *Run) vulncheck(ctx context.Context, reports []binary.Report, jobs []*vulnJob) error {
	now := time.Now()
	var errs []error
	var active []int
	for i, j := range jobs {
		if j.mode == vuln.Off {
			reports[i].Results = append(reports[i].Results, binary.Result{Check: vuln.Check, Status: binary.StatusSkip, Value: "off"})
			continue
		}
		active = append(active, i)
	}
	if len(active) == 0 {
		return nil
	}
	label := func(i int) string {
		return fmt.Sprintf("%s (%s)", reports[i].Name, orDash(reports[i].Platform.String()))
	}
	// An entry past its date is an error whatever the database says.
	expired := map[int][]string{}
	for _, i := range active {
		for _, ig := range jobs[i].ignores {
			if ig.Expired(now) {
				until := ig.Until.Format(load.VulnIgnoreDate)
				expired[i] = append(expired[i], fmt.Sprintf("%s: the verify.vuln_ignore entry for %s expired on %s (%s)", e.Config.Where(ig.path), ig.ID, until, ig.Reason))
				errs = append(errs, e.Config.Errorf(ig.path, "the entry for %s expired on %s (reason: %s): fix the vulnerability, or renew the entry with a new until and reason", ig.ID, until, ig.Reason))
			}
		}
	}
	db, err := e.vulnDatabase(ctx)
	if err != nil {
		// One line for the run says why and what to do; a binary under report says only that it
		// was not checked. Under enforce, or with an expired ignore entry, the binary fails with
		// the whole reason.
		fix := "set verify.vulndb: goproxy (the same database, as the golang.org/x/vulndb module through the Go module proxy), point verify.vulndb or GOVULNDB at a mirror or a copy (file:///srv/vulndb), or set verify.vulncheck: off; see docs/verify.md"
		var enforced []string
		for _, i := range active {
			jobs[i].err = err.Error()
			res := binary.Result{Check: vuln.Check, Status: binary.StatusSkip, Value: "not checked"}
			if jobs[i].mode == vuln.Enforce || len(expired[i]) > 0 {
				res = binary.Result{Check: vuln.Check, Status: binary.StatusFail, Detail: fmt.Sprintf("not checked: %v (verify.vulndb from %s). To check: %s", err, e.Config.Where("verify.vulndb"), fix)}
				if len(expired[i]) > 0 {
					res.Detail += "\n" + strings.Join(expired[i], "\n")
				}
			}
			reports[i].Results = append(reports[i].Results, res)
			if jobs[i].mode == vuln.Enforce {
				enforced = append(enforced, label(i))
			}
		}
		if len(enforced) > 0 {
			errs = append(errs, fmt.Errorf("verify: verify.vulncheck is enforce for %s, but %v; point verify.vulndb or GOVULNDB at a reachable mirror or copy, e.g. file:///srv/vulndb, or goproxy (docs/verify.md), or set verify.vulncheck: report", strings.Join(enforced, ", "), err))
		}
		e.facts.vulnWarned.Do(func() { e.UI.Warn("vulnerabilities not checked: %v; %s", err, fix) })
		return errors.Join(dedupe(errs)...)
	}
	bins := make([]vuln.Binary, len(active))
	for k, i := range active {
		bins[k] = vuln.Binary{Path: jobs[i].path, SHA256: jobs[i].sha256, BuildInfo: jobs[i].buildInfo}
	}
	scanned := db.Scan(ctx, bins)
	cached := 0
	for k, i := range active {
		j, s, rep := jobs[i], scanned[k], &reports[i]
		if s.Err != nil {
			j.err = s.Err.Error()
			st := binary.StatusWarn
			if j.mode == vuln.Enforce {
				st = binary.StatusFail
				errs = append(errs, fmt.Errorf("verify: %s: not checked for vulnerabilities: %w", label(i), s.Err))
			}
			if len(expired[i]) > 0 {
				st = binary.StatusFail
			}
			rep.Results = append(rep.Results, binary.Result{Check: vuln.Check, Status: st, Detail: strings.Join(append([]string{"not checked: " + s.Err.Error()}, expired[i]...), "\n")})
			continue
		}
		if s.Cached {
			cached++
		}
		j.result = s.Result
		var ignores []vuln.Ignore
		for _, ig := range j.ignores {
			ignores = append(ignores, ig.Ignore)
		}
		vuln.Apply(j.result, ignores, now)
		*rep = vulnResult(*rep, j.result, j.mode, expired[i])
		for _, f := range vuln.Failing(j.result, j.mode) {
			errs = append(errs, fmt.Errorf("verify: %s: %s; %s, or accept it for a while with a verify.vuln_ignore entry (id, reason, until)", label(i), f, fixOf(f)))
		}
	}
	e.UI.Info("vulnerabilities: %s: %d scanned, %d unchanged since an earlier scan", vuln.Describe(db.URL, db.Modified), len(active)-cached, cached)
	return errors.Join(dedupe(errs)...)
}

// vulnResult adds the vulnerability check's result and notes to a report.
func vulnResult(rep binary.Report, r *vuln.Result, mode vuln.Mode, expired []string) binary.Report {
	var reached, other []string
	ignored := 0
	for _, f := range r.Findings {
		switch {
		case f.Ignored != "":
			ignored++
			rep.Notes = append(rep.Notes, fmt.Sprintf("vuln: %s; ignored: %s", f, f.Ignored))
		case f.Reached():
			reached = append(reached, f.String())
		default:
			other = append(other, f.String())
			rep.Notes = append(rep.Notes, fmt.Sprintf("vuln: %s (reported, not enforced)", f))
		}
	}
	res := binary.Result{Check: vuln.Check, Status: binary.StatusPass}
	switch {
	case len(reached) > 0 || len(expired) > 0:
		res.Status = binary.StatusWarn
		if mode == vuln.Enforce || len(expired) > 0 {
			res.Status = binary.StatusFail
		}
		var lines []string
		if len(reached) > 0 {
			lines = append(lines, fmt.Sprintf("%s whose vulnerable functions are in the binary (database %s):",
				plural(len(reached), "known vulnerability", "known vulnerabilities"), vuln.Describe(r.DB, r.DBModified)))
			lines = append(lines, reached...)
			lines = append(lines, "Fix: upgrade each module to its fixed version (go get module@version; for stdlib, a newer Go: build.toolchain: patch), or accept one for a while with a verify.vuln_ignore entry (id, reason, until).")
		}
		lines = append(lines, expired...)
		res.Detail = strings.Join(lines, "\n")
	case len(other) > 0:
		res.Status, res.Value = binary.StatusInfo, fmt.Sprintf("%d not called", len(other))
	case ignored > 0:
		res.Status, res.Value = binary.StatusInfo, fmt.Sprintf("%d ignored", ignored)
	}
	rep.Results = append(rep.Results, res)
	return rep
}

// fixOf says how to get rid of a finding.
func fixOf(f vuln.Finding) string {
	switch {
	case f.Fixed == "":
		return "no fixed version exists yet: avoid its vulnerable functions or watch the advisory"
	case f.Module == "stdlib" || f.Module == "toolchain":
		return fmt.Sprintf("build with %s or later (build.toolchain: %s, or patch for the newest patch release)", f.Fixed, f.Fixed)
	}
	return fmt.Sprintf("upgrade %s to %s (go get %s@%s)", f.Module, f.Fixed, f.Module, f.Fixed)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dedupe drops repeated errors (an expired top-level entry is found once per binary).
func dedupe(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	for _, err := range errs {
		if !seen[err.Error()] {
			seen[err.Error()] = true
			out = append(out, err)
		}
	}
	return out
}

// previousSizes reads the sizes the previous run recorded, by "name platform".
func previousSizes(dist string) map[string]*binary.Sizes {
	out := map[string]*binary.Sizes{}
	data, err := os.ReadFile(filepath.Join(dist, artifacts.PrevFileName))
	if err != nil {
		return out
	}
	var prev artifacts.Artifacts
	if json.Unmarshal(data, &prev) != nil {
		return out
	}
	for _, b := range prev.Binaries {
		if b.Sizes != nil {
			out[b.Name+" "+b.Platform.String()] = b.Sizes
		} else if b.Size > 0 {
			out[b.Name+" "+b.Platform.String()] = &binary.Sizes{Total: b.Size}
		}
	}
	return out
}

// VerifyFiles checks binaries that did not come from Build, with the top-level verify settings:
// linkage, stripping, leaked paths, packing, size and hardening. paths is a space- or
// comma-separated list.
func (e *Run) VerifyFiles(ctx context.Context, paths string) error {
	return e.Stage(ctx, "verifyFiles "+paths, func(ctx context.Context) error { return e.verifyFiles(ctx, paths) })
}

func (e *Run) verifyFiles(ctx context.Context, paths string) error {
	list := strings.FieldsFunc(paths, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
	if len(list) == 0 {
		return fmt.Errorf("verifyFiles: no paths given; run e.g. mage verifyFiles \"bin/app bin/worker\"")
	}
	leaks, err := e.buildPaths(ctx)
	if err != nil {
		return err
	}
	v := e.Config.VerifyOf(config.Build{})
	var reports []binary.Report
	var jobs []*vulnJob
	for _, p := range list {
		rep := binary.Verify(ctx, e.Abs(p), binary.Expect{
			Name: filepath.Base(p), MaxSize: int64(v.MaxSize), LeakPaths: leaks,
			Report: v.Report, Enforce: v.Enforce, Breakdown: v.Breakdown,
		})
		rep.Path = p
		reports = append(reports, rep)
		jobs = append(jobs, &vulnJob{path: e.Abs(p), sha256: rep.SHA256, mode: vuln.Mode(v.VulnCheck), ignores: e.ignoresOf("")}) // the top level's
	}
	e.UI.Heading("Verify")
	vulnErr := e.vulncheck(ctx, reports, jobs)
	if err := render.VerifyTable(e.UI.Out, reports, ui.Colour()); err != nil {
		return err
	}
	return verdict(reports, "file", "files", vulnErr)
}

// buildPaths are the directories a build here may leak into a binary (binary.BuildPaths).
func (e *Run) buildPaths(ctx context.Context) ([]string, error) {
	ge, err := e.GoEnv(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: build paths: %w", err)
	}
	return binary.BuildPathsOf(e.Dir, secrets.Environ(), ge)
}
