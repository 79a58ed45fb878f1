package pgo

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const benchOut = `goos: linux
goarch: amd64
pkg: example.com/lib/parser
cpu: AMD EPYC
BenchmarkParse        	  104914	      1200 ns/op	     512 B/op	       3 allocs/op
BenchmarkParse/small  	 5469781	        22.5 ns/op
    parser_test.go:12: a benchmark's log line 7 ns/op
BenchmarkCustom       	    1000	       7.0 widgets/op
--- BENCH: BenchmarkParse
ok  	example.com/lib/parser	1.2s
PASS
`

func TestParseBench(t *testing.T) {
	got, err := ParseBench([]byte(benchOut))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["BenchmarkParse"].NsPerOp != 1200 || got["BenchmarkParse"].N != 104914 || got["BenchmarkParse/small"].NsPerOp != 22.5 {
		t.Fatalf("parsed %+v", got)
	}
	for _, c := range []struct{ out, want string }{
		{"BenchmarkA 10 5 ns/op\nBenchmarkA 10 6 ns/op\n", "BenchmarkA reported twice"},
		{"BenchmarkZero 10 0 ns/op\n", "BenchmarkZero"},
		{"BenchmarkBad 10 x ns/op\n", "BenchmarkBad"},
	} {
		if _, err := ParseBench([]byte(c.out)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error naming %s", c.out, err, c.want)
		}
	}
	// A line longer than the scanner's limit is an error, not a hang or a silent cut.
	if _, err := ParseBench([]byte("BenchmarkX 1 " + strings.Repeat("9", 2<<20) + " ns/op\n")); err == nil {
		t.Error("a 2 MiB line parsed")
	}
}

func TestBenchRatio(t *testing.T) {
	a := map[string]BenchResult{"BenchmarkA": {NsPerOp: 100}, "BenchmarkB": {NsPerOp: 10}}
	b := map[string]BenchResult{"BenchmarkA": {NsPerOp: 50}, "BenchmarkB": {NsPerOp: 20}}
	r, err := BenchRatio(a, b)
	if err != nil || math.Abs(r-1) > 1e-12 { // sqrt(0.5 × 2)
		t.Fatalf("ratio %v, %v; want 1", r, err)
	}
	b["BenchmarkB"] = BenchResult{NsPerOp: 5}
	if r, _ := BenchRatio(a, b); math.Abs(r-0.5) > 1e-12 {
		t.Fatalf("ratio %v, want 0.5", r)
	}
	delete(b, "BenchmarkB")
	if _, err := BenchRatio(a, b); err == nil || !strings.Contains(err.Error(), "BenchmarkB ran only in the first") {
		t.Fatalf("a benchmark missing from B: %v", err)
	}
	if _, err := BenchRatio(b, a); err == nil || !strings.Contains(err.Error(), "BenchmarkB ran only in the second") {
		t.Fatalf("a benchmark missing from A: %v", err)
	}
	// The comparison's figures come from the rounds' ratios through the same statistics.
	c := Comparison{Rounds: []RoundResult{
		{A: Window{Bench: a}, B: Window{Bench: map[string]BenchResult{"BenchmarkA": {NsPerOp: 90}}}},
		{A: Window{Bench: a}, B: Window{Bench: map[string]BenchResult{"BenchmarkA": {NsPerOp: 110}}}},
	}}
	for i := range c.Rounds {
		c.Rounds[i].A.Bench = map[string]BenchResult{"BenchmarkA": {NsPerOp: 100}}
	}
	summarizeComparison(&c)
	want := RatioOf([]float64{0.9, 1.1})
	if c.CPUPerOp != want || c.CPUPerOp.N != 2 || math.Abs(c.Throughput.Mean*c.CPUPerOp.Mean-1) > 1e-12 || c.ACPUPerOp != 100 {
		t.Fatalf("summary %+v, want cost %+v", c, want)
	}
}

func TestCappedOutput(t *testing.T) {
	stops := 0
	c := &capped{max: 10, onOver: func() { stops++ }}
	if n, _ := c.Write([]byte("0123456789abc")); n != 13 || !c.over || c.buf.Len() != 10 {
		t.Fatalf("wrote %d, over %v, kept %d", n, c.over, c.buf.Len())
	}
	c.Write([]byte("more"))
	if stops != 1 || c.buf.Len() != 10 {
		t.Fatalf("stopped %d times, kept %d", stops, c.buf.Len())
	}
}

// TestBenchOutputBounded: a "test binary" that floods its output is stopped and refused, with
// the package and pattern named, without holding more than MaxBenchOutput.
func TestBenchOutputBounded(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("uses sh and yes")
	}
	flood := filepath.Join(t.TempDir(), "flood.test")
	if err := os.WriteFile(flood, []byte("#!/bin/sh\nexec yes BenchmarkX\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := &Bench{Package: "./flood", Dir: t.TempDir(), Pattern: "X"}
	_, err := runBench(context.Background(), b, "", Variant{Name: "none", Binary: flood}, time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "more than 4 MiB") || !strings.Contains(err.Error(), "bench X in ./flood") {
		t.Fatalf("flood: %v", err)
	}
}

// TestCheckRunsBenchmarks runs the whole check on the tiny library under testdata with tiny
// benchmark windows: it asserts the report's shape, never a timing.
func TestCheckRunsBenchmarks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a test binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "benchlib.test")
	build := exec.Command("go", "test", "-c", "-o", bin, "-pgo=off", "./testdata/benchlib")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var logged []string
	opts := CheckOptions{
		Build: "benchlib",
		Measure: MeasureOptions{
			Bench:  &Bench{Package: "./testdata/benchlib", Dir: "testdata/benchlib", Pattern: "Sum"},
			Rounds: 2, Duration: 20 * time.Millisecond,
			Log: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) },
		},
		None:      Variant{Name: "none", Binary: bin},
		Candidate: Variant{Name: "candidate", Binary: bin, Profile: "c0ffee"},
	}
	rep, err := Check(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Comparison{rep.Control, rep.VsNone} {
		if len(c.Rounds) != 2 || c.CPUPerOp.N != 2 || c.Throughput.N != 2 || c.ACPUPerOp <= 0 || c.BCPUPerOp <= 0 {
			t.Fatalf("%s vs %s: %d rounds, %+v", c.B, c.A, len(c.Rounds), c)
		}
		for _, r := range c.Rounds {
			if len(r.A.Bench) != 2 || len(r.B.Bench) != 2 || r.A.Ops == 0 || (runtime.GOOS == "linux" && r.A.CPU <= 0) {
				t.Fatalf("%s vs %s: a round %+v", c.B, c.A, r)
			}
		}
		if !c.Rounds[1].BFirst || c.Rounds[0].BFirst {
			t.Fatalf("slots did not alternate")
		}
	}
	if rep.VsCurrent != nil || rep.Verdict == "" || !strings.Contains(rep.Workload, "go test -bench Sum ./testdata/benchlib") || rep.Window != "20ms" || len(logged) != 4 {
		t.Fatalf("report %+v, %d log lines", rep, len(logged))
	}
	// A pattern that matches nothing names the pattern.
	opts.Measure.Bench.Pattern = "NoSuch"
	if _, err := Check(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "-test.bench=NoSuch") {
		t.Fatalf("no benchmark: %v", err)
	}
}
