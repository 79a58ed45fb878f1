package pgo

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// Check modes (pgo.check).
const (
	ModeOff     = "off"     // place without measuring
	ModeReport  = "report"  // measure, place, report
	ModeEnforce = "enforce" // measure; refuse a profile measurably worse than the current one (or none)
)

// CheckOptions configures Check.
type CheckOptions struct {
	Measure MeasureOptions
	// Build names the build being measured, for reports.
	Build string
	// None is the service built with -pgo=off; Candidate with the profile being checked;
	// Current, when a profile is already placed, with that one.
	None, Candidate Variant
	Current         *Variant
}

// CheckReport is what a profile was measured to buy, on this machine, under the workload. The
// ratios are candidate over the other: CPU per operation below 1 and throughput above 1 are
// gains. It is recorded in artifacts.json and in the provenance of images built with the profile.
type CheckReport struct {
	Build     string `json:"build"`
	Candidate string `json:"profile_sha256"`           // the profile checked
	Current   string `json:"current_sha256,omitempty"` // the profile placed before, if any
	// Workload is what ran: the command (first word the binary's base name) and the load.
	Workload string `json:"workload"`
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model,omitempty"`
	Pinned   bool   `json:"pinned"` // the copies shared one CPU (taskset)
	Rounds   int    `json:"rounds"`
	Window   string `json:"window"` // each round's measured window
	// Bench: the workload was a library's benchmarks (pgo.workload.bench); the costs per
	// operation are then the geometric means of their ns/op, and the ratios of them.
	Bench bool `json:"bench,omitempty"`

	// Control is the A/A run (the -pgo=off build in both slots); Precision what it says the
	// method resolves here, as a fraction (0.02: ±2 %).
	Control   Comparison `json:"control"`
	Precision float64    `json:"precision"`
	// VsNone is the candidate against the build without a profile; VsCurrent against the
	// build with the placed profile.
	VsNone    Comparison  `json:"vs_none"`
	VsCurrent *Comparison `json:"vs_current,omitempty"`
	// Verdict and VerdictCurrent judge CPU per operation against the precision.
	Verdict        Verdict `json:"verdict"`
	VerdictCurrent Verdict `json:"verdict_current,omitempty"`
	// Decision is what the PGO stage did with the profile: placed, kept (the current file, under
	// enforce) or measured (pgoCheck, which places nothing).
	Decision string    `json:"decision,omitempty"`
	Started  time.Time `json:"started"`
}

// Check measures the candidate against the build without a profile, an A/A control of that
// build against itself, and, when a profile is placed, the candidate against it, side by side
// (see Measure), and judges each against the control's precision.
func Check(ctx context.Context, opts CheckOptions) (CheckReport, error) {
	rep := CheckReport{
		Build: opts.Build, Candidate: opts.Candidate.Profile,
		Workload: describeWorkload(opts.Measure.Workload),
		CPUs:     runtime.NumCPU(), CPUModel: CPUModel(),
		Rounds:  max(opts.Measure.Rounds, 0),
		Window:  durationOr(opts.Measure.Duration, DefaultCheckDuration).String(),
		Started: time.Now().UTC().Truncate(time.Second),
	}
	if rep.Rounds == 0 {
		rep.Rounds = DefaultCheckRounds
	}
	if b := opts.Measure.Bench; b != nil {
		rep.Bench = true
		rep.Workload = b.describe(durationOr(opts.Measure.Duration, DefaultCheckDuration))
		if b.Benchtime != "" {
			rep.Window = b.Benchtime
		}
	}
	control := opts.None
	control.Name = "none"
	pairs := []Pair{{A: opts.None, B: control}, {A: opts.None, B: opts.Candidate}}
	if opts.Current != nil {
		rep.Current = opts.Current.Profile
		pairs = append(pairs, Pair{A: *opts.Current, B: opts.Candidate})
	}
	rep.Pinned = !opts.Measure.NoPin && runtime.NumCPU() >= 2 && lookTaskset()
	cs, err := Measure(ctx, opts.Measure, pairs)
	if err != nil {
		return rep, fmt.Errorf("pgo: check %s: %w", opts.Build, err)
	}
	rep.Control, rep.VsNone = cs[0], cs[1]
	rep.Precision = Precision(rep.Control.CPUPerOp)
	if math.IsInf(rep.Precision, 0) {
		rep.Precision = 0 // Judge says none without two rounds anyway
	}
	rep.Verdict = Judge(rep.VsNone.CPUPerOp, rep.Precision)
	if len(cs) > 2 {
		rep.VsCurrent = &cs[2]
		rep.VerdictCurrent = Judge(rep.VsCurrent.CPUPerOp, rep.Precision)
	}
	return rep, nil
}

func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// describeWorkload is the workload in one line: the command as configured and its load.
func describeWorkload(w Workload) string {
	load := "as fast as " + fmt.Sprint(max(w.Concurrency, 0)) + " connections go"
	if w.Concurrency == 0 {
		load = "as fast as 4 connections go"
	}
	if w.Rate > 0 {
		load = fmt.Sprintf("%d requests/s", w.Rate)
	}
	// The requests as path?query, and the hosts once: the query says what the load is (a URL's
	// query is cut where scratchkit prints or records a URL, in case it carries a credential).
	var reqs, hosts []string
	for _, s := range w.URLs {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			reqs = append(reqs, s)
			continue
		}
		reqs = append(reqs, u.RequestURI())
		if !slices.Contains(hosts, u.Host) {
			hosts = append(hosts, u.Host)
		}
	}
	on := ""
	if len(hosts) > 0 {
		on = " on " + strings.Join(hosts, ", ")
	}
	return fmt.Sprintf("%s; GET %s%s in turn, %s", strings.Join(w.Command, " "), strings.Join(reqs, ", "), on, load)
}

// CheckError is Decide's refusal: the profile measured worse, and the current file was kept.
type CheckError struct {
	Report CheckReport
	Than   string // "the current profile" or "no profile"
	Ratio  Ratio  // candidate over it, CPU per operation
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("pgo: check %s (pgo.check: enforce): the new profile %.12s costs %s CPU per operation than %s (%.3f, 95 %% interval %.3f–%.3f over %d rounds, beyond the A/A precision ±%.1f %% measured in the same run, %d CPUs): not placed; the profile in place is unchanged. Profile a workload closer to production (pgo.workload, pgo.endpoints), or set pgo.check: report to place it anyway",
		e.Report.Build, e.Report.Candidate, pct(e.Ratio.Mean), e.Than, e.Ratio.Mean, e.Ratio.Lo, e.Ratio.Hi, e.Ratio.N, 100*e.Report.Precision, e.Report.CPUs)
}

// pct says "4.1 % more" for a ratio of 1.041.
func pct(r float64) string {
	if r >= 1 {
		return fmt.Sprintf("%.1f %% more", 100*(r-1))
	}
	return fmt.Sprintf("%.1f %% less", 100*(1-r))
}

// Decide says whether a checked profile may be placed under mode: under enforce, a profile
// measurably worse than the current one (or, with none placed, than no profile) is refused with
// a *CheckError; report and off place whatever was measured.
func Decide(rep CheckReport, mode string) error {
	if mode != ModeEnforce {
		return nil
	}
	if rep.VsCurrent != nil {
		if rep.VerdictCurrent == VerdictLoss {
			return &CheckError{Report: rep, Than: "the current profile", Ratio: rep.VsCurrent.CPUPerOp}
		}
		return nil
	}
	if rep.Verdict == VerdictLoss {
		return &CheckError{Report: rep, Than: "no profile", Ratio: rep.VsNone.CPUPerOp}
	}
	return nil
}

// PlaceChecked places p as Place does once Decide allows it under mode; when Decide refuses,
// nothing is written and every existing profile stays byte for byte.
func PlaceChecked(p *profile.Profile, rep CheckReport, mode string, targets []Target, opts PlaceOptions) ([]Placement, error) {
	if err := Decide(rep, mode); err != nil {
		return nil, err
	}
	return Place(p, targets, opts)
}
