package launch

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// repoRoot is this checkout.
func repoRoot(t *testing.T) string {
	t.Helper()
	src, err := checkout()
	if err != nil {
		t.Fatal(err)
	}
	return src.Dir
}

// copySources copies what the engine is built from (go.mod, go.sum, cmd, internal, targets;
// no tests, no test data) into a new directory and returns it.
func copySources(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	dst := filepath.Join(t.TempDir(), "scratchkit")
	for _, f := range []string{"go.mod", "go.sum"} {
		copyFile(t, filepath.Join(root, f), filepath.Join(dst, f))
	}
	for _, d := range sourceDirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.IsDir() && de.Name() == "testdata" {
				return filepath.SkipDir
			}
			if de.IsDir() || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			copyFile(t, p, filepath.Join(dst, rel))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, to, string(data))
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// runs checks that an engine binary starts and knows its commands.
func runs(t *testing.T, bin string) {
	t.Helper()
	out, err := exec.Command(bin, "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "usage: scratchkit") {
		t.Fatalf("%s -h: %v\n%s", bin, err, out)
	}
}

func TestCheckoutHashFollowsEngineSourcesOnly(t *testing.T) {
	src := Source{Dir: copySources(t)}
	h1, err := src.Hash()
	if err != nil {
		t.Fatal(err)
	}
	// Docs, examples and tests are not engine sources.
	copyFile(t, filepath.Join(src.Dir, "go.mod"), filepath.Join(src.Dir, "docs", "x.md"))
	copyFile(t, filepath.Join(src.Dir, "go.mod"), filepath.Join(src.Dir, "targets", "x_test.go"))
	copyFile(t, filepath.Join(src.Dir, "go.mod"), filepath.Join(src.Dir, "targets", "testdata", "x"))
	if h, _ := src.Hash(); h != h1 {
		t.Error("a doc, a test or test data changed the engine's source hash")
	}
	for _, f := range []string{"go.sum", "targets/image/image.go", "cmd/scratchkit/main.go"} {
		appendTo(t, filepath.Join(src.Dir, f), "\n")
		h2, _ := src.Hash()
		if h2 == h1 {
			t.Errorf("changing %s left the engine's source hash unchanged", f)
		}
		h1 = h2
	}
}

func TestKeyCoversVersionGoAndSource(t *testing.T) {
	c := &Cache{Dir: t.TempDir(), GoVersion: "go1.26.8"}
	v1, _, _ := c.key(Source{Module: ModulePath, Version: "v1.0.0"})
	v2, _, _ := c.key(Source{Module: ModulePath, Version: "v1.0.1"})
	c2 := &Cache{Dir: c.Dir, GoVersion: "go1.27.0"}
	g2, _, _ := c2.key(Source{Module: ModulePath, Version: "v1.0.0"})
	if v1 == v2 || v1 == g2 || v2 == g2 {
		t.Errorf("keys collide: %s %s %s", v1, v2, g2)
	}
	for _, k := range []string{v1, v2, g2} {
		if strings.ContainsAny(k, "/@ ") {
			t.Errorf("key %q is not a safe folder name", k)
		}
	}
}

// A checkout (a replace directive's directory): built once, reused while unchanged, rebuilt
// after any change to its sources, the older build removed.
func TestEngineFollowsCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the engine")
	}
	src := Source{Dir: copySources(t)}
	var log bytes.Buffer
	c := &Cache{Dir: t.TempDir(), Log: &log}
	ctx := context.Background()
	first, err := c.Engine(ctx, src, Core)
	if err != nil {
		t.Fatal(err)
	}
	runs(t, first)
	if !strings.Contains(log.String(), "building the scratchkit engine from "+src.Dir) {
		t.Errorf("the first build said: %q", log.String())
	}
	log.Reset()
	again, err := c.Engine(ctx, src, Core)
	if err != nil || again != first || log.Len() != 0 {
		t.Fatalf("unchanged checkout: %s, %v, said %q; want %s reused silently", again, err, log.String(), first)
	}
	appendTo(t, filepath.Join(src.Dir, "cmd", "scratchkit", "main.go"), "\n// changed\n")
	changed, err := c.Engine(ctx, src, Core)
	if err != nil {
		t.Fatal(err)
	}
	if changed == first || !strings.Contains(log.String(), "building") {
		t.Fatalf("a changed source file did not rebuild the engine (%s)", changed)
	}
	runs(t, changed)
	if _, err := os.Stat(first); err == nil {
		t.Errorf("the engine of the older checkout state %s is still cached", first)
	}
}

// Two processes asking for the same engine on an empty cache at once: both get it, built once.
func TestConcurrentFirstBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the engine")
	}
	if dir := os.Getenv("SCRATCHKIT_TEST_CONCURRENT_CACHE"); dir != "" {
		bin, err := (&Cache{Dir: dir}).Engine(context.Background(), Source{Dir: os.Getenv("SCRATCHKIT_TEST_CONCURRENT_SRC")}, Core)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("ENGINE", bin)
		return
	}
	src := copySources(t)
	cache := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(self, "-test.run=^TestConcurrentFirstBuild$", "-test.v")
			cmd.Env = append(os.Environ(), "SCRATCHKIT_TEST_CONCURRENT_CACHE="+cache, "SCRATCHKIT_TEST_CONCURRENT_SRC="+src)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	var bins []string
	builds := 0
	for i := range outs {
		if errs[i] != nil {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
		builds += strings.Count(outs[i], "building the scratchkit engine")
		for _, l := range strings.Split(outs[i], "\n") {
			if b, ok := strings.CutPrefix(l, "ENGINE "); ok {
				bins = append(bins, b)
			}
		}
	}
	if len(bins) != 2 || bins[0] != bins[1] {
		t.Fatalf("engines: %v", bins)
	}
	if builds != 1 {
		t.Errorf("the engine was built %d times, want once", builds)
	}
	runs(t, bins[0])
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(bins[0]), ".build-*"))
	if len(leftovers) > 0 {
		t.Errorf("build leftovers: %v", leftovers)
	}
}

// A magefile requiring scratchkit at a version (no replace): the engine is go installed at that
// version from the module proxy, here a file:// proxy holding this checkout's module zip; a new
// version is a new engine.
func TestEngineFromModuleVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the engine")
	}
	src := copySources(t)
	proxy := t.TempDir()
	stamp := time.Now().UTC()
	var versions []string
	for i := range 2 {
		v := fmt.Sprintf("v0.0.0-%s-%012x", stamp.Add(time.Duration(i)*time.Second).Format("20060102150405"), stamp.UnixNano()+int64(i))
		publishVersion(t, proxy, src, v)
		versions = append(versions, v)
	}
	t.Setenv("GOPROXY", "file://"+proxy+","+goEnv(t, "GOPROXY"))
	t.Setenv("GONOSUMDB", ModulePath)
	t.Setenv("GOFLAGS", "-mod=mod")
	var log bytes.Buffer
	c := &Cache{Dir: t.TempDir(), Log: &log}
	var bins []string
	for _, v := range versions {
		bin, err := c.Engine(context.Background(), Source{Module: ModulePath, Version: v}, Core)
		if err != nil {
			t.Fatal(err)
		}
		runs(t, bin)
		bins = append(bins, bin)
	}
	if bins[0] == bins[1] {
		t.Fatalf("two versions share the engine %s", bins[0])
	}
	if n := strings.Count(log.String(), "building the scratchkit engine v0.0.0-"); n != 2 {
		t.Errorf("builds said: %q", log.String())
	}
}

// publishVersion writes dir as module version v into a file:// GOPROXY directory, and removes
// that version from the module cache when the test ends.
func publishVersion(t *testing.T, proxy, dir, v string) {
	t.Helper()
	at := filepath.Join(proxy, ModulePath, "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	var zbuf bytes.Buffer
	if err := modzip.CreateFromDir(&zbuf, module.Version{Path: ModulePath, Version: v}, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := zip.NewReader(bytes.NewReader(zbuf.Bytes()), int64(zbuf.Len())); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		v + ".zip":  zbuf.Bytes(),
		v + ".mod":  gomod,
		v + ".info": fmt.Appendf(nil, `{"Version":%q,"Time":%q}`, v, time.Now().UTC().Format(time.RFC3339)),
	} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(filepath.Join(at, "list"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, v)
	f.Close()
	modcache := goEnv(t, "GOMODCACHE")
	t.Cleanup(func() {
		extracted := filepath.Join(modcache, ModulePath+"@"+v)
		filepath.WalkDir(extracted, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(extracted)
		dl, _ := filepath.Glob(filepath.Join(modcache, "cache", "download", ModulePath, "@v", v+".*"))
		for _, p := range dl {
			os.Remove(p)
		}
	})
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// A run killed with SIGKILL cannot remove its status directory; the next run removes it, and
// leaves a running process's alone.
func TestStatusDirOfAKilledRunIsSwept(t *testing.T) {
	if os.Getenv("SCRATCHKIT_STATUSDIR_HELPER") == "1" {
		dir, err := statusDir()
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(dir)
		time.Sleep(time.Minute) // until killed
		return
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	start := func() (*exec.Cmd, string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStatusDirOfAKilledRunIsSwept$")
		cmd.Env = append(os.Environ(), "SCRATCHKIT_STATUSDIR_HELPER=1", "TMPDIR="+tmp)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line := make([]byte, 4096)
		n, _ := out.Read(line)
		dir := strings.TrimSpace(string(line[:n]))
		if !strings.HasPrefix(filepath.Base(dir), fmt.Sprintf("%s%d-", statusDirPrefix, cmd.Process.Pid)) {
			t.Fatalf("the helper's status directory %q is not named for its pid %d", dir, cmd.Process.Pid)
		}
		return cmd, dir
	}
	killed, killedDir := start()
	running, runningDir := start()
	defer func() { _ = running.Process.Kill(); _ = running.Wait() }()
	if err := killed.Process.Kill(); err != nil { // SIGKILL: no deferred clean-up runs
		t.Fatal(err)
	}
	_ = killed.Wait()
	if _, err := os.Stat(killedDir); err != nil {
		t.Fatalf("the killed run's directory is already gone (%v): the test shows nothing", err)
	}
	mine, err := statusDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(killedDir); !os.IsNotExist(err) {
		t.Errorf("the killed run's status directory %s outlived the next run: %v", killedDir, err)
	}
	for _, d := range []string{runningDir, mine} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s of a live process was removed: %v", d, err)
		}
	}
}
