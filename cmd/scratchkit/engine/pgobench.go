package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/pgo"
)

// A library's workload (pgo.workload.bench): the variants are test binaries of the package,
// built by `go test -c` through the run's go command and environment, as builds are.

// benchWorkload is the pgo.Bench of pgo.workload.bench, its package's directory resolved.
func (e *Run) benchWorkload(ctx context.Context, b *config.Bench, env []string) (*pgo.Bench, error) {
	if strings.HasPrefix(b.Package, "-") { // validated; a flag must never reach go test
		return nil, e.Config.Errorf("pgo.workload.bench.package", "%q: a flag, not a package", b.Package)
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", b.Package)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = e.Dir, env, &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, e.Config.Errorf("pgo.workload.bench.package", "%q: go list: %v: %s", b.Package, err, strings.TrimSpace(errb.String()))
	}
	dir := strings.TrimSpace(out.String())
	if dir == "" || strings.Contains(dir, "\n") {
		return nil, e.Config.Errorf("pgo.workload.bench.package", "%q names %d packages: want one", b.Package, strings.Count(dir, "\n")+1)
	}
	return &pgo.Bench{Package: b.Package, Dir: dir, Pattern: b.Pattern, Benchtime: b.Benchtime, Env: e.Config.PGO.Workload.Env}, nil
}

// testBinary builds the package's test binary as dist/pgo/check/<name>.test with -pgo=profile.
func (e *Run) testBinary(ctx context.Context, b *pgo.Bench, name, profile string, env []string) (string, error) {
	dir := filepath.Join(e.DistDir(), "pgo", "check")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bench."+name+".test")
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "-pgo="+profile, b.Package)
	var errb bytes.Buffer
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = e.Dir, env, &errb, &errb
	if e.Verbose {
		cmd.Stderr = stderr
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go test -c -pgo=%s %s (pgo.workload.bench.package): %v: %s", e.Rel(profile), b.Package, err, strings.TrimSpace(errb.String()))
	}
	if !fileExists(bin) {
		return "", e.Config.Errorf("pgo.workload.bench.package", "%q has no test files: go test -c wrote no test binary", b.Package)
	}
	return bin, nil
}

// benchProfile builds the package's test binary without a profile and profiles its
// benchmarks for pgo.seconds each: the file that goes into Collect.
func (e *Run) benchProfile(ctx context.Context, w *config.Workload) (string, error) {
	env, err := e.GoEnviron(ctx)
	if err != nil {
		return "", err
	}
	b, err := e.benchWorkload(ctx, w.Bench, env)
	if err != nil {
		return "", err
	}
	bin, err := e.testBinary(ctx, b, "none", "off", env)
	if err != nil {
		return "", err
	}
	out := filepath.Join(e.DistDir(), "pgo", "check", "bench.pprof")
	d := time.Duration(max(e.Config.PGO.Seconds, 1)) * time.Second
	e.UI.Info("pgo: profiling go test -bench %s %s, each benchmark for %s", b.Pattern, b.Package, d)
	if err := pgo.ProfileBench(ctx, b, bin, out, d); err != nil {
		return "", err
	}
	return out, nil
}

// benchVariants builds the package's test binary without a profile, with the candidate p and,
// when one is placed for the first of the targets, with that one.
func (e *Run) benchVariants(ctx context.Context, w *config.Workload, data []byte, targets []pgo.Target) (pgo.CheckOptions, error) {
	var out pgo.CheckOptions
	env, err := e.GoEnviron(ctx)
	if err != nil {
		return out, err
	}
	b, err := e.benchWorkload(ctx, w.Bench, env)
	if err != nil {
		return out, err
	}
	dir := filepath.Join(e.DistDir(), "pgo", "check")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return out, err
	}
	candidate := filepath.Join(dir, "candidate.pgo")
	if err := atomicfile.WriteFile(candidate, data, 0o644); err != nil {
		return out, err
	}
	current := ""
	for _, t := range targets {
		if p := filepath.Join(t.MainDir, pgo.DefaultFile); t.InModule && fileExists(p) {
			current = p
			break
		}
	}
	e.UI.Info("pgo: check: building the test binary of %s without a profile, with the new one%s", b.Package, map[bool]string{true: " and with " + e.Rel(current)}[current != ""])
	none, err := e.testBinary(ctx, b, "none", "off", env)
	if err != nil {
		return out, err
	}
	cand, err := e.testBinary(ctx, b, "candidate", candidate, env)
	if err != nil {
		return out, err
	}
	out.Build = b.Package
	out.None = pgo.Variant{Name: "none", Binary: none}
	out.Candidate = pgo.Variant{Name: "candidate", Binary: cand, Profile: sha256Hex(data)}
	if current != "" {
		cur, err := os.ReadFile(current)
		if err != nil {
			return out, err
		}
		bin, err := e.testBinary(ctx, b, "current", current, env)
		if err != nil {
			return out, err
		}
		out.Current = &pgo.Variant{Name: "current", Binary: bin, Profile: sha256Hex(cur)}
	}
	out.Measure.Bench = b
	return out, nil
}
