package run

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/imagefs/imagetest"
	"github.com/scratchkit/scratchkit/targets/run/internal/httpprobe"
)

// envNonRootChild names the directory of TestSmokeDockerNonRoot's child process, which runs the
// test again as nobody in the docker group.
const envNonRootChild = "SCRATCHKIT_RUN_TEST_NONROOT"

// A developer in the docker group, not root, gets the http probe on the container's own loopback,
// through the prober container, and never the host's network. The test runs itself again as
// nobody (uid 65534) with the docker socket's group and nothing else.
func TestSmokeDockerNonRoot(t *testing.T) {
	if dir := os.Getenv(envNonRootChild); dir != "" {
		nonRootChild(t, dir)
		return
	}
	testenv.Docker(t)
	testenv.Root(t) // to run the child as someone else
	var st syscall.Stat_t
	if err := syscall.Stat("/var/run/docker.sock", &st); err != nil {
		testenv.Missing(t, "no docker socket at /var/run/docker.sock to give the child access to: %v", err)
	}
	dir, err := os.MkdirTemp("", "scratchkit-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	img := imagetest.Of(t, "hello", helloBinary(t), "static", "", "-addr", ":8080")
	if err := tarball.WriteToFile(filepath.Join(dir, "hello.tar"), name.MustParseReference("hello:nonroot"), img); err != nil {
		t.Fatal(err)
	}
	// The prober is built here, into the child's cache: the child finds it by source and Go
	// version (building it there, with an empty GOCACHE, would compile net/http again).
	cache := filepath.Join(dir, "cache")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := proberBinary(ctx, Options{CacheDir: filepath.Join(cache, "scratchkit"), Log: t.Logf}); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "run.test")
	copyFile(t, self, exe, 0o755)
	for _, d := range []string{"home", "gocache"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 65534, 65534)
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestSmokeDockerNonRoot$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(dir, "home"), "XDG_CACHE_HOME=" + cache,
		"GOCACHE=" + filepath.Join(dir, "gocache"), "SCRATCHKIT_E2E=" + os.Getenv("SCRATCHKIT_E2E"), envNonRootChild + "=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{st.Gid}}}
	out, err := cmd.CombinedOutput()
	t.Logf("the test as nobody in group %d:\n%s", st.Gid, out)
	if err != nil {
		t.Fatalf("as nobody in the docker group: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestSmokeDockerNonRoot")) {
		t.Fatal("the child did not run the test")
	}
}

// nonRootChild is TestSmokeDockerNonRoot as nobody.
func nonRootChild(t *testing.T, dir string) {
	if os.Geteuid() == 0 || os.Getuid() == 0 {
		t.Fatal("the child runs as root")
	}
	docker := testenv.Docker(t)
	img, err := tarball.ImageFromPath(filepath.Join(dir, "hello.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var log []string
	opts := Options{Runtime: RuntimeDocker, Docker: docker, Log: func(f string, a ...any) {
		mu.Lock()
		log = append(log, fmt.Sprintf(f, a...))
		mu.Unlock()
		t.Logf(f, a...)
	}}
	opts.Probes = []Probe{{HTTP: &HTTPProbe{Port: 8080, Path: "/healthz", Timeout: 20 * time.Second}}}
	rep := smoke(t, "hello", img, opts)
	p := ranPlatform(t, rep, RuntimeDocker)
	h := wantProbe(t, p, "http", true)
	if p.Network != "" || strings.Contains(h.Detail, "host network") || !strings.Contains(h.Detail, "prober container") {
		t.Errorf("http probe as a non-root docker user: network %q, detail %q: want the container's own loopback, through the prober", p.Network, h.Detail)
	}
	for _, l := range log {
		if strings.Contains(l, "building the http prober") {
			t.Errorf("the child built the prober instead of finding it in its cache: %s", l)
		}
	}
	if out := testenv.Run(t, docker, "ps", "--all", "--quiet", "--filter", "label="+ownerLabel+"="+owner()); strings.TrimSpace(out) != "" {
		t.Errorf("containers left behind: %s", out)
	}
}

func copyFile(t *testing.T, from, to string, perm os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// The prober is built once per source and Go version into the cache, whole or not at all, also
// when runs race for it; it probes as the run package does.
func TestProberBinaryCache(t *testing.T) {
	testenv.Tool(t, "go")
	dir := t.TempDir()
	var mu sync.Mutex
	builds := 0
	opts := Options{CacheDir: dir, Log: func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(f, "building the http prober") {
			builds++
		}
		t.Logf(f, a...)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	paths := make([]string, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = proberBinary(ctx, opts)
		}()
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if paths[i] != paths[0] || !strings.HasPrefix(paths[i], dir+string(filepath.Separator)) {
			t.Fatalf("prober paths %q, want one path under %s", paths, dir)
		}
	}
	ents, err := os.ReadDir(filepath.Dir(paths[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "prober" {
		t.Errorf("the cache holds %v, want the prober alone (no temporary files)", ents)
	}
	fi, err := os.Stat(paths[0])
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("prober %v %v, want mode 0755", fi, err)
	}
	f, err := elf.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the prober asks for a dynamic loader: it would not run on an empty image")
		}
	}
	f.Close()

	before := builds
	if p, err := proberBinary(ctx, opts); err != nil || p != paths[0] {
		t.Fatalf("second call: %q %v", p, err)
	}
	if builds != before {
		t.Error("the second call built the prober again instead of using the cache")
	}

	// The program itself: a 2xx answer, and the reason when there is none.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			fmt.Fprintln(w, "ok")
			return
		}
		http.Error(w, strings.Repeat("nope ", 1000), http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	run := func(url string) (httpprobe.Result, int) {
		out, err := exec.CommandContext(ctx, paths[0], "-url", url, "-timeout", "500ms").Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var r httpprobe.Result
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("prober output %q: %v", out, err)
		}
		return r, code
	}
	if r, code := run(srv.URL + "/healthz"); code != 0 || r.Status != 200 {
		t.Errorf("healthy: exit %d, %+v", code, r)
	}
	if r, code := run(srv.URL + "/broken"); code != 1 || r.Status != 0 || !strings.Contains(r.Last, "503") || r.Attempts < 2 {
		t.Errorf("503: exit %d, %+v", code, r)
	}
}

// Without go on PATH the prober cannot be built, and the error says what to do.
func TestProberNeedsGo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := proberBinary(context.Background(), Options{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "Put go on PATH, or set smoke.network: host") {
		t.Errorf("error %v: want what to do", err)
	}
}
