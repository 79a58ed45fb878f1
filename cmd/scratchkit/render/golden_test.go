package render_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/lint"
	"github.com/scratchkit/scratchkit/targets/pgo"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/run"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, byte for byte; -update rewrites the file.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what was printed:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// verifyReports cover every part of Verify's table: a pass, a failure with a size change and a
// breakdown, a caller's own check with a detail of several lines, warnings and notes, a file
// that could not be inspected, a non-Go file.
func verifyReports() []binary.Report {
	pass := func(check, value string) binary.Result {
		return binary.Result{Check: check, Status: binary.StatusPass, Value: value}
	}
	all := func(over ...binary.Result) []binary.Result {
		var out []binary.Result
		for _, c := range binary.CheckNames() {
			r := pass(c, "")
			switch c {
			case binary.CheckLinkage:
				r.Value = "static"
			case binary.CheckPIE:
				r = binary.Result{Check: c, Status: binary.StatusInfo, Value: "off", Detail: "not a PIE"}
			case binary.CheckSize:
				r = binary.Result{Check: c, Status: binary.StatusSkip, Value: "6.1 MiB", Detail: "no size budget set"}
			}
			for _, o := range over {
				if o.Check == c {
					r = o
				}
			}
			out = append(out, r)
		}
		return out
	}
	return []binary.Report{
		{Name: "hello", Platform: platform.MustParse("linux/amd64"), Format: binary.FormatELF, Size: 6 << 20, PrevSize: 6<<20 - 2048,
			GoVersion: "go1.26.0", PGO: "/src/cmd/hello/default.pgo", Tags: []string{"netgo", "osusergo"},
			Results: append(all(), binary.Result{Check: "vuln", Status: binary.StatusPass})},
		{Name: "debug", Platform: platform.MustParse("linux/arm64"), Format: binary.FormatELF, Size: 9 << 20, GoVersion: "go1.26.0", BuildMode: "pie",
			Results: append(all(
				binary.Result{Check: binary.CheckStripped, Status: binary.StatusFail, Value: "no", Detail: "not stripped: the binary carries DWARF debug information and the symbol table, " +
					"which a container never reads; it only makes the image larger and slower to pull. Fix: build with -ldflags=-s -w."},
				binary.Result{Check: binary.CheckSize, Status: binary.StatusFail, Value: "9.0 MiB", Detail: "debug is 1.0 MiB over the size budget"},
				binary.Result{Check: binary.CheckRELRO, Status: binary.StatusWarn, Value: "partial", Detail: "partial RELRO"},
				binary.Result{Check: binary.CheckPlatform, Status: binary.StatusNA},
			), binary.Result{Check: "vuln", Status: binary.StatusFail, Value: "2",
				Detail: "2 vulnerabilities:\nGO-2099-0001 in example.com/m v1.0.0\nGO-2099-0002 in example.com/m v1.0.0"}),
			Notes: []string{"built with -race"},
			Breakdown: &binary.Breakdown{Total: 9 << 20, PrevTotal: 8 << 20, Code: 3 << 20,
				Sections: []binary.SizeItem{{Name: ".debug_info", Size: 4 << 20, Prev: 3 << 20, HasPrev: true}, {Name: ".gopclntab", Size: 2 << 20}, {Name: "(headers and padding)", Size: 4096, Prev: 4096, HasPrev: true}},
				Packages: []binary.SizeItem{{Name: "runtime", Size: 1 << 20, Prev: 1 << 20, HasPrev: true}, {Name: "net/http", Size: 900 << 10}}}},
		{Name: "gone", Platform: platform.MustParse("linux/amd64"),
			Results: []binary.Result{{Check: binary.CheckInspect, Status: binary.StatusFail, Value: "error", Detail: "open dist/gone: no such file or directory"}}},
		{Name: "script", Format: binary.FormatPE, Size: 300,
			Results: []binary.Result{pass(binary.CheckLinkage, ""), {Check: binary.CheckCgo, Status: binary.StatusNA}}},
	}
}

func TestGoldenVerifyTable(t *testing.T) {
	for _, c := range []struct {
		name    string
		reports []binary.Report
		colour  bool
	}{
		{"verify.txt", verifyReports(), false},
		{"verify-colour.txt", verifyReports(), true},
		{"verify-pass-colour.txt", verifyReports()[:1], true},
		{"verify-none.txt", nil, false},
	} {
		var b bytes.Buffer
		if err := render.VerifyTable(&b, c.reports, c.colour); err != nil {
			t.Fatal(err)
		}
		golden(t, c.name, b.Bytes())
	}
}

func TestGoldenPush(t *testing.T) {
	h := func(c string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(c, 64)} }
	var b bytes.Buffer
	progress := render.PushProgress(&b)
	for _, e := range []publish.Event{
		{Image: "hello", Kind: publish.BlobSkipped, Digest: h("a"), Size: 10},
		{Image: "hello", Kind: publish.BlobUploaded, Digest: h("b"), Size: 3 << 20},
		{Image: "hello", Kind: publish.Bytes, Complete: 0, Total: 0},
		{Image: "hello", Kind: publish.Bytes, Complete: 1 << 20, Total: 4 << 20},
		{Image: "hello", Kind: publish.Bytes, Complete: 1<<20 + 1, Total: 4 << 20},
		{Image: "other", Kind: publish.Bytes, Complete: 4 << 20, Total: 4 << 20},
		{Image: "hello", Kind: publish.Bytes, Complete: 4 << 20, Total: 4 << 20},
		{Image: "hello", Kind: publish.Pushed, Ref: "r.example/hello@sha256:" + h("c").Hex, Uploaded: 1, Skipped: 1, Sent: 3 << 20},
		{Image: "hello", Kind: publish.Tagged, Ref: "r.example/hello:latest"},
		{Image: "hello", Kind: publish.Bytes, Complete: 0, Total: 10},
	} {
		progress(e)
	}
	golden(t, "push.txt", b.Bytes())

	b.Reset()
	results := []*publish.Result{
		{Name: "hello", Destination: publish.Registry, Digest: h("c"), Platforms: []platform.Platform{platform.MustParse("linux/amd64"), platform.MustParse("linux/arm64")}, Size: 5 << 20,
			PlatformSizes: map[platform.Platform]int64{platform.MustParse("linux/amd64"): 3 << 20, platform.MustParse("linux/arm64"): 2<<20 + 1}},
		nil,
		{Name: "hello", Destination: publish.Tarball, Digest: h("d"), Platforms: []platform.Platform{platform.MustParse("linux/amd64")}, Size: 3 << 20},
		{Name: "x", Destination: publish.Layout, Digest: h("e"), Size: 100},
	}
	if err := render.ImageTable(&b, results); err != nil {
		t.Fatal(err)
	}
	golden(t, "image.txt", b.Bytes())
}

func TestGoldenSmoke(t *testing.T) {
	out := strings.Repeat("line\n", 25) + "exec /ko-app/dyn: no such file or directory\n"
	reports := []run.Report{
		{Name: "dyn", Platforms: []run.PlatformReport{
			{Platform: platform.MustParse("linux/amd64"), Ran: true, Runtime: "runc", Network: run.NetworkHost, Tmpfs: []string{"/tmp (64.0 MiB)", "/data (volume, 64.0 MiB)"}, Note: "through qemu",
				Findings: []lint.Finding{
					{Check: lint.CheckLinkage, Status: binary.StatusFail, Detail: "dynamically linked\nFix: link it statically"},
					{Check: lint.CheckCARoots, Status: binary.StatusPass, Detail: "the static base has them"},
				},
				Probes: []run.ProbeResult{
					{Probe: "start", ExitCode: 1, Detail: "exited with code 1 at start", Output: out, Diagnosis: "the binary is there, but\nits loader is not"},
					{Probe: "http", Name: "health", Passed: true, Detail: "answered 200"},
					{Probe: "exit", Name: "exit", Passed: false, ExitCode: 2, Detail: "exited 2"},
				}},
			{Platform: platform.MustParse("linux/arm64"), Reason: "foreign platform", Findings: []lint.Finding{{Check: lint.CheckLinkage, Status: binary.StatusPass, Detail: "static"}}},
			{Platform: platform.MustParse("linux/riscv64"), Error: "unreadable image\nlayer 2 is truncated"},
		}},
		{Name: "ok", Platforms: []run.PlatformReport{{Platform: platform.MustParse("linux/amd64"), Ran: true, Runtime: "docker", Capabilities: []string{"CAP_NET_BIND_SERVICE"}}}},
		{Name: "half", Platforms: []run.PlatformReport{{Platform: platform.MustParse("linux/amd64"), Ran: true, Runtime: "docker"}, {Platform: platform.MustParse("linux/s390x")}}},
		{Name: "static", Platforms: []run.PlatformReport{{Platform: platform.MustParse("linux/s390x"), Reason: "smoke.runtime is none"}}},
	}
	var b bytes.Buffer
	if err := render.SmokeReport(&b, reports); err != nil {
		t.Fatal(err)
	}
	golden(t, "smoke.txt", b.Bytes())
}

func TestGoldenPGO(t *testing.T) {
	ms := time.Millisecond
	stale := pgo.StaleReport{Module: "example.com/m", Total: 1000e6, ModuleWeight: 400e6, Current: 0.5, Moved: 0.2, Changed: 0.1, Missing: 0.2,
		Functions: []pgo.StaleFunc{
			{Name: "main.a", File: "main.go", CurrentFile: "main.go", Share: 0.5, Status: pgo.StatusCurrent},
			{Name: "main.b", File: "main.go", Share: 0.2, Status: pgo.StatusMissing},
			{Name: "main.c", File: "main.go", CurrentFile: "other.go", Share: 0.2, Status: pgo.StatusMoved},
			{Name: "example.com/m/pkg.(*T).M", File: "pkg/t.go", CurrentFile: "pkg/t.go", Share: 0.1, Status: pgo.StatusChanged},
		}}
	r := pgo.Report{
		Inputs: []pgo.Input{
			{Source: "http://10.0.0.1:6060/debug/pprof/profile?seconds=30", Kind: "endpoint", Samples: 2900, CPU: 29123456789, Duration: 30 * time.Second, Scale: 1},
			{Source: "profiles/old.pprof", Kind: "file", Samples: 10, CPU: 100 * ms, Duration: time.Second, Scale: 0.0333333},
			{Source: "workload: ./bin/load", Kind: "workload", Samples: 500, CPU: 5 * time.Second, Duration: 10 * time.Second, Scale: 2.5,
				Load: &pgo.LoadResult{Requests: 1200, Errors: 3, Elapsed: 10 * time.Second}},
			{Source: "http://10.0.0.2:6060/", Kind: "endpoint", Err: errors.New("http://10.0.0.2:6060/: connection refused")},
		},
		Used: 3, Samples: 3410, CPU: 34223456789, Duration: 41 * time.Second,
		Flat: []pgo.FuncShare{{Name: "main.digest", CPU: 12 * time.Second, Share: 0.35}, {Name: "runtime.mallocgc", CPU: 3*time.Second + 400*ms, Share: 0.1}},
		Cum:  []pgo.FuncShare{{Name: "runtime.goexit", CPU: 34 * time.Second, Share: 1}, {Name: "main.main", CPU: 20 * time.Second, Share: 0.584}},
	}
	for _, c := range []struct {
		name  string
		stale *pgo.StaleReport
	}{{"pgo.txt", nil}, {"pgo-stale.txt", &stale}, {"pgo-nomodule.txt", &pgo.StaleReport{Module: "example.com/m"}}} {
		r := r
		r.Stale = c.stale
		var b bytes.Buffer
		if err := render.PGOReport(&b, r); err != nil {
			t.Fatal(err)
		}
		golden(t, c.name, b.Bytes())
	}
	var b bytes.Buffer
	if err := render.PGOReport(&b, pgo.Report{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "pgo-empty.txt", b.Bytes())
}

func TestGoldenPGOCheck(t *testing.T) {
	ratio := func(mean, lo, hi, min, max float64) pgo.Ratio {
		return pgo.Ratio{Mean: mean, Lo: lo, Hi: hi, Min: min, Max: max, N: 6}
	}
	cmp := func(a, b string, cpu, tput pgo.Ratio, ac, bc time.Duration) pgo.Comparison {
		return pgo.Comparison{A: a, B: b, CPUPerOp: cpu, Throughput: tput, ACPUPerOp: ac, BCPUPerOp: bc, AThroughput: 9000, BThroughput: 9800, Utilization: 0.97}
	}
	base := pgo.CheckReport{
		Build: "docs", Candidate: "0123456789abcdef0123", CPUs: 2, CPUModel: "AMD EPYC", Pinned: true, Rounds: 6, Window: "3s",
		Workload:  "docs -addr 127.0.0.1:18090; GET /transform?n=4 on 127.0.0.1:18090 in turn, as fast as 4 connections go",
		Control:   cmp("none", "none", ratio(1.004, 0.990, 1.018, 0.982, 1.030), ratio(0.998, 0.985, 1.011, 0.97, 1.02), 52340*time.Nanosecond, 52551*time.Nanosecond),
		Precision: 0.018,
		VsNone:    cmp("none", "candidate", ratio(0.874, 0.860, 0.889, 0.851, 0.897), ratio(1.140, 1.120, 1.161, 1.10, 1.18), 52340*time.Nanosecond, 45745*time.Nanosecond),
		Verdict:   pgo.VerdictGain, Decision: "placed",
	}
	var b bytes.Buffer
	if err := render.PGOCheck(&b, base); err != nil {
		t.Fatal(err)
	}
	golden(t, "pgocheck-gain.txt", b.Bytes())

	kept := base
	kept.Current = "fedcba9876543210fedc"
	vs := cmp("current", "candidate", ratio(1.082, 1.061, 1.103, 1.05, 1.11), ratio(0.925, 0.91, 0.94, 0.90, 0.95), 45745*time.Nanosecond, 49496*time.Nanosecond)
	kept.VsCurrent, kept.VerdictCurrent, kept.Decision = &vs, pgo.VerdictLoss, "kept"
	kept.VsNone.CPUPerOp, kept.Verdict = ratio(0.995, 0.980, 1.010, 0.97, 1.02), pgo.VerdictNone
	b.Reset()
	if err := render.PGOCheck(&b, kept); err != nil {
		t.Fatal(err)
	}
	golden(t, "pgocheck-kept.txt", b.Bytes())
}
