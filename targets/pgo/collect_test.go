package pgo

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/scratchkit/scratchkit/internal/testenv"
)

// TestCollectReplicas profiles two and three running replicas of the example at once over real
// HTTP and checks that every replica is an input and the merged CPU is the sum of the scaled
// inputs, each scaled to the busiest one. Two-second windows: with one, a replica starved of CPU
// on a loaded machine can yield too few samples to be a usable profile.
func TestCollectReplicas(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d replicas", n), func(t *testing.T) {
			var rs []replica
			var eps []Endpoint
			for i := 0; i < n; i++ {
				r := startReplica(t)
				rs = append(rs, r)
				u := r.Debug // base URL
				if i == 1 {
					u = r.Debug + "/debug/pprof/profile" // full URL
				}
				eps = append(eps, Endpoint{URL: u})
			}
			stop := drive(t, rs...)
			merged, inputs, err := Collect(context.Background(), Options{Endpoints: eps, Seconds: 2, MainModule: helloModule, Log: t.Logf})
			load := stop()
			if err != nil {
				t.Fatalf("%v (load: %+v)", err, load)
			}
			if len(inputs) != n {
				t.Fatalf("%d inputs, want %d", len(inputs), n)
			}
			var most, sum, samples int64
			var window time.Duration
			for _, in := range inputs {
				most = max(most, int64(in.CPU))
			}
			for i, in := range inputs {
				if in.Err != nil || in.Kind != "endpoint" || !strings.HasPrefix(in.Source, rs[i].Debug+"/debug/pprof/profile?seconds=2") {
					t.Errorf("input %d: %+v", i, in)
				}
				if in.Samples <= 0 || in.CPU <= 0 || in.Scale < 1 {
					t.Errorf("input %s: %d samples, %s CPU, scale %g", in.Source, in.Samples, in.CPU, in.Scale)
				}
				// Each sample is rounded on its own: at most half a nanosecond each.
				if d := in.Weight - most; d > in.Samples || d < -in.Samples {
					t.Errorf("input %s weighs %d after scaling, want the busiest input's %d", in.Source, in.Weight, most)
				}
				sum += in.Weight
				samples += in.Samples
				window += in.Duration
			}
			if got := total(merged, cpuIndex(merged)); got != sum {
				t.Errorf("merged CPU %d, want the sum of the scaled inputs %d", got, sum)
			}
			if merged.DurationNanos != int64(window) {
				t.Errorf("merged duration %s, want the inputs' %s", time.Duration(merged.DurationNanos), window)
			}
			if !hasFunction(merged, "main.digest") {
				t.Errorf("merged profile lacks main.digest, the example's hot function")
			}
			r := Summarize(merged, inputs, 5)
			if r.Used != n || r.Samples != samples {
				t.Errorf("report: %d used, %d samples; want %d, %d", r.Used, r.Samples, n, samples)
			}
		})
	}
}

func hasFunction(p *profile.Profile, name string) bool {
	for _, f := range p.Function {
		if f.Name == name {
			return true
		}
	}
	return false
}

// TestBadInputsKeepProfile runs Refresh with one bad input at a time against a main package that
// already has a good default.pgo: each fails with its reason naming the source, and the old
// profile stays byte for byte.
func TestBadInputsKeepProfile(t *testing.T) {
	r := startReplica(t)
	good := realProfile(t)
	dir := t.TempDir()
	mainDir := filepath.Join(dir, "main")
	if err := os.Mkdir(mainDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := writeProfile(t, mainDir, DefaultFile, good)
	oldBytes, _ := os.ReadFile(old)
	oldInfo, _ := os.Stat(old)

	serve := func(status int, contentType string, body []byte) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			w.Write(body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	emptyCPU, _ := Encode(synth(nil, nil, synthOpts{}))
	notGo, _ := Encode(synth([][]string{{"Foo::bar()@foo.cc:3:4", "main@main.cc:1:2"}}, []int64{20e6}, synthOpts{noRuntime: true}))
	bare, _ := Encode(synth([][]string{{"main.work", "net/http.serve"}}, []int64{20e6}, synthOpts{noSymbols: true}))
	goodBytes, _ := Encode(good)
	down := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))

	for _, tc := range []struct {
		name   string
		opts   Options
		kind   error
		source string
		says   string
	}{
		{"endpoint down", Options{Endpoints: []Endpoint{{URL: down}}}, ErrUnreachable, down, "connection refused"},
		{"401", Options{Endpoints: []Endpoint{{URL: serve(401, "text/plain", []byte("Unauthorized\n"))}}}, ErrUnauthorized, "http://127.0.0.1", "401 Unauthorized — set pgo.bearer_token_env"},
		{"404 on the service port", Options{Endpoints: []Endpoint{{URL: r.Service}}}, ErrNotFound, r.Service + "/debug/pprof/profile", "404 Not Found"},
		{"HTML page", Options{Endpoints: []Endpoint{{URL: serve(200, "text/html", []byte("<!DOCTYPE html><html><body>Login</body></html>"))}}}, ErrHTML, "http://127.0.0.1", "an HTML page, not a profile"},
		{"heap profile", Options{Endpoints: []Endpoint{{URL: r.Debug + "/debug/pprof/heap"}}}, ErrNotCPU, r.Debug + "/debug/pprof/heap", "a heap profile (alloc_objects/count"},
		{"no samples", Options{Endpoints: []Endpoint{{URL: serve(200, "application/octet-stream", emptyCPU)}}}, ErrNoSamples, "http://127.0.0.1", "no samples: was the service busy during the 30s window?"},
		{"500 after retries", Options{Endpoints: []Endpoint{{URL: serve(500, "text/plain", []byte("Could not enable CPU profiling: cpu profiling already in use\n"))}}}, ErrHTTPStatus, "http://127.0.0.1", "cpu profiling already in use (after 2 attempts)"},
		{"not a Go profile", Options{Files: []string{file("cxx.pprof", notGo)}}, ErrNotGo, filepath.Join(dir, "cxx.pprof"), "not a Go profile"},
		{"not symbolized", Options{Files: []string{file("bare.pprof", bare)}}, ErrNotSymbolized, filepath.Join(dir, "bare.pprof"), "not symbolized"},
		{"empty file", Options{Files: []string{file("empty.pprof", emptyCPU)}}, ErrNoSamples, filepath.Join(dir, "empty.pprof"), "no samples"},
		{"text file", Options{Files: []string{file("notes.txt", []byte("flat flat% sum% cum cum%\n10ms 50% main.work\n"))}}, ErrNotProfile, filepath.Join(dir, "notes.txt"), "not a pprof profile"},
		{"missing file", Options{Files: []string{filepath.Join(dir, "nope.pprof")}}, ErrNotFound, filepath.Join(dir, "nope.pprof"), "no such file"},
		{"another program", Options{Files: []string{file("other.pprof", goodBytes)}, MainModule: "example.com/other"}, ErrNotMainModule, filepath.Join(dir, "other.pprof"), "no samples in module example.com/other"},
		{"one of two bad", Options{Files: []string{file("good.pprof", goodBytes), filepath.Join(dir, "nope.pprof")}}, ErrNotFound, filepath.Join(dir, "nope.pprof"), "1 of 2 profiles are usable, 2 required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Seconds = 1
			tc.opts.Retries = 1
			tc.opts.RetryBackoff = 10 * time.Millisecond
			res, err := Refresh(context.Background(), tc.opts, []Target{{Build: "hello", MainDir: mainDir, InModule: true}}, PlaceOptions{}, "")
			if !errors.Is(err, ErrTooFewSources) || !errors.Is(err, tc.kind) {
				t.Fatalf("got %v, want %v and %v", err, ErrTooFewSources, tc.kind)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.source) || !strings.Contains(msg, tc.says) {
				t.Errorf("error does not name the source %q and say %q:\n%s", tc.source, tc.says, msg)
			}
			if res.Placements != nil {
				t.Errorf("placed %+v", res.Placements)
			}
			var bad int
			for _, in := range res.Report.Inputs {
				if in.Err != nil {
					bad++
				}
			}
			if bad != 1 {
				t.Errorf("report lists %d bad inputs, want 1: %+v", bad, res.Report.Inputs)
			}
			now, err := os.ReadFile(old)
			if err != nil || !bytes.Equal(now, oldBytes) {
				t.Fatalf("default.pgo changed after a failed run (%v)", err)
			}
			if info, _ := os.Stat(old); !info.ModTime().Equal(oldInfo.ModTime()) {
				t.Errorf("default.pgo was rewritten")
			}
		})
	}
}

// TestPlaceRefusesBadProfile calls Place directly with profiles that must not become default.pgo.
func TestPlaceRefusesBadProfile(t *testing.T) {
	dir := t.TempDir()
	old := writeProfile(t, dir, DefaultFile, realProfile(t))
	oldBytes, _ := os.ReadFile(old)
	target := []Target{{Build: "hello", MainDir: dir, InModule: true}}
	if _, err := Place(synth(nil, nil, synthOpts{}), target, PlaceOptions{}); !errors.Is(err, ErrNoSamples) {
		t.Errorf("empty profile: got %v, want ErrNoSamples", err)
	}
	if _, err := Place(realProfile(t), target, PlaceOptions{MainModule: "example.com/other"}); !errors.Is(err, ErrNotMainModule) {
		t.Errorf("other module: got %v, want ErrNotMainModule", err)
	}
	if now, _ := os.ReadFile(old); !bytes.Equal(now, oldBytes) {
		t.Fatal("default.pgo changed")
	}
}

// TestMinSources goes on with the valid inputs when the caller accepts fewer, and lists the bad.
func TestMinSources(t *testing.T) {
	dir := t.TempDir()
	good := writeProfile(t, dir, "good.pprof", realProfile(t))
	down := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	opts := Options{Files: []string{good}, Endpoints: []Endpoint{{URL: down}}, Seconds: 1, Retries: -1, MinSources: 1, MainModule: helloModule}
	p, inputs, err := Collect(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if p == nil || len(inputs) != 2 || !errors.Is(inputs[0].Err, ErrUnreachable) || inputs[1].Err != nil {
		t.Fatalf("inputs: %+v", inputs)
	}
	opts.MinSources = 3
	if _, _, err := Collect(context.Background(), opts); !errors.Is(err, ErrConfig) {
		t.Errorf("MinSources above the number of sources: got %v, want ErrConfig", err)
	}
	if _, _, err := Collect(context.Background(), Options{}); !errors.Is(err, ErrConfig) {
		t.Errorf("no sources: got %v, want ErrConfig", err)
	}
}

// TestRetries retries 5xx answers with backoff and succeeds once the endpoint recovers.
func TestRetries(t *testing.T) {
	data, _ := Encode(realProfile(t))
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	_, inputs, err := Collect(context.Background(), Options{Endpoints: []Endpoint{{URL: srv.URL}}, Retries: 2, RetryBackoff: 5 * time.Millisecond})
	if err != nil || hits.Load() != 3 || inputs[0].Err != nil {
		t.Fatalf("err %v after %d requests", err, hits.Load())
	}
	// A 4xx is an answer, not a hiccup: no retry.
	hits.Store(0)
	srv4 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "who?", http.StatusForbidden)
	}))
	defer srv4.Close()
	if _, _, err := Collect(context.Background(), Options{Endpoints: []Endpoint{{URL: srv4.URL}}, Retries: 3, RetryBackoff: time.Millisecond}); !errors.Is(err, ErrUnauthorized) || hits.Load() != 1 {
		t.Errorf("403: %v after %d requests, want ErrUnauthorized after 1", err, hits.Load())
	}
}

// TestCancel stops a long profile fetch when the context ends.
func TestCancel(t *testing.T) {
	r := startReplica(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, _, err := Collect(ctx, Options{Endpoints: []Endpoint{{URL: r.Debug}}, Seconds: 60})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// TestHeadersAndToken sends the bearer token from the named variable and the extra headers.
func TestHeadersAndToken(t *testing.T) {
	data, _ := Encode(realProfile(t))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("X-Tenant") != "blue" {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	ep := Endpoint{URL: srv.URL, BearerTokenEnv: "PGO_TEST_TOKEN", Headers: map[string]string{"X-Tenant": "blue"}}
	t.Setenv("PGO_TEST_TOKEN", "s3cret")
	if _, _, err := Collect(context.Background(), Options{Endpoints: []Endpoint{ep}}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGO_TEST_TOKEN", "stale")
	_, _, err := Collect(context.Background(), Options{Endpoints: []Endpoint{ep}})
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "PGO_TEST_TOKEN was refused") {
		t.Errorf("wrong token: %v", err)
	}
	t.Setenv("PGO_TEST_TOKEN", "")
	_, _, err = Collect(context.Background(), Options{Endpoints: []Endpoint{ep}})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "PGO_TEST_TOKEN is empty or unset") {
		t.Errorf("no token: %v", err)
	}
}

// TestTLS trusts a CA file, refuses an unknown certificate, and skips verification only when asked.
func TestTLS(t *testing.T) {
	data, _ := Encode(realProfile(t))
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer srv.Close()
	srv.Config.ErrorLog = nil
	srv.TLS.MinVersion = tls.VersionTLS12
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(ep Endpoint) error {
		_, _, err := Collect(context.Background(), Options{Endpoints: []Endpoint{ep}, Retries: -1})
		return err
	}
	if err := run(Endpoint{URL: srv.URL, CAFile: ca}); err != nil {
		t.Errorf("with the CA file: %v", err)
	}
	if err := run(Endpoint{URL: srv.URL}); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the CA: got %v, want a certificate error", err)
	}
	if err := run(Endpoint{URL: srv.URL, Insecure: true}); err != nil {
		t.Errorf("insecure: %v", err)
	}
	if err := run(Endpoint{URL: srv.URL, CAFile: filepath.Join(t.TempDir(), "none.pem")}); !errors.Is(err, ErrConfig) {
		t.Errorf("missing CA file: got %v, want ErrConfig", err)
	}
}
