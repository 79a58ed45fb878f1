package render_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/lint"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/run"
)

// SmokeReport shows every check and, for a failed probe, its output tail and diagnosis.
func TestSmokeReport(t *testing.T) {
	out := strings.Repeat("line\n", 30) + "exec /ko-app/dyn: no such file or directory\n"
	rep := run.Report{Name: "dyn", Platforms: []run.PlatformReport{
		{Platform: platform.MustParse("linux/amd64"), Ran: true, Runtime: "runc",
			Findings: []lint.Finding{{Check: lint.CheckLinkage, Status: binary.StatusFail, Detail: "dynamically linked"}},
			Probes:   []run.ProbeResult{{Probe: "start", ExitCode: 1, Detail: "exited with code 1 at start", Output: out, Diagnosis: run.Diagnose(out)}}},
		{Platform: platform.MustParse("linux/arm64"), Reason: "foreign platform", Findings: []lint.Finding{{Check: lint.CheckLinkage, Status: binary.StatusPass, Detail: "static"}}},
	}}
	var buf bytes.Buffer
	if err := render.SmokeReport(&buf, []run.Report{rep}); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for _, want := range []string{"smoke dyn: FAILED", "linux/amd64: ran with runc", "fail  linkage", "FAIL  probe start",
		"| exec /ko-app/dyn: no such file or directory", "(11 earlier lines)", "diagnosis: /ko-app/dyn is there",
		"linux/arm64: NOT RUN, statically checked only: foreign platform"} {
		if !strings.Contains(s, want) {
			t.Errorf("report does not say %q:\n%s", want, s)
		}
	}
	if !rep.Failed() || rep.Platforms[1].Failed() {
		t.Errorf("Failed: report %v, foreign platform %v", rep.Failed(), rep.Platforms[1].Failed())
	}

	// Without the failure, the verdict still says that a platform did not run.
	rep.Platforms[0].Findings[0].Status, rep.Platforms[0].Probes[0].Passed = binary.StatusPass, true
	buf.Reset()
	if err := render.SmokeReport(&buf, []run.Report{rep}); err != nil {
		t.Fatal(err)
	}
	if want := "smoke dyn: ok where it ran; linux/arm64 not run, statically checked only"; !strings.Contains(buf.String(), want) {
		t.Errorf("report does not say %q:\n%s", want, buf.String())
	}
	if got := rep.NotRun(); len(got) != 1 || got[0].String() != "linux/arm64" {
		t.Errorf("NotRun = %v", got)
	}
}
