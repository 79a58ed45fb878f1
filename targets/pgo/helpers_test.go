package pgo

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/scratchkit/scratchkit/internal/testenv"
)

// helloModule is the module path of the example service.
const helloModule = "example.com/hello"

// loadHelperEnv makes the test binary act as a load command (see TestMain): it drives the URLs
// in the variable, comma-separated, until it is stopped.
const loadHelperEnv = "PGO_TEST_LOAD_URLS"

func TestMain(m *testing.M) {
	if urls := os.Getenv(loadHelperEnv); urls != "" {
		_, err := GenerateLoad(context.Background(), LoadOptions{URLs: strings.Split(urls, ","), Concurrency: 2})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	testenv.Main(m)
}

// exampleDir is the example service's source, read but never written by the tests.
func exampleDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../../examples/hello")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// hello builds the example once per test process with `go build -trimpath -pgo=off`.
func hello(t testing.TB) string {
	t.Helper()
	return testenv.GoBuild(t, testenv.GoProgram{Dir: exampleDir(t), Flags: []string{"-trimpath", "-pgo=off"}})
}

// replica is one running instance of the example service.
type replica struct {
	Service string // http://127.0.0.1:PORT
	Debug   string // http://127.0.0.1:PORT, serving /debug/pprof
}

// startReplica runs the example on free loopback ports until the test ends.
func startReplica(t testing.TB) replica {
	t.Helper()
	bin := hello(t)
	svc := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dbg := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	var out bytes.Buffer
	cmd := exec.Command(bin, "-addr", svc, "-debug-addr", dbg)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	r := replica{Service: "http://" + svc, Debug: "http://" + dbg}
	deadline := time.Now().Add(15 * time.Second)
	for _, u := range []string{r.Service + "/healthz", r.Debug + "/debug/pprof/"} {
		for {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s did not come up: %v\n%s", u, err, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return r
}

// workURLs are requests that keep the example's own code (main.digest) busy.
func workURLs(rs ...replica) []string {
	var urls []string
	for _, r := range rs {
		urls = append(urls, r.Service+"/work?n=20000", r.Service+"/time?tz=Europe/Berlin")
	}
	return urls
}

// drive loads the replicas until the returned stop function is called; stop returns the result.
func drive(t testing.TB, rs ...replica) (stop func() LoadResult) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan LoadResult, 1)
	go func() {
		r, err := GenerateLoad(ctx, LoadOptions{URLs: workURLs(rs...), Concurrency: 2 * len(rs)})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	var once sync.Once
	var res LoadResult
	stop = func() LoadResult {
		once.Do(func() {
			cancel()
			res = <-done
		})
		return res
	}
	t.Cleanup(func() { stop() })
	return stop
}

// realProfile is a CPU profile of the example under load, fetched once per test process over
// real HTTP; each call parses a fresh copy.
func realProfile(t testing.TB) *profile.Profile {
	t.Helper()
	path := testenv.Fixture(t, "real.pprof", func(path string) error {
		r := startReplica(t)
		stop := drive(t, r)
		p, _, err := Collect(context.Background(), Options{Endpoints: []Endpoint{{URL: r.Debug}}, Seconds: 1, MainModule: helloModule})
		stop()
		if err != nil {
			return err
		}
		data, err := Encode(p)
		if err != nil {
			return err
		}
		return os.WriteFile(path, data, 0o644)
	})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeProfile writes p to a file in dir and returns its path.
func writeProfile(t testing.TB, dir, name string, p *profile.Profile) string {
	t.Helper()
	data, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyExample copies the example module's sources (not dist/, not its committed default.pgo)
// into a new temporary directory.
func copyExample(t testing.TB) string {
	t.Helper()
	src := exampleDir(t)
	dst := filepath.Join(t.TempDir(), "hello")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if rel != "." && (d.Name() == "dist" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		if rel == DefaultFile || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// synth builds a CPU profile from stacks (leaf first, "name@file:startline:line" or plain names)
// with one sample each of the given cpu nanoseconds. Options turn off parts of a real Go profile.
type synthOpts struct {
	noRuntime    bool // no runtime.* frames appended
	noStartLines bool
	noSymbols    bool // locations carry addresses only
	sampleTypes  []*profile.ValueType
}

func synth(stacks [][]string, values []int64, o synthOpts) *profile.Profile {
	types := o.sampleTypes
	if types == nil {
		types = []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}}
	}
	p := &profile.Profile{
		SampleType:    types,
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        10_000_000,
		DurationNanos: int64(30 * time.Second),
		TimeNanos:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(),
	}
	m := &profile.Mapping{ID: 1, Start: 0x400000, Limit: 0x800000, File: "/srv/app", HasFunctions: !o.noSymbols}
	p.Mapping = []*profile.Mapping{m}
	funcs := map[string]*profile.Function{}
	locs := map[string]*profile.Location{}
	frame := func(spec string) *profile.Location {
		if l := locs[spec]; l != nil {
			return l
		}
		name, file, start, line := spec, "app/x.go", int64(10), int64(12)
		if i := strings.Index(spec, "@"); i >= 0 {
			name = spec[:i]
			fmt.Sscanf(strings.ReplaceAll(spec[i+1:], ":", " "), "%s %d %d", &file, &start, &line)
		}
		if o.noStartLines {
			start = 0
		}
		l := &profile.Location{ID: uint64(len(p.Location) + 1), Mapping: m, Address: 0x400000 + uint64(len(p.Location)+1)*16}
		if !o.noSymbols {
			key := name + "@" + file
			f := funcs[key]
			if f == nil {
				f = &profile.Function{ID: uint64(len(p.Function) + 1), Name: name, SystemName: name, Filename: file, StartLine: start}
				funcs[key] = f
				p.Function = append(p.Function, f)
			}
			l.Line = []profile.Line{{Function: f, Line: line}}
		}
		locs[spec] = l
		p.Location = append(p.Location, l)
		return l
	}
	for i, st := range stacks {
		s := &profile.Sample{}
		for _, spec := range st {
			s.Location = append(s.Location, frame(spec))
		}
		if !o.noRuntime {
			s.Location = append(s.Location, frame("runtime.goexit@runtime/asm_amd64.s:1700:1701"))
		}
		v := values[i]
		s.Value = make([]int64, len(types))
		for j, vt := range types {
			if vt.Unit == "count" {
				s.Value[j] = max(v/p.Period, 1)
				if v == 0 {
					s.Value[j] = 0
				}
			} else {
				s.Value[j] = v
			}
		}
		p.Sample = append(p.Sample, s)
	}
	return p
}
