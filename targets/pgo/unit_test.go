package pgo

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

func TestProfileURL(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string
		seconds int
	}{
		{"http://10.0.0.7:6060", "http://10.0.0.7:6060/debug/pprof/profile?seconds=7", 7},
		{"http://10.0.0.7:6060/", "http://10.0.0.7:6060/debug/pprof/profile?seconds=7", 7},
		{"https://svc.internal/debug/pprof/", "https://svc.internal/debug/pprof/profile?seconds=7", 7},
		{"https://svc.internal/admin/debug/pprof", "https://svc.internal/admin/debug/pprof/profile?seconds=7", 7},
		{"http://h:1/debug/pprof/profile", "http://h:1/debug/pprof/profile?seconds=7", 7},
		{"http://h:1/debug/pprof/profile?seconds=3", "http://h:1/debug/pprof/profile?seconds=3", 3},
		{"http://h:1/custom/cpu?x=1", "http://h:1/custom/cpu?seconds=7&x=1", 7},
	} {
		got, secs, err := ProfileURL(tc.in, 7)
		if err != nil || got != tc.want || secs != tc.seconds {
			t.Errorf("ProfileURL(%q) = %q, %d, %v; want %q, %d", tc.in, got, secs, err, tc.want, tc.seconds)
		}
	}
	for _, bad := range []string{"10.0.0.7:6060", "ftp://h/x", "http://", "http://h/debug/pprof/profile?seconds=x"} {
		if _, _, err := ProfileURL(bad, 7); !errors.Is(err, ErrConfig) {
			t.Errorf("ProfileURL(%q): got %v, want ErrConfig", bad, err)
		}
	}
}

func TestParseEndpoints(t *testing.T) {
	got := ParseEndpoints(" http://a:6060, http://b:6060/debug/pprof/profile ,,http://c:1 ")
	var urls []string
	for _, e := range got {
		urls = append(urls, e.URL)
	}
	if want := "http://a:6060 http://b:6060/debug/pprof/profile http://c:1"; strings.Join(urls, " ") != want {
		t.Fatalf("got %q, want %q", urls, want)
	}
}

func TestFuncNames(t *testing.T) {
	for _, tc := range []struct{ name, pkg, key string }{
		{"main.digest", "main", "digest"},
		{"main.main.func1", "main", "main"},
		{"main.main.func1.2", "main", "main"},
		{"main.main.gowrap1", "main", "main"},
		{"net/http.(*conn).serve", "net/http", "(*conn).serve"},
		{"net/http.(*conn).serve.func1", "net/http", "(*conn).serve"},
		{"example.com/m/pkg.T.M", "example.com/m/pkg", "T.M"},
		{"example.com/m/pkg.T.M-fm", "example.com/m/pkg", "T.M"},
		{"example.com/m/pkg.Map[go.shape.struct { a/b.T }]", "example.com/m/pkg", "Map"},
		{"example.com/m/pkg.(*List[...]).Push", "example.com/m/pkg", "(*List).Push"},
		{"gopkg.in/yaml%2ev3.(*decoder).unmarshal", "gopkg.in/yaml%2ev3", "(*decoder).unmarshal"},
		{"example.com/m.init.0", "example.com/m", "init"},
	} {
		pkg, rest := splitFuncName(tc.name)
		key, _ := funcKey(rest)
		if pkg != tc.pkg || key != tc.key {
			t.Errorf("%s: got package %q key %q, want %q %q", tc.name, pkg, key, tc.pkg, tc.key)
		}
	}
}

func TestValidate(t *testing.T) {
	good := [][]string{{"main.work@example.com/hello/main.go:10:12", "net/http.serve@net/http/server.go:100:120"}}
	heapTypes := []*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"}, {Type: "inuse_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"}}
	for _, tc := range []struct {
		name   string
		p      *profile.Profile
		module string
		kind   error
		says   string
	}{
		{"good", synth(good, []int64{20e6}, synthOpts{}), helloModule, nil, ""},
		{"heap", synth(good, []int64{20e6}, synthOpts{sampleTypes: heapTypes}), "", ErrNotCPU, "a heap profile (alloc_objects/count"},
		{"goroutine", synth(good, []int64{1}, synthOpts{sampleTypes: []*profile.ValueType{{Type: "goroutine", Unit: "count"}}}), "", ErrNotCPU, "a goroutine profile"},
		{"empty", synth(nil, nil, synthOpts{}), "", ErrNoSamples, "was the service busy during the 30s window"},
		{"zero", synth(good, []int64{0}, synthOpts{}), "", ErrNoSamples, "no samples"},
		{"not go", synth([][]string{{"Foo::bar()@foo.cc:3:4", "main@main.cc:1:2"}}, []int64{20e6}, synthOpts{noRuntime: true}), "", ErrNotGo, "not a Go profile"},
		{"old go", synth(good, []int64{20e6}, synthOpts{noStartLines: true}), "", ErrNotGo, "start lines"},
		// A few samples, all in the service's own code: Go's stacks end at the goroutine's entry.
		{"go without runtime frames", synth(good, []int64{20e6}, synthOpts{noRuntime: true}), helloModule, nil, ""},
		{"unsymbolized", synth(good, []int64{20e6}, synthOpts{noSymbols: true}), "", ErrNotSymbolized, "not symbolized"},
		{"installed module", synth([][]string{{"main.work@example.com/hello@v1.2.0/main.go:10:12"}}, []int64{20e6}, synthOpts{}), helloModule, nil, ""},
		{"other module", synth(good, []int64{20e6}, synthOpts{}), "example.com/other", ErrNotMainModule, "no samples in module example.com/other"},
		{"no module code", synth([][]string{{"net/http.serve@net/http/server.go:100:120"}}, []int64{20e6}, synthOpts{}), helloModule, ErrNotMainModule, "right service"},
	} {
		err := Validate(tc.p, tc.module)
		if tc.kind == nil {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: got %v, want %v saying %q", tc.name, err, tc.kind, tc.says)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		kind error
	}{
		{"empty", "", ErrNotProfile},
		{"html", "<!DOCTYPE html>\n<html><body>Sign in</body></html>", ErrHTML},
		{"html lower", "  <html><head><title>/debug/pprof/</title></head></html>", ErrHTML},
		{"json", `{"error":"nope"}`, ErrNotProfile},
		{"garbage", "\x00\x01\x02 definitely not a profile", ErrNotProfile},
	} {
		if _, err := Parse([]byte(tc.data)); !errors.Is(err, tc.kind) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.kind)
		}
	}
}

// TestScaleEqual checks the merge arithmetic on profiles of different lengths: every input ends
// up with the busiest one's CPU total, and the merged total is their sum.
func TestScaleEqual(t *testing.T) {
	dir := t.TempDir()
	stacks := [][]string{{"main.a@example.com/hello/main.go:10:11"}, {"main.b@example.com/hello/main.go:20:22"}}
	values := [][]int64{{30e6, 10e6}, {70e6, 50e6}, {10e6, 10e6}} // totals 40ms, 120ms, 20ms
	var files []string
	for i, v := range values {
		p := synth(stacks, v, synthOpts{})
		p.Sample[0].Label = map[string][]string{"request": {string(rune('a' + i))}}
		files = append(files, writeProfile(t, dir, string(rune('a'+i))+".pprof", p))
	}
	merged, inputs, err := Collect(context.Background(), Options{Files: files, MainModule: helloModule})
	if err != nil {
		t.Fatal(err)
	}
	var most int64
	for _, in := range inputs {
		most = max(most, int64(in.CPU))
	}
	var sum int64
	for _, in := range inputs {
		if in.Err != nil {
			t.Fatalf("%s: %v", in.Source, in.Err)
		}
		if in.Weight != most {
			t.Errorf("%s: weight %d after scaling ×%g, want the busiest input's %d", in.Source, in.Weight, in.Scale, most)
		}
		sum += in.Weight
	}
	if got := total(merged, cpuIndex(merged)); got != sum {
		t.Errorf("merged CPU %d, want the sum of scaled inputs %d", got, sum)
	}
	for _, s := range merged.Sample {
		if len(s.Label) > 0 {
			t.Errorf("merged sample keeps labels %v", s.Label)
		}
	}
	if len(merged.Sample) != 2 {
		t.Errorf("merged profile has %d samples, want the 2 distinct stacks", len(merged.Sample))
	}
}

func TestSummarize(t *testing.T) {
	// a calls b (20ms in b), a itself 30ms; c alone 50ms.
	p := synth([][]string{
		{"main.b@example.com/hello/main.go:20:21", "main.a@example.com/hello/main.go:10:12"},
		{"main.a@example.com/hello/main.go:10:11"},
		{"main.c@example.com/hello/main.go:30:31"},
	}, []int64{20e6, 30e6, 50e6}, synthOpts{})
	in := []Input{{Source: "x", Samples: 10, CPU: 100 * time.Millisecond, Duration: time.Second}, {Source: "bad", Err: errors.New("bad: down")}}
	r := Summarize(p, in, 3)
	if r.Used != 1 || r.Samples != 10 || r.CPU != 100*time.Millisecond {
		t.Errorf("inputs: %+v", r)
	}
	if r.Flat[0].Name != "main.c" || r.Flat[0].Share != 0.5 || r.Flat[1].Name != "main.a" || r.Flat[1].Share != 0.3 {
		t.Errorf("flat: %+v", r.Flat)
	}
	// cumulative: runtime.goexit is on every stack (100%), a 50%, c 50%.
	if r.Cum[0].Name != "runtime.goexit" || r.Cum[0].Share != 1 || r.Cum[1].Name != "main.a" || r.Cum[1].Share != 0.5 {
		t.Errorf("cum: %+v", r.Cum)
	}
	var buf bytes.Buffer
	if err := WriteReport(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 of 2 inputs", "bad: down", "main.c", "top by cumulative CPU"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestGenerateLoadRate(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	const rate, dur = 40, 500 * time.Millisecond
	res, err := GenerateLoad(context.Background(), LoadOptions{URLs: []string{srv.URL + "/ok", srv.URL + "/fail"}, Rate: rate, Concurrency: 3, Duration: dur})
	if err != nil {
		t.Fatal(err)
	}
	// The schedule allows at most one request per 1/rate from the start, plus the one at t=0.
	if limit := int64(rate*dur.Seconds()) + 1; res.Requests+res.Errors > limit {
		t.Errorf("%d requests in %s at %d/s, more than the schedule's %d", res.Requests+res.Errors, dur, rate, limit)
	}
	// Requests cut off by the end of the run reach the server but are not counted: at most one
	// per worker.
	if sent := res.Requests + res.Errors; sent > hits.Load() || hits.Load()-sent > 3 || res.Requests == 0 || res.Errors == 0 || !strings.Contains(res.FirstError, "500") {
		t.Errorf("result %+v, server saw %d", res, hits.Load())
	}
}
