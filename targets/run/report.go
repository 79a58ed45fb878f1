package run

import (
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/lint"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// ProbeResult is the outcome of one probe run in a container.
type ProbeResult struct {
	Probe string `json:"probe"` // exit, http or start
	// Name is the probe's label (Probe.Name), e.g. the configuration key that set it.
	Name     string `json:"name,omitempty"`
	Passed   bool   `json:"passed"`
	ExitCode int    `json:"exit_code"` // -1 when the container did not exit (still running, or never started)
	// Detail says what happened: the exit code, the HTTP status, what was expected.
	Detail string `json:"detail"`
	// Output is the container's combined stdout and stderr (its tail when long).
	Output string `json:"output,omitempty"`
	// Diagnosis explains a known pitfall the output shows, with the fix; empty when none matched.
	Diagnosis string `json:"diagnosis,omitempty"`
	// Warning is what a passing probe should still be told (a non-zero exit on SIGTERM under
	// StopReport); empty when none.
	Warning string `json:"warning,omitempty"`
}

// PlatformReport is what Smoke found for one platform of an image.
type PlatformReport struct {
	Platform platform.Platform `json:"platform"`
	Digest   string            `json:"digest,omitempty"` // the platform image's manifest digest
	Findings []lint.Finding    `json:"findings"`
	// Ran is true when the image was run in a container; Runtime says with what.
	Ran     bool   `json:"ran"`
	Runtime string `json:"runtime,omitempty"`
	// Reason says why the image was not run (a foreign platform, smoke.runtime none, a failed
	// user check, no runtime) when Ran is false: such a platform was only checked statically.
	Reason string `json:"reason,omitempty"`
	// Capabilities are those the service's containers had (smoke.cap_add); none when it ran
	// with every capability dropped, as by default.
	Capabilities []string `json:"capabilities,omitempty"`
	// Network is "host" when the http probe ran in the host's network (smoke.network: host).
	Network string `json:"network,omitempty"`
	// Tmpfs are the writable directories the containers had ("/tmp (64.0 MiB)", "/data (volume,
	// 64.0 MiB)"); all else was the read-only root.
	Tmpfs []string `json:"tmpfs,omitempty"`
	// Note says more about how the platform ran: through qemu, a failed clean-up.
	Note   string        `json:"note,omitempty"`
	Probes []ProbeResult `json:"probes,omitempty"`
	// Error is a failure to check or run this platform at all (unreadable image, runtime error).
	Error string `json:"error,omitempty"`
}

// Failed reports whether a check failed, a probe failed, or the platform could not be checked.
func (p PlatformReport) Failed() bool {
	if p.Error != "" {
		return true
	}
	for _, f := range p.Findings {
		if f.Status == binary.StatusFail {
			return true
		}
	}
	for _, pr := range p.Probes {
		if !pr.Passed {
			return true
		}
	}
	return false
}

// Finding returns the finding of the named check.
func (p PlatformReport) Finding(check string) (lint.Finding, bool) {
	for _, f := range p.Findings {
		if f.Check == check {
			return f, true
		}
	}
	return lint.Finding{}, false
}

// Probe returns the result of the probe of that name (ProbeResult.Name), else the first of that
// kind (exit, http, start).
func (p PlatformReport) Probe(name string) (ProbeResult, bool) {
	for _, r := range p.Probes {
		if r.Name == name {
			return r, true
		}
	}
	for _, r := range p.Probes {
		if r.Probe == name {
			return r, true
		}
	}
	return ProbeResult{}, false
}

// Label is how reports name the probe: its kind, and its name when that says more.
func (r ProbeResult) Label() string {
	if r.Name != "" && r.Name != r.Probe {
		return r.Probe + " " + r.Name
	}
	return r.Probe
}

// Report is what Smoke found for one image.
type Report struct {
	Name      string           `json:"name"`
	Digest    string           `json:"digest,omitempty"` // of the image or index as given
	Platforms []PlatformReport `json:"platforms"`
}

// NotRun lists the platforms that were only checked statically, not run.
func (r Report) NotRun() []platform.Platform {
	var out []platform.Platform
	for _, p := range r.Platforms {
		if !p.Ran {
			out = append(out, p.Platform)
		}
	}
	return out
}

// Failed reports whether any platform failed.
func (r Report) Failed() bool {
	for _, p := range r.Platforms {
		if p.Failed() {
			return true
		}
	}
	return false
}

// Platform returns the report of one platform.
func (r Report) Platform(want platform.Platform) (PlatformReport, bool) {
	for _, p := range r.Platforms {
		if p.Platform == want {
			return p, true
		}
	}
	return PlatformReport{}, false
}
