package targets_test

// End-to-end tests of the thin targets over the cached engine: what reaches the engine, what
// comes back, which engine binaries a run builds, Ctrl-C.

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/engine"
	"github.com/scratchkit/scratchkit/internal/filelock"
	"github.com/scratchkit/scratchkit/internal/testenv"
)

// A magefile importing the targets compiles at most 100 packages, all from the standard library,
// mage or scratchkit (the generated main's imports included).
func TestMagefileDependencies(t *testing.T) {
	mainfile := []string{"github.com/magefile/mage/mg", "context", "flag", "fmt", "io", "log", "os", "os/signal", "path/filepath", "sort", "strconv", "strings", "syscall", "text/tabwriter", "time"}
	cmd := exec.Command("go", append([]string{"list", "-deps", "-tags", "mage", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}|{{.ImportPath}}", "."}, mainfile...)...)
	cmd.Dir = filepath.Join("..", "examples", "hello", "magefiles")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > 100 {
		t.Errorf("a magefile importing scratchkit's targets compiles %d packages, more than 100", len(lines))
	}
	for _, l := range lines {
		nonStd, _, _ := strings.Cut(l, "|")
		if nonStd != "" && !strings.HasPrefix(nonStd, "github.com/magefile/mage/") && !strings.HasPrefix(nonStd, "github.com/scratchkit/scratchkit/") && nonStd != "example.com/hello/magefiles" {
			t.Errorf("the magefile compiles %s, from outside the standard library, mage and scratchkit", nonStd)
		}
	}
}

// engineBinaries lists the engine binaries under a cache directory.
func engineBinaries(t *testing.T, cache string) []string {
	t.Helper()
	bins, err := filepath.Glob(filepath.Join(cache, "engine", "*", "scratchkit-*"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range bins {
		if !strings.HasSuffix(b, ".lock") {
			names = append(names, filepath.Base(b))
		}
	}
	return names
}

// A first mage image on an empty cache builds the core engine only (no cosign, no docker
// client), saying so at once; keygen, which needs no signing client, runs in it too; a signing
// target then builds the full engine.
func TestFirstImageBuildsCoreEngineOnly(t *testing.T) {
	dir := project(t, nil)
	cache := t.TempDir()
	env := []string{"SCRATCHKIT_CACHE=" + cache, "COSIGN_PASSWORD=pw"}
	out := mustRun(t, dir, env, "image")
	if !strings.Contains(out, "building the scratchkit engine from") {
		t.Errorf("the first run did not say it builds the engine:\n%s", out)
	}
	if got := engineBinaries(t, cache); strings.Join(got, " ") != "scratchkit-core" {
		t.Fatalf("after mage image the cache holds %v, want the core engine only", got)
	}
	out = mustRun(t, dir, env, "image")
	if strings.Contains(out, "building the scratchkit engine") {
		t.Errorf("the second run built the engine again:\n%s", out)
	}
	out = mustRun(t, dir, env, "keygen")
	if got := engineBinaries(t, cache); strings.Join(got, " ") != "scratchkit-core" {
		t.Errorf("after mage keygen the cache holds %v, want the core engine only", got)
	}
	if !strings.Contains(out, "in "+dir+", the working directory") {
		t.Errorf("keygen does not say where the keys went:\n%s", out)
	}
	// A signing target needs the full engine (here it then finds nothing pushed to sign).
	if out, err := run(t, dir, env, "verifySignatures"); err == nil || !strings.Contains(out, "no image pushed to a registry") {
		t.Errorf("verifySignatures without a pushed image: %v\n%s", err, out)
	}
	if got := engineBinaries(t, cache); strings.Join(got, " ") != "scratchkit-core scratchkit-full" {
		t.Errorf("after mage verifySignatures the cache holds %v, want both engines", got)
	}
}

// What a magefile passes to targets.Configure reaches the engine, under the environment.
func TestConfigureReachesEngine(t *testing.T) {
	dir := project(t, map[string]string{"magefiles/magefile.go": `//go:build mage

package main

import (
	"github.com/scratchkit/scratchkit/targets"

	//mage:import
	_ "github.com/scratchkit/scratchkit/targets"
)

func init() {
	targets.Configure(targets.Config{Platforms: []string{"linux/arm64"}, Version: "v7.7.7", Dist: "out"})
}
`})
	mustRun(t, dir, []string{"SCRATCHKIT_DIST=envdist"}, "build")
	rec, err := os.ReadFile(filepath.Join(dir, "envdist", "artifacts.json"))
	if err != nil {
		t.Fatalf("the environment's dist did not win over Configure's: %v", err)
	}
	if !strings.Contains(string(rec), `"platform": "linux/arm64"`) || !strings.Contains(string(rec), `"version": "v7.7.7"`) {
		t.Errorf("Configure's platforms and version did not reach the engine:\n%s", rec)
	}
}

// A failing stage: mage exits with the engine's status and says the error once; the stages after
// it do not run, and a target that depends on it in the same invocation does not run it again.
func TestFailingStageSaysItOnce(t *testing.T) {
	dir := project(t, map[string]string{"scratchkit.yaml": "verify:\n  max_size: 1KB\n"})
	out, err := run(t, dir, nil, "verify", "image")
	var ee *exec.ExitError
	if err == nil || !errorsAs(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("mage verify image: %v, want exit status 1\n%s", err, out)
	}
	if n := strings.Count(out, "would break in a scratch or distroless image"); n != 1 {
		t.Errorf("the error appears %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "\nBuild\n"); n != 1 {
		t.Errorf("Build ran %d times:\n%s", n, out)
	}
	if strings.Contains(out, "\nImage\n") {
		t.Errorf("Image ran after Verify failed:\n%s", out)
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// Ctrl-C during smoke: the engine cleans up before it exits, leaving no container and no image.
func TestInterruptDuringSmokeLeavesNothing(t *testing.T) {
	docker := testenv.Docker(t)
	name := fmt.Sprintf("intr%d", time.Now().UnixNano()%1e9)
	dir := project(t, map[string]string{"scratchkit.yaml": fmt.Sprintf(`builds:
  - name: %s
    main: .
image:
  args: ["-addr", ":8080"]
smoke:
  runtime: docker
  timeout: 2m
  images:
    %s:
      http: {port: 9, path: /never, timeout: 2m}
`, name, name)})
	cmd := mageCommand(t, dir, nil, "smoke")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's process group
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	containers := func() string {
		return strings.TrimSpace(testenv.Run(t, docker, "ps", "--all", "--quiet", "--filter", "name="+name))
	}
	deadline := time.Now().Add(4 * time.Minute)
	for containers() == "" {
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
			t.Fatalf("no smoke container appeared:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // inside the probe's wait
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("mage smoke succeeded after Ctrl-C:\n%s", out.String())
		}
	case <-time.After(time.Minute):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("mage smoke did not exit within a minute of Ctrl-C:\n%s", out.String())
	}
	// The engine may outlive mage's 5-second wait while it cleans up.
	deadline = time.Now().Add(30 * time.Second)
	for containers() != "" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if c := containers(); c != "" {
		t.Errorf("containers left after Ctrl-C: %s\n%s", c, out.String())
	}
	if imgs := strings.TrimSpace(testenv.Run(t, docker, "images", "--quiet", "--filter", "reference=scratchkit-smoke/"+name+"*")); imgs != "" {
		t.Errorf("images left after Ctrl-C: %s", imgs)
	}
}

// The configuration's warnings are said once per mage invocation, however many targets run an
// engine process (here two, and the handover from the core to the full engine would be a third).
func TestConfigWarningsSaidOnce(t *testing.T) {
	dir := project(t, map[string]string{".ko.yaml": "baseImageOverrides:\n  example.com/hello: cgr.dev/chainguard/static\n"})
	out := mustRun(t, dir, nil, "build", "verify")
	if n := strings.Count(out, "baseImageOverrides is ignored"); n != 1 {
		t.Errorf("the .ko.yaml warning appears %d times, want once:\n%s", n, out)
	}
	out = mustRun(t, dir, nil, "build")
	if n := strings.Count(out, "baseImageOverrides is ignored"); n != 1 {
		t.Errorf("a new invocation says the warning %d times, want once:\n%s", n, out)
	}
}

// Two runs on one project take turns: while another process holds dist/'s lock, mage build says
// it waits and writes nothing; once the lock is free it builds.
func TestRunsOnOneDistTakeTurns(t *testing.T) {
	dir := project(t, nil)
	mustRun(t, dir, nil, "build") // the engine built, so the wait below is the lock's alone
	rec := filepath.Join(dir, "dist", "artifacts.json")
	before, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := filelock.Lock(context.Background(), filepath.Join(dir, "dist", engine.DistLockFile))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if unlock != nil {
			unlock()
		}
	}()
	src, err := os.ReadFile(filepath.Join(dir, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, filepath.Join(dir, "main.go"), strings.Replace(string(src), `var version = "`, `var version = "turns-`, 1))

	cmd := mageCommand(t, dir, nil, "build")
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(out.String(), "waiting for another scratchkit run using dist") {
		select {
		case err := <-done:
			t.Fatalf("mage build ended while another run held dist/ (%v):\n%s", err, out.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("mage build did not say it waits:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if now, err := os.ReadFile(rec); err != nil || string(now) != string(before) {
		t.Errorf("artifacts.json changed while another run held dist/ (%v)", err)
	}
	unlock()
	unlock = nil
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("mage build after the lock was freed: %v\n%s", err, out.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("mage build did not finish after the lock was freed:\n%s", out.String())
	}
	if now, _ := os.ReadFile(rec); string(now) == string(before) {
		t.Errorf("artifacts.json unchanged after the waiting build of a changed main.go")
	}
}

// A project whose .gitignore does not name dist/ still builds from a clean checkout: the dist/
// scratchkit makes ignores itself, so Go stamps vcs.modified=false and a second build is the
// first one's binary, byte for byte.
func TestDistKeepsTheCheckoutClean(t *testing.T) {
	dir := project(t, nil)
	git := func(args ...string) string {
		t.Helper()
		return testenv.Run(t, "git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	}
	git("init", "-q")
	git("add", "main.go", "go.mod", "magefiles")
	git("commit", "-q", "-m", "service")
	bin := filepath.Join(dir, "dist", "hello", "linux_"+runtime.GOARCH, "hello")
	mustRun(t, dir, nil, "build")
	first, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if st := git("status", "--porcelain"); st != "" {
		t.Fatalf("the checkout is dirty after mage build:\n%s", st)
	}
	mustRun(t, dir, nil, "build")
	second, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.modified" && s.Value != "false" {
			t.Errorf("vcs.modified=%s in the binary", s.Value)
		}
	}
	if !bytes.Equal(first, second) {
		t.Errorf("the second build of an unchanged checkout differs from the first")
	}
}
