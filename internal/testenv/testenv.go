// Package testenv starts and finds the real components the end-to-end tests run against:
// the Debian docker-registry, dockerd, runc, skopeo, umoci, and the pinned cosign and crane CLIs.
//
// The project's test command (.ci/test) installs them and sets SCRATCHKIT_E2E=1. With it set, a
// missing component fails the test; without it (a plain `go test ./...` on a laptop), the test is
// skipped with a message that says what to run.
package testenv

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/secrets"
	"golang.org/x/crypto/bcrypt"
)

// Strict reports whether missing components are failures (set by .ci/test).
func Strict() bool { return os.Getenv("SCRATCHKIT_E2E") == "1" }

// Missing fails or skips t because a component is not available.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("%s (SCRATCHKIT_E2E=1: every end-to-end component must be present; run .ci/test)", msg)
	}
	t.Skipf("%s; run .ci/test to install and start the end-to-end components", msg)
}

// Tool returns the path of a command-line tool, looked up in $SCRATCHKIT_TOOLS (where .ci/test
// installs the pinned cosign, crane and ko) and then on PATH.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("SCRATCHKIT_TOOLS"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s is not installed", name)
	}
	return p
}

// Root skips or fails t unless it runs as root (runc and dockerd need it).
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "this test needs root")
	}
}

// Docker returns the docker CLI path after checking that a daemon answers.
func Docker(t testing.TB) string {
	t.Helper()
	docker := Tool(t, "docker")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, docker, "version", "--format", "{{.Server.APIVersion}}").CombinedOutput()
	if err != nil {
		Missing(t, "no docker daemon answers (%v: %s)", err, bytes.TrimSpace(out))
	}
	return docker
}

// Run runs a command and fails t with its output when it fails. It returns stdout.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := Output(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// Output runs a command and returns its combined output.
func Output(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	err := cmd.Run()
	return buf.String(), err
}

// Registry is a real docker-registry (CNCF distribution) listening on 127.0.0.1.
type Registry struct {
	Host     string // 127.0.0.1:PORT
	User     string // empty without auth
	Password string
	Dir      string // storage root
}

// RegistryOptions configures StartRegistry.
type RegistryOptions struct {
	User, Password string // non-empty: require htpasswd basic auth
	// Storage serves an existing storage root (e.g. another Registry's Dir) instead of a new one.
	Storage string
	// ReadOnly puts the registry in maintenance read-only mode: pulls work, pushes are refused,
	// like a pull-only account.
	ReadOnly bool
}

// StartRegistry starts `docker-registry serve` on a free loopback port for the duration of t.
func StartRegistry(t testing.TB, opts RegistryOptions) *Registry {
	t.Helper()
	bin := Tool(t, "docker-registry")
	dir := t.TempDir()
	port := freePort(t)
	r := &Registry{Host: fmt.Sprintf("127.0.0.1:%d", port), User: opts.User, Password: opts.Password, Dir: filepath.Join(dir, "data")}
	if opts.Storage != "" {
		r.Dir = opts.Storage
	}
	mode := "  delete:\n    enabled: true\n"
	if opts.ReadOnly {
		mode = "  maintenance:\n    readonly:\n      enabled: true\n"
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
%shttp:
  addr: %s
`, r.Dir, mode, r.Host)
	if opts.User != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(opts.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(opts.User+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: scratchkit-test\n    path: %s\n", htpasswd)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout = &logBuf
	cmd.Stderr = &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry on %s did not come up: %v\n%s", r.Host, err, logBuf.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DockerConfig writes a docker config.json holding this registry's credentials into a new
// directory and returns it, for use as DOCKER_CONFIG.
func (r *Registry) DockerConfig(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	auth := ""
	if r.User != "" {
		auth = fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, r.Host, basic(r.User, r.Password))
	} else {
		auth = `{"auths":{}}`
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(auth), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int { return freePort(t) }

// PrivateAddr adds an RFC 1918 address (10.255.x.y) to the loopback interface for the duration
// of t and returns it: a server listening there is reached like a registry on a private network,
// to which go-containerregistry would fall back to plain HTTP. It needs root and iproute2.
func PrivateAddr(t testing.TB) string {
	t.Helper()
	Root(t)
	ipCmd, err := exec.LookPath("ip")
	if err != nil {
		Missing(t, "ip (iproute2) is not installed")
	}
	for range 20 {
		n := time.Now().UnixNano()
		addr := fmt.Sprintf("10.255.%d.%d", (n>>8)%250+1, n%250+1)
		if out, err := exec.Command(ipCmd, "addr", "add", addr+"/32", "dev", "lo").CombinedOutput(); err != nil {
			if strings.Contains(string(out), "exists") {
				continue
			}
			t.Fatalf("ip addr add %s/32 dev lo: %v: %s", addr, err, out)
		}
		t.Cleanup(func() { _ = exec.Command(ipCmd, "addr", "del", addr+"/32", "dev", "lo").Run() })
		return addr
	}
	t.Fatal("no free 10.255.x.y address for lo")
	return ""
}

// Wiretap is a plain-HTTP reverse proxy on a private address in front of a real registry: it
// counts the requests that crossed it with credentials in the clear.
type Wiretap struct {
	Host string // 10.255.x.y:PORT

	mu          sync.Mutex
	requests    int
	credentials int
}

// StartWiretap puts a Wiretap on a private address in front of r.
func StartWiretap(t testing.TB, r *Registry) *Wiretap {
	t.Helper()
	addr := PrivateAddr(t)
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	w := &Wiretap{Host: l.Addr().String()}
	target := &url.URL{Scheme: "http", Host: r.Host}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		w.mu.Lock()
		w.requests++
		if req.Header.Get("Authorization") != "" {
			w.credentials++
		}
		w.mu.Unlock()
		proxy.ServeHTTP(rw, req)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return w
}

// Seen returns how many requests crossed the wiretap, and how many of them carried credentials.
func (w *Wiretap) Seen() (requests, withCredentials int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.requests, w.credentials
}

// DockerConfigFor writes a docker config.json giving r's credentials for host (e.g. a Wiretap in
// front of r) and returns its directory, for use as DOCKER_CONFIG.
func (r *Registry) DockerConfigFor(t testing.TB, host string) string {
	t.Helper()
	dir := t.TempDir()
	auth := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, basic(r.User, r.Password))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(auth), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// SecretSpy sets every variable of secrets.Names for the duration of t and puts wrappers for
// the named commands first on PATH: each wrapper notes whether its environment still holds one
// of them, then runs the real command. The returned func lists the calls that saw a secret.
// Commands that are not installed are left out.
func SecretSpy(t testing.TB, commands ...string) (leaks func() []string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "leaks.log")
	for _, c := range commands {
		real, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		script := "#!/bin/sh\n"
		for _, s := range secrets.Names {
			script += fmt.Sprintf("if env | grep -q '^%s='; then echo \"%s $* (%s)\" >> %q; fi\n", s, c, s, log)
		}
		script += fmt.Sprintf("exec %q \"$@\"\n", real)
		if err := os.WriteFile(filepath.Join(dir, c), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, s := range secrets.Names {
		t.Setenv(s, "spy-secret-"+strings.ToLower(s))
	}
	return func() []string {
		data, err := os.ReadFile(log)
		if err != nil {
			return nil
		}
		return strings.Split(strings.TrimSpace(string(data)), "\n")
	}
}
