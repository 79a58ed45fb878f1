// Command pgo-bench measures what profile-guided optimisation buys an example service, with the
// engine's own loop (targets/pgo): it copies the example's sources (not a committed default.pgo)
// to a temporary directory, builds it without a profile (-pgo=off), collects a CPU profile from
// that binary under a local workload (pgo.Collect), places it (pgo.Place), rebuilds with it
// (go build's default -pgo=auto), and measures both with pgo.Check: paired copies side by side
// on one pinned CPU, alternating slots, an A/A control, geometric means with their 95 % interval
// and range, and the verdict against the control's precision. The measuring code is the
// library's, the same the pgoCheck target runs; this is a thin caller.
//
// Run it from the repository root:
//
//	go run ./bench/pgo                                  # examples/hello, 12 rounds of 5 s
//	go run ./bench/pgo -example examples/docs -paths '/transform?n=4'
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/targets/gobuild"
	"github.com/scratchkit/scratchkit/targets/pgo"
)

var (
	example  = flag.String("example", "examples/hello", "the example module to build (copied, never modified)")
	rounds   = flag.Int("rounds", 12, "rounds per comparison, best even")
	duration = flag.Duration("duration", 5*time.Second, "each round's measured window")
	warmup   = flag.Duration("warmup", 2*time.Second, "load before each window")
	profSecs = flag.Int("profile", 20, "seconds of CPU profile to collect from the local workload")
	conns    = flag.Int("conns", 8, "connections per copy")
	paths    = flag.String("paths", "/healthz,/time?tz=Europe/Berlin,/work?n=100", "request mix, in turn, for profiling and measuring")
	rate     = flag.Int("rate", 0, "requests per second to each copy; 0: as fast as the connections go")
	keep     = flag.Bool("keep", false, "keep the temporary directory")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("pgo-bench: ")
	ctx := context.Background()

	tmp, err := os.MkdirTemp("", "pgo-bench-")
	check(err)
	if *keep {
		log.Printf("working in %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	name := filepath.Base(*example)
	mod := filepath.Join(tmp, name)
	check(copyDir(*example, mod))
	module, err := gobuild.ModulePath(ctx, mod)
	check(err)
	mix := strings.Split(*paths, ",")

	base := filepath.Join(tmp, name+"-base")
	check(goBuild(mod, base, "-pgo=off"))

	svc, dbg := freeAddr(), freeAddr()
	w := pgo.Workload{
		Command:     []string{base, "-addr", svc, "-debug-addr", dbg},
		Env:         []string{"GOMAXPROCS=1"},
		PprofURL:    "http://" + dbg,
		Ready:       "http://" + svc + "/healthz",
		URLs:        urlsFor(svc, mix),
		Rate:        *rate,
		Concurrency: *conns,
	}
	log.Printf("collecting a %ds CPU profile from %s under load", *profSecs, base)
	prof, inputs, err := pgo.Collect(ctx, pgo.Options{Seconds: *profSecs, MainModule: module, Workload: &w})
	check(err)
	placed, err := pgo.Place(prof, []pgo.Target{{Build: name, MainDir: mod, InModule: true}}, pgo.PlaceOptions{MainModule: module})
	check(err)
	check(render.PGOReport(os.Stdout, pgo.Summarize(prof, inputs, 8)))

	opt := filepath.Join(tmp, name+"-pgo")
	start := time.Now()
	check(goBuild(mod, opt))
	log.Printf("the PGO build took %s (it recompiles the standard library with the profile)", time.Since(start).Round(time.Second))

	w.Env = nil // Measure sets GOMAXPROCS=1
	rep, err := pgo.Check(ctx, pgo.CheckOptions{
		Build: name,
		Measure: pgo.MeasureOptions{
			Workload: w, Addrs: []string{svc, dbg},
			Rounds: *rounds, Duration: *duration, Warmup: *warmup,
			Log: log.Printf,
		},
		None:      pgo.Variant{Name: "none", Binary: base},
		Candidate: pgo.Variant{Name: "candidate", Binary: opt, Profile: placed[0].SHA256},
	})
	check(err)
	fmt.Printf("\n%s, %s/%s, binaries: base %d B, PGO %d B\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, fileSize(base), fileSize(opt))
	check(render.PGOCheck(os.Stdout, rep))
}

func urlsFor(addr string, mix []string) []string {
	var urls []string
	for _, p := range mix {
		urls = append(urls, "http://"+addr+p)
	}
	return urls
}

func goBuild(dir, out string, flags ...string) error {
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
			if rel != "." && (d.Name() == "dist" || d.Name() == "magefiles" || strings.HasPrefix(d.Name(), ".")) {
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

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	check(err)
	return fi.Size()
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
