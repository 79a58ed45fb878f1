// Command pgo-bench measures what profile-guided optimisation buys the example service.
//
// It copies the sources of examples/hello (not its committed default.pgo) to a temporary directory, builds it without a profile (-pgo=off),
// collects a CPU profile from that binary under a local workload with the scratchkit PGO engine
// (targets/pgo: Collect with a Workload, then Place as default.pgo), rebuilds with the profile
// (go build's default -pgo=auto), and drives the same load at both binaries, reporting server
// CPU time per request and throughput with the PGO/baseline ratios.
//
// Run it from the repository root:
//
//	go run ./bench/pgo                 # defaults: 12 rounds, 5 s per phase, 20 s profile
//	go run ./bench/pgo -rounds 20 -duration 10s
//
// Method (paired, for shared and noisy machines): each round starts one baseline and one PGO
// server side by side, both with GOMAXPROCS=1 and pinned to the same CPU (taskset -c 0), and the
// load generators in their own processes pinned to another CPU (taskset -c 1). Both servers get
// the same load at the same time, so whatever else the machine does hits both alike, and every
// round yields one PGO/baseline ratio. After a warm-up, two phases of -duration each:
//
//   - fixed rate: -rate requests per second to each server, open loop (pgo.GenerateLoad): the
//     same work for both, so server CPU per request (the run time of all its threads, user and
//     system, from /proc/PID/task/*/schedstat over the window) compares like with like.
//   - saturation: a closed loop of -conns connections to each server (wrk -t1 per server when
//     installed, else pgo.GenerateLoad). Both servers are always runnable on the one shared CPU,
//     which the kernel splits fairly, so the cheaper binary answers more requests: the
//     throughput ratio.
//
// Which binary takes the first slot alternates every round (an A/A run, -control, shows the
// fixed-rate phase slightly favours the second slot); the summary gives the geometric mean of
// the per-round ratios, in which a constant slot bias cancels, their range, and the medians of
// the absolute numbers. Use an even number of rounds.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/targets/pgo"
)

// flags
var (
	example  = flag.String("example", "examples/hello", "the example module to build (copied, never modified)")
	rounds   = flag.Int("rounds", 12, "rounds, best even; each runs both binaries side by side")
	duration = flag.Duration("duration", 5*time.Second, "length of each measured phase")
	warmup   = flag.Duration("warmup", 2*time.Second, "load before measuring, each round")
	profSecs = flag.Int("profile", 20, "seconds of CPU profile to collect from the local workload")
	conns    = flag.Int("conns", 8, "connections per server in the saturation phase (and workers at fixed rate)")
	paths    = flag.String("paths", "/healthz,/time?tz=Europe/Berlin,/work?n=100", "request mix, in turn, for profiling and measuring")
	rate     = flag.Int("rate", 5000, "requests per second to each server in the fixed-rate phase")
	loader   = flag.String("loader", "auto", "saturation load generator: wrk, builtin, or auto (wrk when installed)")
	keep     = flag.Bool("keep", false, "keep the temporary directory")
	control  = flag.Bool("control", false, "A/A control: run the baseline in both slots (the ratios should be 1)")

	// Internal: run as a load generator process. Groups of URLs separated by ';', one generator each.
	loadURLs = flag.String("load-urls", "", "internal")
	loadRate = flag.Int("load-rate", 0, "internal")
	loadDur  = flag.Duration("load-duration", 0, "internal")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("pgo-bench: ")
	if *loadURLs != "" {
		loadProcess()
		return
	}

	tmp, err := os.MkdirTemp("", "pgo-bench-")
	check(err)
	if *keep {
		log.Printf("working in %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	mod := filepath.Join(tmp, "hello")
	check(copyDir(*example, mod))
	mix := strings.Split(*paths, ",")
	useWrk := *loader == "wrk" || (*loader == "auto" && lookPath("wrk") != "")
	taskset := lookPath("taskset")
	if runtime.NumCPU() < 2 {
		taskset = ""
	}

	// 1. Baseline build, no profile.
	base := filepath.Join(tmp, "hello-base")
	check(gobuild(mod, base, "-pgo=off"))

	// 2. Profile the baseline under the same request mix with the engine; place default.pgo.
	svc, dbg := freeAddr(), freeAddr()
	log.Printf("collecting a %ds CPU profile from %s under load", *profSecs, base)
	prof, inputs, err := pgo.Collect(context.Background(), pgo.Options{
		Seconds:    *profSecs,
		MainModule: "example.com/hello",
		Workload: &pgo.Workload{
			Command:     []string{base, "-addr", svc, "-debug-addr", dbg},
			Env:         []string{"GOMAXPROCS=1"},
			PprofURL:    "http://" + dbg,
			Ready:       "http://" + svc + "/healthz",
			URLs:        urlsFor(svc, mix),
			Concurrency: *conns,
		},
	})
	check(err)
	placed, err := pgo.Place(prof, []pgo.Target{{Build: "hello", MainDir: mod, InModule: true}}, pgo.PlaceOptions{MainModule: "example.com/hello"})
	check(err)
	rep := pgo.Summarize(prof, inputs, 8)
	if st, err := pgo.Staleness(prof, mod); err == nil {
		rep.Stale = &st
	}
	check(render.PGOReport(os.Stdout, rep))

	// 3. The PGO build: default.pgo next to main, go build's default -pgo=auto.
	opt := filepath.Join(tmp, "hello-pgo")
	start := time.Now()
	check(gobuild(mod, opt))
	pgoBuild := time.Since(start)
	for _, b := range []string{base, opt} {
		p, err := pgo.BinaryProfile(b)
		check(err)
		log.Printf("%s: build info -pgo=%q", filepath.Base(b), p)
	}

	// 4. Rounds, both binaries side by side.
	if *control {
		log.Printf("control run: the baseline binary in both slots")
		opt = base
	}
	var rateB, rateP, satB, satP, tputB, tputP, rRate, rSat, rTput, util []float64
	for r := 1; r <= *rounds; r++ {
		// Alternate which binary takes the first slot (started first, first load group): the
		// A/A control shows the slots are not quite symmetric at a fixed rate.
		swap := r%2 == 0
		first, second := base, opt
		if swap {
			first, second = opt, base
		}
		res, err := round(first, second, taskset, useWrk, mix, tmp)
		check(err)
		b, p := res[0], res[1]
		if swap {
			b, p = p, b
		}
		log.Printf("round %2d  fixed rate: base %6.2f pgo %6.2f µs CPU/req (%.3f)   saturation: base %6.0f pgo %6.0f req/s (%.3f), %6.2f / %6.2f µs CPU/req (%.3f)",
			r, b.rate.cpuPerReq(), p.rate.cpuPerReq(), p.rate.cpuPerReq()/b.rate.cpuPerReq(),
			b.sat.throughput(), p.sat.throughput(), p.sat.throughput()/b.sat.throughput(), b.sat.cpuPerReq(), p.sat.cpuPerReq(), p.sat.cpuPerReq()/b.sat.cpuPerReq())
		rateB, rateP = append(rateB, b.rate.cpuPerReq()), append(rateP, p.rate.cpuPerReq())
		satB, satP = append(satB, b.sat.cpuPerReq()), append(satP, p.sat.cpuPerReq())
		tputB, tputP = append(tputB, b.sat.throughput()), append(tputP, p.sat.throughput())
		rRate = append(rRate, p.rate.cpuPerReq()/b.rate.cpuPerReq())

		rSat = append(rSat, p.sat.cpuPerReq()/b.sat.cpuPerReq())
		rTput = append(rTput, p.sat.throughput()/b.sat.throughput())
		util = append(util, (b.sat.cpu+p.sat.cpu).Seconds()/max(b.sat.elapsed, p.sat.elapsed).Seconds())
	}

	// 5. Summary.
	gen := "pgo.GenerateLoad"
	if useWrk {
		gen = "wrk -t1"
	}
	pin := "not pinned (taskset missing or one CPU)"
	if taskset != "" {
		pin = "both servers on CPU 0, load generators on CPU 1"
	}
	sizeB, sizeP := fileSize(base), fileSize(opt)
	fmt.Printf(`
PGO benchmark%s: examples/hello, %s, %s/%s, %d CPUs (%s)
  method: %d rounds; each starts a baseline and a PGO server side by side (GOMAXPROCS=1, %s),
          %s warm-up, then %s at a fixed %d req/s per server (pgo.GenerateLoad, open loop) and
          %s of saturation (%s, %d connections per server, closed loop);
          request mix %s in turn; CPU = the servers' threads' run time from /proc/PID/task/*/schedstat
  profile: collected from the baseline under the same mix: %d samples, %s CPU in %s; sha256 %.12s
  binaries: base %d B, PGO %d B (%+.1f%%); the PGO build took %s (it recompiles the standard library)

                                      baseline       PGO    PGO/baseline: geometric mean of rounds [min–max]
  fixed rate:  CPU per request (µs)  %8.2f  %8.2f    %.3f (%+.1f%%) [%.3f–%.3f]
  saturation:  CPU per request (µs)  %8.2f  %8.2f    %.3f (%+.1f%%) [%.3f–%.3f]
  saturation:  throughput (req/s)    %8.0f  %8.0f    %.3f (%+.1f%%) [%.3f–%.3f]
  the servers used %.0f%% of their shared CPU in the saturation phase (median)%s
`,
		map[bool]string{true: " (A/A CONTROL: baseline vs baseline)"}[*control], runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(),
		*rounds, pin, *warmup, *duration, *rate, *duration, gen, *conns, *paths,
		rep.Samples, rep.CPU.Round(time.Millisecond), rep.Duration.Round(time.Millisecond), placed[0].SHA256,
		sizeB, sizeP, 100*(float64(sizeP)/float64(sizeB)-1), pgoBuild.Round(time.Second),
		median(rateB), median(rateP), geomean(rRate), 100*(geomean(rRate)-1), minOf(rRate), maxOf(rRate),
		median(satB), median(satP), geomean(rSat), 100*(geomean(rSat)-1), minOf(rSat), maxOf(rSat),
		median(tputB), median(tputP), geomean(rTput), 100*(geomean(rTput)-1), minOf(rTput), maxOf(rTput),
		100*median(util), saturationNote(median(util), geomean(rSat)),
	)
}

// saturationNote says how to read the saturation throughput.
func saturationNote(util, cpuRatio float64) string {
	if util >= 0.9 {
		return ": saturated, the throughput ratio is the kernel's fair split of one CPU"
	}
	return fmt.Sprintf(": NOT saturated, the load generators were the bottleneck and the throughput\n"+
		"  ratio says nothing about the binaries; the throughput a saturated CPU would give follows\n"+
		"  from CPU per request: PGO/baseline %.3f (%+.1f%%)", 1/cpuRatio, 100*(1/cpuRatio-1))
}

// window is one measured phase on one server.
type window struct {
	reqs    int64
	elapsed time.Duration
	cpu     time.Duration // user+system, from the scheduler
}

func (w window) cpuPerReq() float64 {
	return float64(w.cpu.Nanoseconds()) / 1e3 / float64(max(w.reqs, 1))
}

func (w window) throughput() float64 { return float64(w.reqs) / w.elapsed.Seconds() }

// result is one server's two phases in a round.
type result struct{ rate, sat window }

// server is a running binary.
type server struct {
	addr string
	cmd  *exec.Cmd
	out  bytes.Buffer
}

func startServer(bin, taskset string) (*server, error) {
	s := &server{addr: freeAddr()}
	argv := []string{bin, "-addr", s.addr}
	if taskset != "" {
		argv = append([]string{taskset, "-c", "0"}, argv...)
	}
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	if err := waitHealthy("http://" + s.addr + "/healthz"); err != nil {
		s.stop()
		return nil, fmt.Errorf("%v\n%s", err, s.out.String())
	}
	return s, nil
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}

// cpu is the server's user+system CPU time so far (taskset execs it in place: same pid).
func (s *server) cpu() (time.Duration, error) { return procCPU(s.cmd.Process.Pid) }

// round runs both binaries side by side through warm-up, fixed rate and saturation.
func round(first, second, taskset string, useWrk bool, mix []string, tmp string) ([2]result, error) {
	var res [2]result
	var srvs [2]*server
	for i, bin := range []string{first, second} {
		s, err := startServer(bin, taskset)
		if err != nil {
			return res, err
		}
		defer s.stop()
		srvs[i] = s
	}
	urls := [][]string{urlsFor(srvs[0].addr, mix), urlsFor(srvs[1].addr, mix)}
	saturate := func(d time.Duration) ([2]window, error) {
		if !useWrk {
			return runBuiltin(taskset, urls, 0, d)
		}
		var ws [2]window
		var errs [2]error
		var wg sync.WaitGroup
		for i, s := range srvs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ws[i].reqs, ws[i].elapsed, errs[i] = runWrk(taskset, s.addr, mix, d, tmp)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return ws, err
			}
		}
		return ws, nil
	}
	if _, err := saturate(*warmup); err != nil {
		return res, err
	}
	for phase, load := range []func(time.Duration) ([2]window, error){
		func(d time.Duration) ([2]window, error) { return runBuiltin(taskset, urls, *rate, d) },
		saturate,
	} {
		var before [2]time.Duration
		for i, s := range srvs {
			c, err := s.cpu()
			if err != nil {
				return res, err
			}
			before[i] = c
		}
		ws, err := load(*duration)
		if err != nil {
			return res, err
		}
		for i, s := range srvs {
			after, err := s.cpu()
			if err != nil {
				return res, err
			}
			ws[i].cpu = after - before[i]
			if phase == 0 {
				res[i].rate = ws[i]
			} else {
				res[i].sat = ws[i]
			}
		}
	}
	return res, nil
}

// loadProcess is this program run as a load generator: one pgo.GenerateLoad per URL group, all
// at once, printing "requests errors elapsed first-error" per group.
func loadProcess() {
	groups := strings.Split(*loadURLs, ";")
	out := make([]pgo.LoadResult, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := pgo.GenerateLoad(context.Background(), pgo.LoadOptions{URLs: strings.Split(g, ","), Rate: *loadRate, Concurrency: *conns, Duration: *loadDur})
			check(err)
			out[i] = r
		}()
	}
	wg.Wait()
	for _, r := range out {
		fmt.Printf("%d %d %d %q\n", r.Requests, r.Errors, r.Elapsed, r.FirstError)
	}
}

// runBuiltin runs the built-in generator for both servers in one process pinned to CPU 1.
func runBuiltin(taskset string, urls [][]string, rate int, d time.Duration) ([2]window, error) {
	var ws [2]window
	self, err := os.Executable()
	if err != nil {
		return ws, err
	}
	argv := []string{self, "-load-urls", strings.Join(urls[0], ",") + ";" + strings.Join(urls[1], ","),
		"-load-rate", strconv.Itoa(rate), "-conns", strconv.Itoa(*conns), "-load-duration", d.String()}
	if taskset != "" {
		argv = append([]string{taskset, "-c", "1"}, argv...)
	}
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		return ws, fmt.Errorf("load generator: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return ws, fmt.Errorf("load generator output %q", out)
	}
	for i, line := range lines {
		var errs int64
		var first string
		if _, err := fmt.Sscanf(line, "%d %d %d %q", &ws[i].reqs, &errs, &ws[i].elapsed, &first); err != nil {
			return ws, fmt.Errorf("load generator output %q: %v", line, err)
		}
		if errs > 0 {
			return ws, fmt.Errorf("load generator: %d failed requests (first: %s)", errs, first)
		}
	}
	return ws, nil
}

var (
	wrkTotal = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(us|ms|s|m)`)
	wrkBad   = regexp.MustCompile(`Non-2xx or 3xx responses: \d+|Socket errors: connect [1-9]|read [1-9]|write [1-9]`)
	wrkSlow  = regexp.MustCompile(`timeout [1-9]\d*`)
)

// runWrk drives the mix at one server with wrk and returns completed requests and elapsed time.
func runWrk(taskset, addr string, mix []string, d time.Duration, tmp string) (int64, time.Duration, error) {
	script := filepath.Join(tmp, "mix-"+strings.ReplaceAll(addr, ":", "-")+".lua")
	var quoted []string
	for _, p := range mix {
		quoted = append(quoted, strconv.Quote(p))
	}
	lua := fmt.Sprintf("local paths = {%s}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i %% #paths) + 1])\nend\n", strings.Join(quoted, ", "))
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		return 0, 0, err
	}
	argv := []string{"wrk", "-t1", "-c" + strconv.Itoa(*conns), "-d" + strconv.Itoa(max(1, int(d.Seconds()))) + "s", "--timeout", "10s", "-s", script, "http://" + addr}
	if taskset != "" {
		argv = append([]string{taskset, "-c", "1"}, argv...)
	}
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if wrkBad.Match(out) {
		return 0, 0, fmt.Errorf("wrk saw errors:\n%s", out)
	}
	if m := wrkSlow.Find(out); m != nil {
		log.Printf("wrk against %s: %s (requests slower than 10 s; the machine is overloaded)", addr, m)
	}
	m := wrkTotal.FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("wrk: cannot read its output:\n%s", out)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	v, _ := strconv.ParseFloat(string(m[2]), 64)
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}[string(m[3])]
	return n, time.Duration(v * float64(unit)), nil
}

func urlsFor(addr string, mix []string) []string {
	var urls []string
	for _, p := range mix {
		urls = append(urls, "http://"+addr+p)
	}
	return urls
}

// procCPU is the CPU time (user and system) a process's threads have run so far, summed from
// the scheduler's nanosecond counters in /proc/PID/task/*/schedstat (Linux). /proc/PID/stat's
// utime and stime count in clock ticks (10 ms), too coarse for short windows.
func procCPU(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no schedstat for pid %d: %v", pid, err)
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
			return 0, fmt.Errorf("%s: %v", t, err)
		}
		sum += ns
	}
	return time.Duration(sum), nil
}

func waitHealthy(u string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy: %v", u, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func gobuild(dir, out string, flags ...string) error {
	args := append(append([]string{"build", "-trimpath", "-o", out}, flags...), ".")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if rel != "." && (d.Name() == "dist" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if rel == pgo.DefaultFile || !d.Type().IsRegular() {
			return nil // the profile is collected fresh; sources only
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().String()
}

func lookPath(name string) string {
	p, _ := exec.LookPath(name)
	return p
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	check(err)
	return fi.Size()
}

func sorted(v []float64) []float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s
}

func median(v []float64) float64 {
	s := sorted(v)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// geomean is the geometric mean: the right average of ratios, and with the slots alternating
// every round, a constant slot bias cancels out of it.
func geomean(v []float64) float64 {
	var sum float64
	for _, x := range v {
		sum += math.Log(x)
	}
	return math.Exp(sum / float64(max(len(v), 1)))
}

func minOf(v []float64) float64 { return sorted(v)[0] }
func maxOf(v []float64) float64 { return sorted(v)[len(v)-1] }

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
