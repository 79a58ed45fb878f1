package signstage

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/pgo"
)

// The provenance of an image built with a checked profile carries what the check measured.
func TestProvenanceCarriesPGOCheck(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	rec := &artifacts.Artifacts{}
	rec.AddPGOCheck(pgo.CheckReport{Build: "docs", Candidate: strings.Repeat("00", 32), Verdict: pgo.VerdictNone})
	rec.AddPGOCheck(pgo.CheckReport{Build: "docs", Candidate: sha, CPUs: 2, Rounds: 6, Window: "3s", Precision: 0.02,
		Workload: "docs -addr 127.0.0.1:1; GET /transform", Verdict: pgo.VerdictGain, Decision: "placed",
		VsNone: pgo.Comparison{CPUPerOp: pgo.Ratio{Mean: 0.9, Lo: 0.88, Hi: 0.92, Min: 0.87, Max: 0.93, N: 6}}})
	bin := &artifacts.Binary{Name: "docs", PGO: "default.pgo", PGOSHA256: sha}
	got := pgoParameter(rec, bin)
	raw, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"sha256":"` + sha, `"verdict":"gain"`, `"precision":0.02`, `"cpu_per_op":{"mean":0.9`, `"cpus":2`, `"workload":"docs -addr`, `"decision":"placed"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("provenance pgo parameter %s lacks %s", raw, want)
		}
	}
	if strings.Contains(string(raw), "vs_previous") {
		t.Errorf("no previous profile was measured: %s", raw)
	}
	// A profile nobody checked: its file and digest only. No profile: nothing.
	bin.PGOSHA256 = strings.Repeat("cd", 32)
	if got := pgoParameter(rec, bin); got["check"] != nil || got["sha256"] != bin.PGOSHA256 {
		t.Errorf("unchecked profile: %v", got)
	}
	if got := pgoParameter(rec, &artifacts.Binary{Name: "docs"}); got != nil {
		t.Errorf("no profile: %v", got)
	}
}
