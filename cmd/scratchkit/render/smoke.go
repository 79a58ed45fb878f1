package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/run"
)

// maxReportLines is how much of a failed probe's output SmokeReport shows.
const maxReportLines = 20

// SmokeReport prints what Smoke found as indented plain text: per image and platform, every
// check and probe, and for failures the detail, the output's tail and the diagnosis.
func SmokeReport(w io.Writer, reports []run.Report) error {
	var b strings.Builder
	for _, r := range reports {
		verdict := "ok"
		notRun := r.NotRun()
		switch {
		case r.Failed():
			verdict = "FAILED"
		case len(notRun) == len(r.Platforms):
			verdict = "statically checked only, not run"
		case len(notRun) > 0:
			verdict = fmt.Sprintf("ok where it ran; %s not run, statically checked only", strings.Join(platform.Strings(notRun), ", "))
		}
		fmt.Fprintf(&b, "smoke %s: %s\n", r.Name, verdict)
		for _, p := range r.Platforms {
			how := "NOT RUN, statically checked only"
			if p.Ran {
				how = "ran with " + p.Runtime + ", capabilities: none"
				if len(p.Capabilities) > 0 {
					how = "ran with " + p.Runtime + ", capabilities: " + strings.Join(p.Capabilities, ", ") + " (smoke.cap_add)"
				}
			} else if p.Reason != "" {
				how += ": " + p.Reason
			}
			if p.Network == run.NetworkHost {
				how += ", http probe on the host network (smoke.network: host)"
			}
			if len(p.Tmpfs) > 0 {
				how += ", writable tmpfs " + strings.Join(p.Tmpfs, ", ")
			}
			if p.Note != "" {
				how += " (" + p.Note + ")"
			}
			fmt.Fprintf(&b, "  %s: %s\n", p.Platform, how)
			if p.Error != "" {
				fmt.Fprintf(&b, "    ERROR %s\n", indent(p.Error, "          "))
			}
			for _, f := range p.Findings {
				fmt.Fprintf(&b, "    %-4s  %-10s  %s\n", f.Status, f.Check, indent(f.Detail, "                      "))
			}
			for _, pr := range p.Probes {
				st := "pass"
				if !pr.Passed {
					st = "FAIL"
				}
				fmt.Fprintf(&b, "    %-4s  probe %-4s  %s\n", st, pr.Label(), indent(pr.Detail, "                      "))
				if pr.Warning != "" {
					fmt.Fprintf(&b, "    warn  probe %-4s  %s\n", pr.Label(), indent(pr.Warning, "                      "))
				}
				if pr.Passed {
					continue
				}
				if out := tailLines(pr.Output, maxReportLines); out != "" {
					fmt.Fprintf(&b, "          output:\n")
					for _, l := range strings.Split(out, "\n") {
						fmt.Fprintf(&b, "            | %s\n", l)
					}
				}
				if pr.Diagnosis != "" {
					fmt.Fprintf(&b, "          diagnosis: %s\n", indent(pr.Diagnosis, "                     "))
				}
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
