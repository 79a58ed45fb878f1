package pgo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// report is a synthetic check: candidate/none and candidate/current CPU ratios per round, an
// A/A control of ±1 %.
func report(vsNone, vsCurrent []float64) CheckReport {
	aa := RatioOf([]float64{1.01, 0.99, 1.01, 0.99, 1.005, 0.995})
	rep := CheckReport{Build: "hello", Candidate: strings.Repeat("c", 64), CPUs: 2, Rounds: 6,
		Control: Comparison{A: "none", B: "none", CPUPerOp: aa}, Precision: Precision(aa)}
	rep.VsNone = Comparison{A: "none", B: "candidate", CPUPerOp: RatioOf(vsNone)}
	rep.Verdict = Judge(rep.VsNone.CPUPerOp, rep.Precision)
	if vsCurrent != nil {
		rep.Current = strings.Repeat("a", 64)
		rep.VsCurrent = &Comparison{A: "current", B: "candidate", CPUPerOp: RatioOf(vsCurrent)}
		rep.VerdictCurrent = Judge(rep.VsCurrent.CPUPerOp, rep.Precision)
	}
	return rep
}

var (
	slower = []float64{1.08, 1.09, 1.07, 1.08, 1.10, 1.08}
	faster = []float64{0.92, 0.91, 0.93, 0.92, 0.90, 0.92}
	same   = []float64{1.0, 0.995, 1.005, 1.0, 0.995, 1.005}
)

func TestDecide(t *testing.T) {
	cases := []struct {
		name            string
		mode            string
		vsNone, vsCur   []float64
		refused         bool
		than, inMessage string
	}{
		{"enforce: worse than the current", ModeEnforce, faster, slower, true, "the current profile", "8.3 % more"},
		{"enforce: worse than none, none placed", ModeEnforce, slower, nil, true, "no profile", "8.3 % more"},
		{"enforce: worse than none, but not than the current", ModeEnforce, slower, same, false, "", ""},
		{"enforce: no measurable difference", ModeEnforce, same, same, false, "", ""},
		{"enforce: better", ModeEnforce, faster, faster, false, "", ""},
		{"report places a worse profile", ModeReport, slower, slower, false, "", ""},
		{"off", ModeOff, slower, slower, false, "", ""},
	}
	for _, c := range cases {
		err := Decide(report(c.vsNone, c.vsCur), c.mode)
		var ce *CheckError
		if got := errors.As(err, &ce); got != c.refused {
			t.Errorf("%s: refused %v, want %v (%v)", c.name, got, c.refused, err)
			continue
		}
		if !c.refused {
			continue
		}
		msg := err.Error()
		for _, want := range []string{c.than, c.inMessage, "pgo.check: enforce", "hello", "precision ±1.", "unchanged", "pgo.check: report"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q does not say %q", c.name, msg, want)
			}
		}
	}
}

// TestEnforceKeepsGoodProfile: handed a profile of an unrelated workload that measured slower
// than the placed one, enforce writes nothing, and the error says why with the figures.
func TestEnforceKeepsGoodProfile(t *testing.T) {
	dir := t.TempDir()
	good := realProfile(t)
	data, err := Encode(good)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, DefaultFile)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	// The unrelated profile: a valid profile of the module, hot somewhere else entirely.
	unrelated := synth([][]string{{"main.main", helloModule + "/other.unrelated"}}, []int64{5000}, synthOpts{})
	targets := []Target{{Build: "hello", MainDir: dir, InModule: true}}
	_, err = PlaceChecked(unrelated, report(slower, slower), ModeEnforce, targets, PlaceOptions{MainModule: helloModule})
	var ce *CheckError
	if !errors.As(err, &ce) || ce.Than != "the current profile" {
		t.Fatalf("enforce placed a slower profile: %v", err)
	}
	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(after, data) {
		t.Fatalf("default.pgo changed: %v", err)
	}
	if st, _ := os.Stat(path); !st.ModTime().Equal(before.ModTime()) {
		t.Fatal("default.pgo was rewritten")
	}
	// Under report, the same profile is placed.
	if _, err := PlaceChecked(good, report(slower, slower), ModeReport, targets, PlaceOptions{MainModule: helloModule}); err != nil {
		t.Fatalf("report: %v", err)
	}
}

// TestCheckRunsSideBySide runs the whole check on the example with tiny windows: it asserts the
// shape of the report (rounds, operations, CPU counted for both copies, fresh ports so the
// copies run at once), never a timing.
func TestCheckRunsSideBySide(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU time per operation is read from /proc")
	}
	bin := hello(t)
	svc := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dbg := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	var logged []string
	rep, err := Check(context.Background(), CheckOptions{
		Build: "hello",
		Measure: MeasureOptions{
			Workload: Workload{
				Command: []string{"hello", "-addr", svc, "-debug-addr", dbg},
				Ready:   "http://" + svc + "/healthz",
				URLs:    []string{"http://" + svc + "/work?n=10", "http://" + svc + "/healthz"},
			},
			Addrs:  []string{svc, dbg},
			Rounds: 2, Warmup: -1, Duration: 200 * time.Millisecond,
			Log: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) },
		},
		None:      Variant{Name: "none", Binary: bin},
		Candidate: Variant{Name: "candidate", Binary: bin, Profile: "c0ffee"},
		Current:   &Variant{Name: "current", Binary: bin, Profile: "beef"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Comparison{rep.Control, rep.VsNone, *rep.VsCurrent} {
		if len(c.Rounds) != 2 || c.CPUPerOp.N != 2 || c.Throughput.N != 2 {
			t.Fatalf("%s vs %s: %d rounds, ratios %+v %+v", c.B, c.A, len(c.Rounds), c.CPUPerOp, c.Throughput)
		}
		for _, r := range c.Rounds {
			if r.A.Ops == 0 || r.B.Ops == 0 || r.A.CPU <= 0 || r.B.CPU <= 0 {
				t.Fatalf("%s vs %s: a copy did nothing: %+v", c.B, c.A, r)
			}
		}
		if !c.Rounds[1].BFirst || c.Rounds[0].BFirst {
			t.Fatalf("slots did not alternate: %+v", c.Rounds)
		}
	}
	if rep.Candidate != "c0ffee" || rep.Current != "beef" || rep.CPUs < 1 || rep.Rounds != 2 || rep.Verdict == "" || rep.VerdictCurrent == "" {
		t.Fatalf("report: %+v", rep)
	}
	if !strings.Contains(rep.Workload, "/work?n=10") || len(logged) != 6 {
		t.Fatalf("workload %q, %d log lines", rep.Workload, len(logged))
	}
}
