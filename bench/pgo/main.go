// Command pgo-bench measures what profile-guided optimisation buys the example service.
//
// It copies examples/hello to a temporary directory, builds it without a profile (-pgo=off),
// collects a CPU profile from that binary under a local workload with the scratchkit PGO engine
// (targets/pgo: Collect with a Workload, then Place as default.pgo), rebuilds with the profile
// (go build's default -pgo=auto), and then drives the same load at both binaries in alternating
// rounds, reporting server CPU time per request and throughput with the PGO/baseline ratios.
//
// Run it from the repository root, on an otherwise quiet machine:
//
//	go run ./bench/pgo                 # defaults: 6 rounds, 10 s per phase, 20 s profile
//	go run ./bench/pgo -rounds 10 -duration 20s
//
// Method: the server runs with GOMAXPROCS=1 pinned to CPU 0 (taskset); the load generators run
// in their own processes pinned to CPU 1. Each round starts a fresh server per binary (order
// alternating: base, pgo; pgo, base; ...), warms it up for -warmup, then measures two phases of
// -duration each, reading the server's user+system CPU time from /proc/PID/stat over exactly the
// measured window:
//
//   - fixed rate: -rate requests per second, open loop (the built-in generator, pgo.GenerateLoad):
//     the same load for both binaries, so CPU per request compares like with like. This is the
//     headline number: it does not depend on how much CPU the load generator gets.
//   - saturation: a closed loop over -conns connections (wrk -t1 when installed): throughput and
//     CPU per request at full load. Only meaningful when the generator can saturate the server;
//     on a shared machine it mostly measures the generator.
//
// The summary gives medians, ratios and the range over rounds.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
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
	"syscall"
	"time"

	"github.com/scratchkit/scratchkit/targets/pgo"
)

func main() {
	var (
		example  = flag.String("example", "examples/hello", "the example module to build (copied, never modified)")
		rounds   = flag.Int("rounds", 6, "measurement rounds per binary (alternating order)")
		duration = flag.Duration("duration", 10*time.Second, "measured load per round")
		warmup   = flag.Duration("warmup", 2*time.Second, "load before each measurement")
		profSecs = flag.Int("profile", 20, "seconds of CPU profile to collect from the local workload")
		conns    = flag.Int("conns", 8, "concurrent connections")
		paths    = flag.String("paths", "/healthz,/time?tz=Europe/Berlin,/work?n=100", "request mix, in turn, for profiling and measuring")
		rate     = flag.Int("rate", 15000, "requests per second of the fixed-rate phase (built-in generator)")
		loader   = flag.String("loader", "auto", "load generator of the saturation phase: wrk, builtin, or auto (wrk when installed)")
		keep     = flag.Bool("keep", false, "keep the temporary directory")
		loadMode = flag.String("load-urls", "", "internal: run the built-in generator over these URLs and print its result")
		loadRate = flag.Int("load-rate", 0, "internal: rate for -load-urls")
		loadConn = flag.Int("load-conns", 8, "internal: connections for -load-urls")
		loadDur  = flag.Duration("load-duration", 0, "internal: duration for -load-urls")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("pgo-bench: ")
	if *loadMode != "" {
		r, err := pgo.GenerateLoad(context.Background(), pgo.LoadOptions{URLs: strings.Split(*loadMode, ","), Rate: *loadRate, Concurrency: *loadConn, Duration: *loadDur})
		check(err)
		fmt.Printf("%d %d %d %q\n", r.Requests, r.Errors, r.Elapsed, r.FirstError)
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

	useWrk := *loader == "wrk" || (*loader == "auto" && lookPath("wrk") != "")
	taskset := lookPath("taskset")
	if runtime.NumCPU() < 2 {
		taskset = ""
	}
	mix := strings.Split(*paths, ",")

	// 1. Baseline build, no profile.
	base := filepath.Join(tmp, "hello-base")
	check(gobuild(mod, base, "-pgo=off"))

	// 2. Profile the baseline under the same load, with the engine, and place default.pgo.
	svc, dbg := freeAddr(), freeAddr()
	var urls []string
	for _, p := range mix {
		urls = append(urls, "http://"+svc+p)
	}
	log.Printf("collecting a %ds CPU profile from %s under load", *profSecs, base)
	prof, inputs, err := pgo.Collect(context.Background(), pgo.Options{
		Seconds:    *profSecs,
		MainModule: "example.com/hello",
		Workload: &pgo.Workload{
			Command:     []string{base, "-addr", svc, "-debug-addr", dbg},
			Env:         []string{"GOMAXPROCS=1"},
			PprofURL:    "http://" + dbg,
			Ready:       "http://" + svc + "/healthz",
			URLs:        urls,
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
	rep.Write(os.Stdout)

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

	// 4. Alternating rounds: each round starts a fresh server per binary and runs the fixed-rate
	// phase, then the saturation phase, on it.
	type sample struct{ rps, cpuPerReq float64 }
	res := map[string][]sample{}
	bins := map[string]string{"base": base, "pgo": opt}
	for r := 0; r < *rounds; r++ {
		order := []string{"base", "pgo"}
		if r%2 == 1 {
			order = []string{"pgo", "base"}
		}
		for _, name := range order {
			ms, err := measure(bins[name], taskset, useWrk, mix, *conns, *rate, *warmup, *duration, tmp)
			check(err)
			for i, m := range ms {
				phase := []string{"rate", "sat"}[i]
				s := sample{rps: float64(m.reqs) / m.elapsed.Seconds(), cpuPerReq: float64(m.cpu.Microseconds()) / float64(m.reqs)}
				res[name+"/"+phase] = append(res[name+"/"+phase], s)
				log.Printf("round %d %-4s %-4s %8.0f req/s  %7.2f µs CPU/req  (%d requests, %s CPU in %s)", r+1, name, phase, s.rps, s.cpuPerReq, m.reqs, m.cpu, m.elapsed.Round(time.Millisecond))
			}
		}
	}

	// 5. Summary.
	col := func(name string, f func(sample) float64) []float64 {
		var v []float64
		for _, s := range res[name] {
			v = append(v, f(s))
		}
		sort.Float64s(v)
		return v
	}
	rps := func(s sample) float64 { return s.rps }
	cpr := func(s sample) float64 { return s.cpuPerReq }
	sizeB, sizeP := fileSize(base), fileSize(opt)
	gen := "built-in generator (pgo.GenerateLoad, a separate process)"
	if useWrk {
		gen = "wrk -t1"
	}
	pin := "not pinned (taskset missing or one CPU)"
	if taskset != "" {
		pin = "server on CPU 0, load generator on CPU 1 (taskset)"
	}
	fmt.Printf(`
PGO benchmark: %s, %s/%s, %d CPUs, %s
  method: %d alternating rounds per binary, each on a fresh server (GOMAXPROCS=1), %s warm-up, then
          - fixed rate: %d req/s for %s, open loop, built-in generator (same load for both binaries)
          - saturation: closed loop, %d connections, for %s, %s
          request mix %s in turn; %s;
          CPU = server utime+stime from /proc/PID/stat over each measured window
  profile: %d input(s), %d samples, %s CPU over %s (collected from the baseline binary), sha256 %.12s
  binary size: base %d B, pgo %d B (%+.1f%%); PGO build took %s (standard library recompiled with the profile)

                                 baseline        PGO   PGO/baseline (median)   range baseline / PGO
`,
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(),
		*rounds, *warmup, *rate, *duration, *conns, *duration, gen, *paths, pin,
		rep.Used, rep.Samples, rep.CPU.Round(time.Millisecond), rep.Duration.Round(time.Millisecond), placed[0].SHA256,
		sizeB, sizeP, 100*(float64(sizeP)/float64(sizeB)-1), pgoBuild.Round(time.Second))
	line := func(label, phase string, f func(sample) float64, format string) {
		b, p := col("base/"+phase, f), col("pgo/"+phase, f)
		fmt.Printf("  %-26s %10s %10s   %.3f (%+.1f%%)        %s–%s / %s–%s\n", label,
			fmt.Sprintf(format, median(b)), fmt.Sprintf(format, median(p)), median(p)/median(b), 100*(median(p)/median(b)-1),
			fmt.Sprintf(format, b[0]), fmt.Sprintf(format, b[len(b)-1]), fmt.Sprintf(format, p[0]), fmt.Sprintf(format, p[len(p)-1]))
	}
	line("fixed rate: CPU/request µs", "rate", cpr, "%.2f")
	line("saturation: CPU/request µs", "sat", cpr, "%.2f")
	line("saturation: throughput /s", "sat", rps, "%.0f")
}

// window is one measured phase.
type window struct {
	reqs    int64
	elapsed time.Duration
	cpu     time.Duration
}

// measure starts bin, warms it up, and measures requests and server CPU in the fixed-rate phase
// and the saturation phase.
func measure(bin, taskset string, useWrk bool, mix []string, conns, rate int, warmup, duration time.Duration, tmp string) ([]window, error) {
	svc := freeAddr()
	argv := []string{bin, "-addr", svc}
	if taskset != "" {
		argv = append([]string{taskset, "-c", "0"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	if err := waitHealthy("http://" + svc + "/healthz"); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, out.String())
	}
	pid := cmd.Process.Pid // taskset execs the server in place: same pid
	var urls []string
	for _, p := range mix {
		urls = append(urls, "http://"+svc+p)
	}
	builtin := func(rate int) func(time.Duration) (int64, time.Duration, error) {
		return func(d time.Duration) (int64, time.Duration, error) { return runBuiltin(taskset, urls, rate, conns, d) }
	}
	saturate := builtin(0)
	if useWrk {
		saturate = func(d time.Duration) (int64, time.Duration, error) { return runWrk(taskset, svc, mix, conns, d, tmp) }
	}
	if _, _, err := saturate(warmup); err != nil {
		return nil, err
	}
	var ws []window
	for _, load := range []func(time.Duration) (int64, time.Duration, error){builtin(rate), saturate} {
		before, err := procCPU(pid)
		if err != nil {
			return nil, err
		}
		reqs, elapsed, err := load(duration)
		if err != nil {
			return nil, err
		}
		after, err := procCPU(pid)
		if err != nil {
			return nil, err
		}
		ws = append(ws, window{reqs, elapsed, after - before})
	}
	return ws, nil
}

// runBuiltin runs this program as the built-in load generator in its own process, pinned to CPU 1.
func runBuiltin(taskset string, urls []string, rate, conns int, d time.Duration) (int64, time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	argv := []string{self, "-load-urls", strings.Join(urls, ","), "-load-rate", strconv.Itoa(rate), "-load-conns", strconv.Itoa(conns), "-load-duration", d.String()}
	if taskset != "" {
		argv = append([]string{taskset, "-c", "1"}, argv...)
	}
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("load generator: %v", err)
	}
	var reqs, errs int64
	var elapsed time.Duration
	var first string
	if _, err := fmt.Sscanf(string(out), "%d %d %d %q", &reqs, &errs, &elapsed, &first); err != nil {
		return 0, 0, fmt.Errorf("load generator output %q: %v", out, err)
	}
	if errs > 0 {
		return 0, 0, fmt.Errorf("load generator: %d failed requests (first: %s)", errs, first)
	}
	return reqs, elapsed, nil
}

var (
	wrkTotal = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(us|ms|s|m)`)
	wrkBad   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)`)
)

// runWrk drives the mix with wrk and returns completed requests and the elapsed time it reports.
func runWrk(taskset, svc string, mix []string, conns int, d time.Duration, tmp string) (int64, time.Duration, error) {
	script := filepath.Join(tmp, "mix.lua")
	var quoted []string
	for _, p := range mix {
		quoted = append(quoted, strconv.Quote(p))
	}
	lua := fmt.Sprintf("local paths = {%s}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i %% #paths) + 1])\nend\n", strings.Join(quoted, ", "))
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		return 0, 0, err
	}
	argv := []string{"wrk", "-t1", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(int(d.Seconds())) + "s", "-s", script, "http://" + svc}
	if taskset != "" {
		argv = append([]string{taskset, "-c", "1"}, argv...)
	}
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if m := wrkBad.FindSubmatch(out); m != nil {
		return 0, 0, fmt.Errorf("wrk saw errors:\n%s", out)
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

// procCPU is the user+system CPU time of a process so far (Linux).
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	rest := string(data[bytes.LastIndexByte(data, ')')+2:])
	f := strings.Fields(rest)
	// rest starts at field 3 (state); utime and stime are fields 14 and 15.
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / time.Duration(clockTicks()), nil
}

func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
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
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
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

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

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
