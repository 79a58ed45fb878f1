package pgo

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scratchkit/scratchkit/internal/defaults"
)

// Defaults applied by Measure to zero fields of MeasureOptions: about a minute for two
// comparisons (the A/A control and one candidate) on a small service.
const (
	DefaultCheckRounds   = 6               // rounds per comparison
	DefaultCheckWarmup   = time.Second     // load before each round's window
	DefaultCheckDuration = 3 * time.Second // each round's measured window
)

// Variant is one build of the service that Measure runs.
type Variant struct {
	Name   string // "none", "candidate", "current": for reports
	Binary string // the executable; it replaces the first word of the workload's command
	// Profile is the sha256 of the profile it was built with; empty for -pgo=off.
	Profile string
}

// Pair is one comparison: B against A, ratios B/A.
type Pair struct{ A, B Variant }

// MeasureOptions configures Measure.
type MeasureOptions struct {
	// Workload is how a copy of the service runs and is loaded: Command (its first word is
	// replaced by each variant's binary), Dir, Env, Ready, ReadyTimeout, StopGrace, and the
	// built-in load generator's URLs, Rate (per copy; 0: as fast as Concurrency allows) and
	// Concurrency. PprofURL, Duration, Warmup and Load are not used.
	Workload Workload
	// Addrs are the host:port addresses written in the workload (the service's, its pprof
	// server's): each copy gets a fresh local port for each, substituted wherever the address
	// appears in Command, Env, Ready and URLs, so that two copies run side by side.
	Addrs []string
	// Bench, when set, makes the workload a library's benchmarks instead of a service: each
	// Variant's Binary is a test binary, both run their benchmarks at once each round, and a
	// round's cost ratio is the geometric mean over the benchmarks of B's ns/op over A's (see
	// BenchRatio). Workload and Addrs are then not used, nor Warmup (a benchmark ramps up itself).
	Bench *Bench

	Rounds   int           // rounds per pair; default DefaultCheckRounds, at least 2
	Warmup   time.Duration // load before each window; default DefaultCheckWarmup, <0: none
	Duration time.Duration // each window; default DefaultCheckDuration

	// NoPin runs the copies wherever the kernel puts them. By default, with taskset and at
	// least 2 CPUs, both copies of a round run on the last CPU, with GOMAXPROCS=1, so they
	// share it fairly and whatever else the machine does hits both alike.
	NoPin bool

	Log func(format string, args ...any) // progress; nil: silent
}

func (o *MeasureOptions) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// Window is what one copy did in one round's measured window.
type Window struct {
	Ops     int64         `json:"ops"`     // operations completed (requests answered 2xx)
	Elapsed time.Duration `json:"elapsed"` // wall-clock length of the window
	CPU     time.Duration `json:"cpu"`     // the copy's CPU time (user and system) in the window
	// Bench is each benchmark's result, for a library's workload (Ops is then the iterations).
	Bench map[string]BenchResult `json:"-"`
}

// CPUPerOp is CPU time per operation.
func (w Window) CPUPerOp() time.Duration {
	if w.Ops <= 0 {
		return 0
	}
	return w.CPU / time.Duration(w.Ops)
}

// Throughput is operations per second.
func (w Window) Throughput() float64 {
	if w.Elapsed <= 0 {
		return 0
	}
	return float64(w.Ops) / w.Elapsed.Seconds()
}

// RoundResult is one round of a pair: both copies side by side.
type RoundResult struct {
	A, B   Window
	BFirst bool // B took the first slot (started first, loaded first)
}

// Comparison is the measured result of a Pair.
type Comparison struct {
	A string `json:"a"` // variant names; the ratios are B/A
	B string `json:"b"`
	// CPUPerOp is B's CPU time per operation over A's: below 1, B is cheaper.
	CPUPerOp Ratio `json:"cpu_per_op"`
	// Throughput is B's operations per second over A's: above 1, B answered more. It says
	// something about the binaries only when the copies used their shared CPU fully
	// (Utilization near 1); otherwise the load generator was the limit.
	Throughput Ratio `json:"throughput"`
	// Medians of the rounds.
	ACPUPerOp   time.Duration `json:"a_cpu_per_op_ns"`
	BCPUPerOp   time.Duration `json:"b_cpu_per_op_ns"`
	AThroughput float64       `json:"a_ops_per_second"`
	BThroughput float64       `json:"b_ops_per_second"`
	// Utilization is the median share of one CPU the two copies used together in a window.
	Utilization float64       `json:"utilization"`
	Rounds      []RoundResult `json:"-"`
}

// Measure runs each pair's two variants side by side, round after round (the pairs interleaved,
// the slots alternating), under the same load, and returns one Comparison per pair.
func Measure(ctx context.Context, opts MeasureOptions, pairs []Pair) ([]Comparison, error) {
	w := opts.Workload
	switch {
	case opts.Bench != nil:
		if opts.Bench.Pattern == "" {
			return nil, because(ErrConfig, "measure: bench %s: no benchmark pattern", opts.Bench.Package)
		}
	case len(w.Command) == 0:
		return nil, because(ErrConfig, "measure: the workload has no command")
	case len(w.URLs) == 0:
		return nil, because(ErrConfig, "measure: the workload has no URLs to load it with: the built-in load generator counts the operations")
	}
	rounds := defaults.Positive(opts.Rounds, DefaultCheckRounds)
	if rounds < 2 {
		return nil, because(ErrConfig, "measure: %d round: want at least 2 (the spread needs two)", rounds)
	}
	pin := ""
	if !opts.NoPin && runtime.NumCPU() >= 2 {
		if p, err := exec.LookPath("taskset"); err == nil {
			pin = p
		}
	}
	out := make([]Comparison, len(pairs))
	for i, p := range pairs {
		out[i] = Comparison{A: p.A.Name, B: p.B.Name}
	}
	for r := 0; r < rounds; r++ {
		for i, p := range pairs {
			bFirst := r%2 == 1
			first, second := p.A, p.B
			if bFirst {
				first, second = p.B, p.A
			}
			ws, err := measureRound(ctx, &opts, pin, [2]Variant{first, second})
			if err != nil {
				return out, err
			}
			res := RoundResult{A: ws[0], B: ws[1], BFirst: bFirst}
			if bFirst {
				res.A, res.B = ws[1], ws[0]
			}
			out[i].Rounds = append(out[i].Rounds, res)
			if opts.Bench != nil {
				br, _ := BenchRatio(res.A.Bench, res.B.Bench)
				opts.logf("pgo: check: round %d/%d %s vs %s: %d benchmarks, geometric mean %.4g / %.4g ns/op (%.3f)",
					r+1, rounds, p.B.Name, p.A.Name, len(res.A.Bench), benchGeomean(res.B.Bench), benchGeomean(res.A.Bench), br)
				continue
			}
			opts.logf("pgo: check: round %d/%d %s vs %s: CPU/op %s / %s (%.3f), %.0f / %.0f op/s",
				r+1, rounds, p.B.Name, p.A.Name, res.B.CPUPerOp(), res.A.CPUPerOp(),
				ratio(float64(res.B.CPUPerOp()), float64(res.A.CPUPerOp())), res.B.Throughput(), res.A.Throughput())
		}
	}
	for i := range out {
		summarizeComparison(&out[i])
	}
	return out, nil
}

func ratio(b, a float64) float64 {
	if a <= 0 {
		return 0
	}
	return b / a
}

// summarizeComparison fills the ratios and medians from the rounds.
func summarizeComparison(c *Comparison) {
	var cpu, tput, ac, bc, at, bt, util []float64
	for _, r := range c.Rounds {
		if r.A.Bench != nil || r.B.Bench != nil {
			// A benchmark's ns/op is its cost per operation; operations per second its inverse.
			br, _ := BenchRatio(r.A.Bench, r.B.Bench) // 0 (left out) if they differ; benchRound refused that
			ga, gb := benchGeomean(r.A.Bench), benchGeomean(r.B.Bench)
			cpu, tput = append(cpu, br), append(tput, ratio(1, br))
			ac, bc = append(ac, ga), append(bc, gb)
			at, bt = append(at, ratio(1e9, ga)), append(bt, ratio(1e9, gb))
		} else {
			cpu = append(cpu, ratio(float64(r.B.CPU)/float64(max(r.B.Ops, 1)), float64(r.A.CPU)/float64(max(r.A.Ops, 1))))
			tput = append(tput, ratio(r.B.Throughput(), r.A.Throughput()))
			ac, bc = append(ac, float64(r.A.CPUPerOp())), append(bc, float64(r.B.CPUPerOp()))
			at, bt = append(at, r.A.Throughput()), append(bt, r.B.Throughput())
		}
		if el := max(r.A.Elapsed, r.B.Elapsed); el > 0 {
			util = append(util, (r.A.CPU+r.B.CPU).Seconds()/el.Seconds())
		}
	}
	c.CPUPerOp, c.Throughput = RatioOf(cpu), RatioOf(tput)
	c.ACPUPerOp, c.BCPUPerOp = time.Duration(median(ac)), time.Duration(median(bc))
	c.AThroughput, c.BThroughput = median(at), median(bt)
	c.Utilization = median(util)
}

// copyOf is one running copy of the service in a round.
type copyOf struct {
	proc *process
	urls []string
}

// measureRound starts both variants, waits for both, loads both at once through a warm-up and
// the measured window, and stops them.
func measureRound(ctx context.Context, opts *MeasureOptions, pin string, vs [2]Variant) ([2]Window, error) {
	if opts.Bench != nil {
		return benchRound(ctx, opts, pin, vs)
	}
	var ws [2]Window
	var copies [2]*copyOf
	w := opts.Workload
	grace := defaults.Positive(w.StopGrace, DefaultStopGrace)
	for i, v := range vs {
		c, err := startCopy(ctx, opts, pin, v)
		if err != nil {
			return ws, err
		}
		defer c.proc.stop(grace)
		copies[i] = c
	}
	warmup := defaults.Positive(opts.Warmup, DefaultCheckWarmup)
	if opts.Warmup < 0 {
		warmup = 0
	}
	if warmup > 0 {
		if _, err := loadBoth(ctx, &w, copies, warmup); err != nil {
			return ws, err
		}
	}
	var before [2]time.Duration
	for i, c := range copies {
		t, err := ProcessCPU(c.proc.cmd.Process.Pid)
		if err != nil {
			return ws, err
		}
		before[i] = t
	}
	res, err := loadBoth(ctx, &w, copies, defaults.Positive(opts.Duration, DefaultCheckDuration))
	if err != nil {
		return ws, err
	}
	for i, c := range copies {
		t, err := ProcessCPU(c.proc.cmd.Process.Pid)
		if err != nil {
			return ws, err
		}
		ws[i] = Window{Ops: res[i].Requests, Elapsed: res[i].Elapsed, CPU: t - before[i]}
	}
	return ws, nil
}

// startCopy starts one variant on fresh ports and waits until it is ready.
func startCopy(ctx context.Context, opts *MeasureOptions, pin string, v Variant) (*copyOf, error) {
	w := opts.Workload
	repl, err := freshAddrs(opts.Addrs)
	if err != nil {
		return nil, err
	}
	argv := append([]string{v.Binary}, w.Command[1:]...)
	for i := range argv[1:] {
		argv[i+1] = repl.Replace(argv[i+1])
	}
	env := []string{"GOMAXPROCS=1"}
	for _, e := range w.Env {
		env = append(env, repl.Replace(e))
	}
	if pin != "" {
		argv = append([]string{pin, "-c", strconv.Itoa(runtime.NumCPU() - 1)}, argv...)
	}
	p, err := startProcess(argv, w.Dir, env)
	if err != nil {
		return nil, err
	}
	c := &copyOf{proc: p}
	for _, u := range w.URLs {
		c.urls = append(c.urls, repl.Replace(u))
	}
	ready := repl.Replace(w.Ready)
	if ready == "" {
		ready = c.urls[0]
	}
	if err := waitReady(ctx, p, ready, w.ReadyTimeout); err != nil {
		p.stop(defaults.Positive(w.StopGrace, DefaultStopGrace))
		return nil, fmt.Errorf("measure %s: %w", v.Name, err)
	}
	return c, nil
}

// freshAddrs maps each address to a free local one.
func freshAddrs(addrs []string) (*strings.Replacer, error) {
	var pairs []string
	for _, a := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("measure: a free port: %w", err)
		}
		pairs = append(pairs, a, l.Addr().String())
		l.Close()
	}
	return strings.NewReplacer(pairs...), nil
}

// loadBoth drives both copies at once with the built-in load generator for d.
func loadBoth(ctx context.Context, w *Workload, copies [2]*copyOf, d time.Duration) ([2]LoadResult, error) {
	var res [2]LoadResult
	var errs [2]error
	var wg sync.WaitGroup
	for i, c := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = GenerateLoad(ctx, LoadOptions{URLs: c.urls, Rate: w.Rate, Concurrency: w.Concurrency, Duration: d})
		}()
	}
	wg.Wait()
	for i, c := range copies {
		if errs[i] != nil {
			return res, errs[i]
		}
		if c.proc.exited() {
			return res, c.proc.exitError("exited under load")
		}
		if res[i].Errors > 0 {
			return res, because(ErrWorkload, "%s: %d of %d requests failed under load (first: %s)", c.proc.name, res[i].Errors, res[i].Errors+res[i].Requests, res[i].FirstError)
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

// ProcessCPU is the CPU time (user and system) the threads of process pid have run so far,
// summed from the scheduler's nanosecond counters in /proc/PID/task/*/schedstat (Linux);
// /proc/PID/stat counts in 10 ms ticks, too coarse for short windows.
func ProcessCPU(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("measure: no /proc/%d/task/*/schedstat: CPU time per operation needs Linux", pid)
	}
	var sum int64
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that just exited
		}
		f := strings.Fields(string(data))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("measure: %s: %v", t, err)
		}
		sum += ns
	}
	return time.Duration(sum), nil
}

// CPUModel is the processor's model name from /proc/cpuinfo, or "".
func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func lookTaskset() bool {
	_, err := exec.LookPath("taskset")
	return err == nil
}
