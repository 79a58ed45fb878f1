package targets_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// devOutput collects what a dev process prints and lets a test wait for a line.
type devOutput struct {
	mu    sync.Mutex
	text  strings.Builder
	lines chan string
}

func (o *devOutput) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		o.mu.Lock()
		o.text.WriteString(sc.Text() + "\n")
		o.mu.Unlock()
		select {
		case o.lines <- sc.Text():
		default:
		}
	}
	close(o.lines)
}

func (o *devOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.text.String()
}

// waitFor waits until the output past its first from bytes holds every one of wants; a dev that
// never says them fails.
func (o *devOutput) waitFor(t *testing.T, from int, wants ...string) {
	t.Helper()
	deadline := time.After(4 * time.Minute)
	for {
		out := o.String()[from:]
		all := true
		for _, w := range wants {
			all = all && strings.Contains(out, w)
		}
		if all {
			return
		}
		select {
		case _, ok := <-o.lines:
			if !ok {
				t.Fatalf("dev ended before saying %q:\n%s", wants, o.String())
			}
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("dev did not say %q:\n%s", wants, o.String())
		}
	}
}

// get polls url until it answers want; a service that never does fails.
func getUntil(t *testing.T, url, want string, out *devOutput) {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if last == want {
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %q, want %q; dev said:\n%s", url, last, want, out)
}

// dockerBridge reports whether the daemon has docker's bridge network (dockerd --bridge=none
// has not: then the service runs on the host's network and binds 127.0.0.1 itself).
func dockerBridge(docker string) bool {
	return exec.Command(docker, "network", "inspect", "bridge").Run() == nil
}

// devService is a project dev runs in a test: its main.go holds a response the test rewrites.
type devService struct {
	name, dir string
	mainGo    string                   // the file the test rewrites
	src       string                   // its first content
	old       string                   // the text of src that sets the response
	with      func(body string) string // that text setting the response to body
	url, body string                   // where the service answers, and what it answers first
}

// TestDevLoop runs scratchkit dev on a copy of examples/hello under docker: each rewrite of the
// health handler is answered by a new container; a syntax error leaves the last one answering
// and prints the compiler's message; an interrupt removes every container and image it made and
// leaves no temporary file.
func TestDevLoop(t *testing.T) {
	docker := testenv.Docker(t)
	dir := filepath.Join(t.TempDir(), "hello")
	root := testenv.ModuleRoot(t)
	testenv.CopyFiles(t, filepath.Join(root, "examples", "hello"), dir, "go.mod", "main.go")
	port := testenv.FreePort(t)
	cfg := "builds:\n  - name: hello\n    main: .\n"
	if dockerBridge(docker) {
		cfg += fmt.Sprintf("image:\n  ports: [\"8080\"]\n  args: [\"-addr\", \":8080\"]\ndev:\n  ports: [\"%d:8080\"]\n  network: bridge\n", port)
	} else {
		cfg += fmt.Sprintf("image:\n  args: [\"-addr\", \"127.0.0.1:%d\"]\ndev:\n  network: host\n", port)
	}
	cfg += "smoke:\n  tmpfs: [/tmp]\n  env: [DEV_TEST=1]\n"
	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), cfg)
	mainGo := filepath.Join(dir, "main.go")
	src, err := os.ReadFile(mainGo)
	if err != nil {
		t.Fatal(err)
	}
	const handler = `io.WriteString(w, "ok\n")`
	if !strings.Contains(string(src), handler) {
		t.Fatalf("examples/hello/main.go no longer has %s", handler)
	}
	devLoop(t, docker, devService{name: "hello", dir: dir, mainGo: mainGo, src: string(src), old: handler,
		with: func(body string) string { return fmt.Sprintf("io.WriteString(w, %q)", body) },
		url:  fmt.Sprintf("http://127.0.0.1:%d/healthz", port), body: "ok\n"})
}

// largeMain is a service built on Caddy v2.11.9 with its standard modules (a 58 MB binary):
// `respond` answers with the body this file sets.
const largeMain = `package main

import (
	"os"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var body = "first\n"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "respond" {
		os.Args = append(os.Args, "--body", body)
	}
	caddycmd.Main()
}
`

// TestDevLoopLargeService is TestDevLoop on a large service (Caddy with its standard modules:
// a 58 MB binary). Its modules come from the module proxy and its first build takes minutes, so
// it runs only with SCRATCHKIT_E2E_LARGE=1.
func TestDevLoopLargeService(t *testing.T) {
	if os.Getenv("SCRATCHKIT_E2E_LARGE") != "1" {
		t.Skip("set SCRATCHKIT_E2E_LARGE=1 to run dev on the large service (downloads Caddy's modules, builds for minutes)")
	}
	docker := testenv.Docker(t)
	dir := filepath.Join(t.TempDir(), "bigsvc")
	testenv.WriteFile(t, filepath.Join(dir, "go.mod"), "module example.com/bigsvc\n\ngo 1.26\n")
	testenv.WriteFile(t, filepath.Join(dir, "main.go"), largeMain)
	for _, args := range [][]string{{"get", "github.com/caddyserver/caddy/v2@v2.11.9"}, {"mod", "tidy"}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	port := testenv.FreePort(t)
	cfg := "builds:\n  - name: bigsvc\n    main: .\n"
	if dockerBridge(docker) {
		cfg += fmt.Sprintf("image:\n  ports: [\"8080\"]\n  args: [respond, --listen, \":8080\"]\ndev:\n  ports: [\"%d:8080\"]\n  network: bridge\n", port)
	} else {
		cfg += fmt.Sprintf("image:\n  args: [respond, --listen, \"127.0.0.1:%d\"]\ndev:\n  network: host\n", port)
	}
	cfg += "smoke:\n  tmpfs: [/tmp]\n  env: [DEV_TEST=1]\n"
	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), cfg)
	const line = `var body = "first\n"`
	devLoop(t, docker, devService{name: "bigsvc", dir: dir, mainGo: filepath.Join(dir, "main.go"), src: largeMain, old: line,
		with: func(body string) string { return fmt.Sprintf("var body = %q", body) },
		url:  fmt.Sprintf("http://127.0.0.1:%d/", port), body: "first\n"})
}

// devLoop runs scratchkit dev on svc: the first response, three rewrites each answered by a new
// container with smoke's env and tmpfs, a syntax error that keeps the last one answering and
// prints the compiler's message, and an interrupt that leaves no container, image or temporary
// file.
func devLoop(t *testing.T, docker string, svc devService) {
	engineBin := testenv.GoBuild(t, testenv.GoProgram{Dir: "..", Pkg: "./cmd/scratchkit", Flags: []string{"-tags", "scratchkit_core"}})
	dir, mainGo, src, url := svc.dir, svc.mainGo, svc.src, svc.url
	tmp := t.TempDir()

	cmd := exec.Command(engineBin, "dev")
	cmd.Dir = dir
	// A vulnerability database that cannot be opened: dev says so once, not every cycle.
	cmd.Env = append(os.Environ(), "SCRATCHKIT_CACHE="+filepath.Join(tmp, "cache"), "TMPDIR="+filepath.Join(tmp, "tmp"), "NO_COLOR=1",
		"GOVULNDB=file://"+filepath.Join(tmp, "no-vulndb"))
	if err := os.MkdirAll(filepath.Join(tmp, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	out := &devOutput{lines: make(chan string, 64)}
	go out.read(pr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		}
		pw.Close()
	})
	owner := "scratchkit-dev-" + svc.name + "-" + strconv.Itoa(cmd.Process.Pid) + "-"

	out.waitFor(t, 0, "dev: cycle 1: "+svc.name+" running in "+owner)
	getUntil(t, url, svc.body, out)
	ids := map[string]bool{containerID(t, docker, owner): true}

	for i := 1; i <= 3; i++ {
		body := fmt.Sprintf("edit %d\n", i)
		testenv.WriteFile(t, mainGo, strings.Replace(src, svc.old, svc.with(body), 1))
		getUntil(t, url, body, out)
		id := containerID(t, docker, owner)
		if ids[id] {
			t.Errorf("edit %d answered by a container that ran before (%s)", i, id)
		}
		ids[id] = true
	}
	if env := testenv.Run(t, docker, "inspect", "--format", "{{.Config.Env}} {{.HostConfig.Tmpfs}} {{.HostConfig.ReadonlyRootfs}}", containerID(t, docker, owner)); !strings.Contains(env, "DEV_TEST=1") || !strings.Contains(env, "/tmp") || !strings.Contains(env, "true") {
		t.Errorf("the dev container lacks smoke's env, tmpfs or read-only root: %s", env)
	}

	// A syntax error: the compiler's message, and the last good container keeps answering.
	from := len(out.String())
	testenv.WriteFile(t, mainGo, strings.Replace(src, svc.old, svc.with("edit 3\n"), 1)+"\nfunc broken( {\n")
	out.waitFor(t, from, "main.go:", "syntax error: unexpected {", "the last good image is still running")
	getUntil(t, url, "edit 3\n", out)

	// A service that dies as it starts is reported with its output, not as running; the next
	// good save runs again.
	from = len(out.String())
	testenv.WriteFile(t, mainGo, strings.Replace(src, svc.old, svc.with("edit 4\n"), 1)+"\nfunc init() { panic(\"dev test: crash at start\") }\n")
	out.waitFor(t, from, "exited with code 2 right after it started", "dev test: crash at start")
	testenv.WriteFile(t, mainGo, strings.Replace(src, svc.old, svc.with("edit 5\n"), 1))
	getUntil(t, url, "edit 5\n", out)

	// Ctrl-C: nothing of the run is left.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("dev after an interrupt: %v\n%s", err, out)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("dev did not stop after an interrupt:\n%s", out)
	}
	if left := testenv.Run(t, docker, "ps", "--all", "--quiet", "--filter", "label=org.scratchkit.dev", "--filter", "name="+owner); strings.TrimSpace(left) != "" {
		t.Errorf("containers left after the interrupt: %s", left)
	}
	tag := strconv.Itoa(cmd.Process.Pid) + "-"
	for _, l := range strings.Fields(testenv.Run(t, docker, "images", "--format", "{{.Tag}}", "scratchkit-dev/"+svc.name)) {
		if strings.HasPrefix(l, tag) {
			t.Errorf("image scratchkit-dev/%s:%s left after the interrupt", svc.name, l)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(tmp, "tmp")); len(ents) > 0 {
		t.Errorf("temporary files left: %v", ents)
	}
	var stray []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.Contains(d.Name(), ".tmp") || strings.HasPrefix(d.Name(), ".") && d.Name() != ".gitignore" && d.Name() != ".scratchkit.lock") {
			stray = append(stray, p)
		}
		return nil
	})
	if len(stray) > 0 {
		t.Errorf("temporary files left in the project: %v", stray)
	}
	// Edits of main.go's response keep its imports: once the plan is made (in the background after
	// the first cycle), they are relinked without go build, and each answered with its edit above.
	if !strings.Contains(out.String(), ", relinked") {
		t.Errorf("no edit was relinked without go build:\n%s", out)
	}
	if n := strings.Count(out.String(), "vulnerabilities not checked"); n != 1 {
		t.Errorf("dev said %d times that vulnerabilities were not checked, want once per process:\n%s", n, out)
	}
	if !strings.Contains(out.String(), "dev: removed "+svc.name+"'s container and images") {
		t.Errorf("dev did not say it removed its container:\n%s", out)
	}
}

// containerID is the running dev container of this test's dev process.
func containerID(t *testing.T, docker, owner string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, docker, "ps", "--quiet", "--no-trunc", "--filter", "label=org.scratchkit.dev", "--filter", "name="+owner).Output()
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Fields(string(b))
	if len(ids) != 1 {
		t.Fatalf("%d running dev containers named %s*, want 1", len(ids), owner)
	}
	return ids[0]
}

// TestDevLoopResolve runs dev with dev.run: resolve against the real registry: each edit pushes
// a new digest, which dev prints and dist/resolved.yaml then names; a syntax error leaves the
// file naming the last good image.
func TestDevLoopResolve(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	engineBin := testenv.GoBuild(t, testenv.GoProgram{Dir: "..", Pkg: "./cmd/scratchkit", Flags: []string{"-tags", "scratchkit_core"}})
	dir := filepath.Join(t.TempDir(), "hello")
	testenv.CopyFiles(t, filepath.Join(testenv.ModuleRoot(t), "examples", "hello"), dir, "go.mod", "main.go")
	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), "builds:\n  - name: hello\n    main: .\nresolve:\n  files: [deploy]\ndev:\n  run: resolve\n")
	testenv.WriteFile(t, filepath.Join(dir, "deploy", "app.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello\nspec:\n  containers:\n    - name: hello\n      image: ko://example.com/hello\n")
	mainGo := filepath.Join(dir, "main.go")
	src, err := os.ReadFile(mainGo)
	if err != nil {
		t.Fatal(err)
	}
	const handler = `io.WriteString(w, "ok\n")`
	cmd := exec.Command(engineBin, "dev")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SCRATCHKIT_CACHE="+filepath.Join(t.TempDir(), "cache"), "KO_DOCKER_REPO="+reg.Host+"/team", "NO_COLOR=1")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	out := &devOutput{lines: make(chan string, 64)}
	go out.read(pr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("dev after an interrupt: %v\n%s", err, out)
		}
		pw.Close()
	}()
	resolved := func() string {
		b, err := os.ReadFile(filepath.Join(dir, "dist", "resolved.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	pushed := func(from int, cycle int) string {
		t.Helper()
		want := fmt.Sprintf("dev: cycle %d: wrote dist/resolved.yaml", cycle)
		out.waitFor(t, from, want)
		text := out.String()[from:]
		i := strings.Index(text, "hello pushed "+reg.Host+"/team/hello@sha256:")
		if i < 0 {
			t.Fatalf("cycle %d printed no pushed digest:\n%s", cycle, text)
		}
		ref := strings.Fields(text[i+len("hello pushed "):])[0]
		if got := resolved(); !strings.Contains(got, "image: "+ref+"\n") {
			t.Fatalf("dist/resolved.yaml after cycle %d does not name %s:\n%s", cycle, ref, got)
		}
		return ref
	}
	refs := map[string]bool{pushed(0, 1): true}
	from := len(out.String())
	last := ""
	for i := 1; i <= 2; i++ {
		testenv.WriteFile(t, mainGo, strings.Replace(string(src), handler, fmt.Sprintf("io.WriteString(w, %q)", fmt.Sprintf("edit %d\n", i)), 1))
		// Cycles a burst cancelled are numbered too: wait for the next one that wrote the file.
		out.waitFor(t, from, "wrote dist/resolved.yaml")
		text := out.String()[from:]
		wrote := text[:strings.Index(text, " wrote dist/resolved.yaml")]
		var n int
		if _, err := fmt.Sscanf(wrote[strings.LastIndex(wrote, "dev: cycle "):], "dev: cycle %d:", &n); err != nil {
			t.Fatalf("no cycle number before %q: %v", wrote, err)
		}
		last = pushed(from, n)
		if refs[last] {
			t.Fatalf("edit %d pushed %s, which an earlier cycle pushed", i, last)
		}
		refs[last] = true
		from = len(out.String())
	}
	testenv.WriteFile(t, mainGo, string(src)+"\nfunc broken( {\n")
	out.waitFor(t, from, "syntax error", "the last good image is still the pushed one")
	if got := resolved(); !strings.Contains(got, "image: "+last+"\n") {
		t.Errorf("after a failed cycle dist/resolved.yaml no longer names %s:\n%s", last, got)
	}
}
