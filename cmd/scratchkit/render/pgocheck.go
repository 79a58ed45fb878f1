package render

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scratchkit/scratchkit/targets/pgo"
)

// PGOCheck prints what a profile was measured to buy: each comparison's CPU per operation and
// throughput ratios with their 95 % interval and range, the A/A precision, and the verdicts in
// plain words.
func PGOCheck(w io.Writer, r pgo.CheckReport) error {
	var b strings.Builder
	pin := "not pinned"
	if r.Pinned {
		pin = "both copies on one CPU"
	}
	cpu := ""
	if r.CPUModel != "" {
		cpu = ", " + r.CPUModel
	}
	fmt.Fprintf(&b, "PGO check of %s: profile %.12s, %d rounds of %s per comparison, two copies side by side (%s), %d CPUs%s\n",
		r.Build, r.Candidate, r.Rounds, r.Window, pin, r.CPUs, cpu)
	fmt.Fprintf(&b, "  workload: %s\n", r.Workload)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	cost := "CPU per operation"
	if r.Bench {
		cost = "ns/op (geometric mean)"
	}
	fmt.Fprintf(tw, "  \t%s\tratio [95 %% interval] (range)\tthroughput ratio\tCPU used\n", cost)
	row := func(title string, c pgo.Comparison) {
		fmt.Fprintf(tw, "  %s\t%s → %s\t%s\t%s\t%.0f%%\n", title,
			c.ACPUPerOp.Round(10*time.Nanosecond), c.BCPUPerOp.Round(10*time.Nanosecond), ratioText(c.CPUPerOp), ratioText(c.Throughput), 100*c.Utilization)
	}
	row("A/A control (none vs none)", r.Control)
	row("new profile vs none", r.VsNone)
	if r.VsCurrent != nil {
		row(fmt.Sprintf("new profile vs current %.12s", r.Current), *r.VsCurrent)
	}
	tw.Flush()
	fmt.Fprintf(&b, "  precision on this machine (A/A): ±%.1f%%\n", 100*r.Precision)
	fmt.Fprintf(&b, "  vs no profile: %s\n", verdictText(r.Verdict, r.VsNone.CPUPerOp, r.Precision))
	if r.VsCurrent != nil {
		fmt.Fprintf(&b, "  vs the current profile: %s\n", verdictText(r.VerdictCurrent, r.VsCurrent.CPUPerOp, r.Precision))
	}
	if r.Decision != "" {
		fmt.Fprintf(&b, "  decision: %s\n", decisionText(r.Decision))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ratioText(r pgo.Ratio) string {
	if r.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f [%.3f–%.3f] (%.3f–%.3f)", r.Mean, r.Lo, r.Hi, r.Min, r.Max)
}

// verdictText says a verdict of CPU per operation in plain words.
func verdictText(v pgo.Verdict, r pgo.Ratio, precision float64) string {
	switch v {
	case pgo.VerdictGain:
		return fmt.Sprintf("gain: %.1f%% less CPU per operation, beyond the ±%.1f%% precision", 100*(1-r.Mean), 100*precision)
	case pgo.VerdictLoss:
		return fmt.Sprintf("LOSS: %.1f%% more CPU per operation, beyond the ±%.1f%% precision", 100*(r.Mean-1), 100*precision)
	}
	return fmt.Sprintf("no measurable gain (%+.1f%% CPU per operation, inside the ±%.1f%% precision or an interval that reaches 1)", 100*(r.Mean-1), 100*precision)
}

func decisionText(d string) string {
	switch d {
	case "placed":
		return "placed"
	case "kept":
		return "not placed (pgo.check: enforce); the current profile is unchanged"
	case "measured":
		return "measured only (pgoCheck places nothing; pgo with pgo.check places)"
	}
	return d
}
