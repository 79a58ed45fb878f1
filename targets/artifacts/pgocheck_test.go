package artifacts

import (
	"fmt"
	"testing"

	"github.com/scratchkit/scratchkit/targets/pgo"
)

func TestAddPGOCheck(t *testing.T) {
	var a Artifacts
	a.AddPGOCheck(pgo.CheckReport{Build: "docs", Candidate: "p1", Decision: "measured"})
	a.AddPGOCheck(pgo.CheckReport{Build: "docs", Candidate: "p2"})
	a.AddPGOCheck(pgo.CheckReport{Build: "docs", Candidate: "p1", Decision: "placed"}) // replaces the first
	if len(a.PGOChecks) != 2 || a.PGOChecks[1].Candidate != "p1" || a.PGOCheck("p1").Decision != "placed" {
		t.Fatalf("checks: %+v", a.PGOChecks)
	}
	if a.PGOCheck("") != nil || a.PGOCheck("p3") != nil {
		t.Fatal("found a check that was never made")
	}
	for i := 0; i < MaxPGOChecks+5; i++ {
		a.AddPGOCheck(pgo.CheckReport{Build: "docs", Candidate: fmt.Sprint("q", i)})
	}
	if len(a.PGOChecks) != MaxPGOChecks || a.PGOCheck(fmt.Sprint("q", MaxPGOChecks+4)) == nil || a.PGOCheck("p1") != nil {
		t.Fatalf("bound: %d kept", len(a.PGOChecks))
	}
}
