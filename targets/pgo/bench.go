package pgo

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scratchkit/scratchkit/internal/secrets"
)

// MaxBenchOutput bounds what Measure reads of one benchmark run's standard output: a run of
// the standard testing package prints one short line per benchmark, so more than this is not a
// benchmark's output, and the round fails instead of holding it.
const MaxBenchOutput = 4 << 20

// Bench is a library's workload: benchmarks of a test binary built with `go test -c`, run with
// -test.run=^$ -test.bench=Pattern -test.benchtime=Benchtime -test.count=1 -test.cpu=1 in Dir.
// Each Variant's Binary is then a test binary of Package.
type Bench struct {
	Package   string // the package, as configured (./parser): for reports and errors
	Dir       string // the package's directory, where the test binary runs (as go test runs it)
	Pattern   string // -test.bench
	Benchtime string // -test.benchtime: a duration (3s) or a count (1000x); empty: the window
	Env       []string
}

// args are the test binary's flags for one measured run of d (when Benchtime is empty).
func (b *Bench) args(d time.Duration) []string {
	bt := b.Benchtime
	if bt == "" {
		bt = d.String()
	}
	return []string{"-test.run=^$", "-test.bench=" + b.Pattern, "-test.benchtime=" + bt, "-test.count=1", "-test.cpu=1"}
}

// describe is the benchmark workload in one line.
func (b *Bench) describe(d time.Duration) string {
	return fmt.Sprintf("go test -bench %s %s (%s)", b.Pattern, b.Package, strings.Join(b.args(d)[2:], " "))
}

// BenchResult is one benchmark line of `go test -bench` output.
type BenchResult struct {
	Name    string
	N       int64   // iterations
	NsPerOp float64 // ns/op
}

// ParseBench reads the standard benchmark lines of a test binary's output ("BenchmarkX  N
// 123 ns/op [more value unit pairs]"), keyed by name; every other line (PASS, goos:, a test's
// log) is ignored. A benchmark that reports twice, or a non-positive ns/op, is an error naming it.
func ParseBench(out []byte) (map[string]BenchResult, error) {
	res := map[string]BenchResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || n <= 0 {
			continue
		}
		ns, found := 0.0, false
		for i := 2; i+1 < len(f); i += 2 {
			if f[i+1] == "ns/op" {
				if ns, err = strconv.ParseFloat(f[i], 64); err != nil {
					return nil, fmt.Errorf("%s: ns/op %q: %v", f[0], f[i], err)
				}
				found = true
			}
		}
		if !found {
			continue
		}
		if !(ns > 0) || math.IsInf(ns, 0) {
			return nil, fmt.Errorf("%s: %v ns/op: a ratio needs a positive time per operation", f[0], f[2])
		}
		if _, dup := res[f[0]]; dup {
			return nil, fmt.Errorf("%s reported twice (want one run of each: -test.count=1)", f[0])
		}
		res[f[0]] = BenchResult{Name: f[0], N: n, NsPerOp: ns}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("benchmark output: %v", err)
	}
	return res, nil
}

// BenchRatio is one round's cost ratio of B over A: the geometric mean over the benchmarks of
// B's ns/op over A's. A benchmark that only one side reported is an error naming it; so is
// none at all.
func BenchRatio(a, b map[string]BenchResult) (float64, error) {
	if len(a) == 0 && len(b) == 0 {
		return 0, fmt.Errorf("no benchmark ran")
	}
	names := benchNames(a, b)
	var sum float64
	for _, n := range names {
		ra, okA := a[n]
		rb, okB := b[n]
		switch {
		case !okA:
			return 0, fmt.Errorf("%s ran only in the second variant", n)
		case !okB:
			return 0, fmt.Errorf("%s ran only in the first variant", n)
		}
		sum += math.Log(rb.NsPerOp / ra.NsPerOp)
	}
	return math.Exp(sum / float64(len(names))), nil
}

// benchGeomean is the geometric mean of the ns/op of rs (0 for none).
func benchGeomean(rs map[string]BenchResult) float64 {
	if len(rs) == 0 {
		return 0
	}
	var sum float64
	for _, r := range rs {
		sum += math.Log(r.NsPerOp)
	}
	return math.Exp(sum / float64(len(rs)))
}

func benchNames(ms ...map[string]BenchResult) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for n := range m {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// benchRound runs both variants' benchmarks at once, on the pinned CPU, and reads each one's
// ns/op; the Windows carry them, the iterations (Ops), the wall time and the CPU time.
func benchRound(ctx context.Context, opts *MeasureOptions, pin string, vs [2]Variant) ([2]Window, error) {
	var ws [2]Window
	var errs [2]error
	var wg sync.WaitGroup
	b := opts.Bench
	d := durationOr(opts.Duration, DefaultCheckDuration)
	for i, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws[i], errs[i] = runBench(ctx, b, pin, v, d)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return ws, err
		}
	}
	if _, err := BenchRatio(ws[0].Bench, ws[1].Bench); err != nil {
		return ws, because(ErrWorkload, "bench %s in %s: %s vs %s: %v", b.Pattern, b.Package, vs[0].Name, vs[1].Name, err)
	}
	return ws, nil
}

// runBench runs one variant's test binary once.
func runBench(ctx context.Context, b *Bench, pin string, v Variant, d time.Duration) (Window, error) {
	argv := append([]string{v.Binary}, b.args(d)...)
	if pin != "" {
		argv = append([]string{pin, "-c", strconv.Itoa(runtime.NumCPU() - 1)}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = b.Dir
	cmd.Env = secrets.Environ(append([]string{"GOMAXPROCS=1"}, b.Env...)...)
	out := &capped{max: MaxBenchOutput}
	errOut := &tail{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = out, errOut
	out.onOver = func() { _ = kill(cmd) }
	ownGroup(cmd)
	cmd.Cancel = func() error { return kill(cmd) }
	where := fmt.Sprintf("bench %s in %s (%s)", b.Pattern, b.Package, v.Name)
	start := time.Now()
	err := cmd.Run()
	if out.over {
		return Window{}, because(ErrWorkload, "%s: more than %d MiB of output: not the output of go test -bench", where, MaxBenchOutput>>20)
	}
	if err != nil {
		msg := strings.TrimSpace(errOut.String() + "\n" + lastLines(out.buf.String(), 20))
		return Window{}, because(ErrWorkload, "%s: %v; its output ends:\n%s", where, err, msg)
	}
	w := Window{Elapsed: time.Since(start)}
	if st := cmd.ProcessState; st != nil {
		w.CPU = st.UserTime() + st.SystemTime()
	}
	res, err := ParseBench(out.buf.Bytes())
	if err != nil {
		return w, because(ErrWorkload, "%s: %v", where, err)
	}
	if len(res) == 0 {
		return w, because(ErrConfig, "%s: no benchmark matched -test.bench=%s (pgo.workload.bench.pattern)", where, b.Pattern)
	}
	w.Bench = res
	for _, r := range res {
		w.Ops += r.N
	}
	return w, nil
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// capped keeps the first max bytes written to it and notes that more came; the first time, it
// calls onOver (which stops the process: there is no point running what will be refused).
type capped struct {
	mu     sync.Mutex
	max    int
	buf    bytes.Buffer
	over   bool
	onOver func()
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := p
	if room := c.max - c.buf.Len(); room < len(p) {
		if !c.over && c.onOver != nil {
			c.onOver()
		}
		c.over = true
		keep = p[:max(room, 0)]
	}
	c.buf.Write(keep)
	return len(p), nil
}

// ProfileBench runs the benchmarks of the test binary bin once, each for d, with
// -test.cpuprofile=out: a library's input to Collect (as a file), from the build without a
// profile. Unlike a measured run it is not pinned and uses every CPU.
func ProfileBench(ctx context.Context, b *Bench, bin, out string, d time.Duration) error {
	prof := *b
	prof.Benchtime = d.String()
	args := prof.args(d)
	args = append(args[:len(args)-1], "-test.cpuprofile="+out) // no -test.cpu=1
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = b.Dir
	cmd.Env = secrets.Environ(b.Env...)
	stdout, errOut := &capped{max: MaxBenchOutput}, &tail{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stdout, errOut
	stdout.onOver = func() { _ = kill(cmd) }
	ownGroup(cmd)
	cmd.Cancel = func() error { return kill(cmd) }
	where := fmt.Sprintf("profile bench %s in %s", b.Pattern, b.Package)
	err := cmd.Run()
	if stdout.over {
		return because(ErrWorkload, "%s: more than %d MiB of output: not the output of go test -bench", where, MaxBenchOutput>>20)
	}
	if err != nil {
		return because(ErrWorkload, "%s: %v; its output ends:\n%s", where, err, strings.TrimSpace(errOut.String()+"\n"+lastLines(stdout.buf.String(), 20)))
	}
	res, err := ParseBench(stdout.buf.Bytes())
	switch {
	case err != nil:
		return because(ErrWorkload, "%s: %v", where, err)
	case len(res) == 0:
		return because(ErrConfig, "%s: no benchmark matched -test.bench=%s (pgo.workload.bench.pattern)", where, b.Pattern)
	}
	return nil
}
