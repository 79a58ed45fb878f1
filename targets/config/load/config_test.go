package load

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/run"
)

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func load(t *testing.T, dir string, c *config.Config, e map[string]string) (*Resolved, error) {
	t.Helper()
	return Load(Options{Dir: dir, Configure: c, LookupEnv: env(e)})
}

func mustLoad(t *testing.T, dir string, c *config.Config, e map[string]string) *Resolved {
	t.Helper()
	r, err := load(t, dir, c, e)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func TestDefaults(t *testing.T) {
	r := mustLoad(t, t.TempDir(), nil, nil)
	if r.Dist != "dist" || r.Image.Base != "static" || r.Image.User != "65532:65532" || r.Smoke.Runtime != "auto" {
		t.Errorf("defaults: dist=%q base=%q user=%q runtime=%q", r.Dist, r.Image.Base, r.Image.User, r.Smoke.Runtime)
	}
	if got := r.Destinations(); strings.Join(got, ",") != "layout,tarball" {
		t.Errorf("default destinations = %v, want layout,tarball (offline)", got)
	}
	if ps := r.PlatformsOf(-1); len(ps) != 1 || ps[0].OS != "linux" {
		t.Errorf("default platforms = %v, want linux on the host arch", ps)
	}
	if r.Smoke.Timeout.D() != 30*time.Second || r.Smoke.Memory != run.DefaultMemory || r.Smoke.Network != run.NetworkNone || r.Smoke.Pids != run.DefaultPids {
		t.Errorf("smoke defaults: timeout=%v memory=%v network=%q pids=%d", r.Smoke.Timeout, r.Smoke.Memory, r.Smoke.Network, r.Smoke.Pids)
	}
	if r.Where("image.base") != "default" {
		t.Errorf("Where(image.base) = %q, want default", r.Where("image.base"))
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".ko.yaml", `
defaultBaseImage: registry.example/base@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
defaultPlatforms: [linux/amd64, linux/arm64]
builds:
- id: hello
  main: ./cmd/hello
  flags: ["-tags", "netgo"]
  ldflags: ["-X main.v={{.Env.V}}"]
`)
	write(t, dir, "scratchkit.yaml", `
dist: out
platforms: [linux/arm64]
image:
  repo: 127.0.0.1:5000/file
  tags: [v1]
`)
	// .ko.yaml alone sets builds and base; scratchkit.yaml wins for platforms.
	r := mustLoad(t, dir, nil, nil)
	if r.Image.Base[:20] != "registry.example/bas" || len(r.Builds) != 1 || r.Builds[0].Main != "./cmd/hello" {
		t.Fatalf(".ko.yaml not read: base=%q builds=%+v", r.Image.Base, r.Builds)
	}
	if strings.Join(r.Builds[0].Tags, ",") != "netgo" || len(r.Builds[0].Flags) != 0 {
		t.Errorf(".ko.yaml flags [-tags netgo] → tags=%v flags=%v", r.Builds[0].Tags, r.Builds[0].Flags)
	}
	if strings.Join(r.Platforms, ",") != "linux/arm64" || r.Dist != "out" {
		t.Errorf("scratchkit.yaml must win over .ko.yaml: platforms=%v dist=%q", r.Platforms, r.Dist)
	}
	if w := r.Where("platforms"); w != "scratchkit.yaml:3" {
		t.Errorf("Where(platforms) = %q, want scratchkit.yaml:3", w)
	}
	if w := r.Where("builds[0].main"); w != ".ko.yaml:6" {
		t.Errorf("Where(builds[0].main) = %q, want .ko.yaml:6", w)
	}

	// Configure wins over the files.
	r = mustLoad(t, dir, &config.Config{Dist: "cfg", Image: config.Image{Tags: []string{"v2"}}}, nil)
	if r.Dist != "cfg" || r.Image.Tags[0] != "v2" || r.Image.Repo != "127.0.0.1:5000/file" {
		t.Errorf("Configure: dist=%q tags=%v repo=%q", r.Dist, r.Image.Tags, r.Image.Repo)
	}
	if w := r.Where("dist"); w != "targets.Configure" {
		t.Errorf("Where(dist) = %q", w)
	}

	// The environment wins over Configure; SCRATCHKIT_IMAGE_REPO over KO_DOCKER_REPO.
	r = mustLoad(t, dir, &config.Config{Dist: "cfg"}, map[string]string{
		"SCRATCHKIT_DIST":      "envdist",
		"SCRATCHKIT_PLATFORMS": "linux/amd64, linux/arm/v7",
		"KO_DOCKER_REPO":       "127.0.0.1:5000/ko",
		"SOURCE_DATE_EPOCH":    "1700000000",
	})
	if r.Dist != "envdist" || strings.Join(r.Platforms, ",") != "linux/amd64,linux/arm/v7" || r.Image.Repo != "127.0.0.1:5000/ko" {
		t.Errorf("env: dist=%q platforms=%v repo=%q", r.Dist, r.Platforms, r.Image.Repo)
	}
	r = mustLoad(t, dir, nil, map[string]string{"KO_DOCKER_REPO": "127.0.0.1:5000/ko", "SCRATCHKIT_IMAGE_REPO": "127.0.0.1:5000/sk"})
	if r.Image.Repo != "127.0.0.1:5000/sk" {
		t.Errorf("SCRATCHKIT_IMAGE_REPO must win over KO_DOCKER_REPO, got %q", r.Image.Repo)
	}
	if got := r.Destinations(); strings.Join(got, ",") != "registry" {
		t.Errorf("with a repo, destinations = %v, want registry", got)
	}
}

func TestKoLocal(t *testing.T) {
	r := mustLoad(t, t.TempDir(), nil, map[string]string{"KO_DOCKER_REPO": "ko.local"})
	if got := r.Destinations(); strings.Join(got, ",") != "daemon" {
		t.Errorf("KO_DOCKER_REPO=ko.local → %v, want daemon", got)
	}
}

func TestEnvTypes(t *testing.T) {
	r := mustLoad(t, t.TempDir(), nil, map[string]string{
		"SCRATCHKIT_VERIFY_MAX_SIZE":       "20MB",
		"SCRATCHKIT_IMAGE_ALLOW_UNPINNED":  "true",
		"SCRATCHKIT_PGO_ENDPOINTS":         "http://127.0.0.1:6060,http://127.0.0.1:6061/debug/pprof/profile",
		"SCRATCHKIT_PGO_SECONDS":           "5",
		"SCRATCHKIT_SMOKE_TIMEOUT":         "1m",
		"SCRATCHKIT_IMAGE_LABELS":          "team=core,tier=web",
		"SCRATCHKIT_SIGN_CHECKSUMS":        "false",
		"SCRATCHKIT_IMAGE_BASE":            "scratch",
		"SCRATCHKIT_VERIFY_REPORT":         "stripped",
		"SCRATCHKIT_SMOKE_RUNTIME":         "runc",
		"SCRATCHKIT_SIGN_RECURSIVE":        "1",
		"SCRATCHKIT_UNRELATED_BUT_UNKNOWN": "ignored",
	})
	if r.Verify.MaxSize != 20_000_000 || !r.Image.AllowUnpinned || len(r.PGO.Endpoints) != 2 || r.PGO.Seconds != 5 ||
		r.Smoke.Timeout.D() != time.Minute || r.Image.Labels["tier"] != "web" || r.Sign.SignChecksums() ||
		r.Image.Base != "scratch" || r.Smoke.Runtime != "runc" || !r.Sign.Recursive {
		t.Errorf("env values not applied: %+v", r.Config)
	}
	_, err := load(t, t.TempDir(), nil, map[string]string{"SCRATCHKIT_IMAGE_ALLOW_UNPINNED": "yes please"})
	wantErr(t, err, "SCRATCHKIT_IMAGE_ALLOW_UNPINNED", "image.allow_unpinned", "not true or false")
	_, err = load(t, t.TempDir(), nil, map[string]string{"SCRATCHKIT_PLATFORMS": "linux/amd46"})
	wantErr(t, err, "environment variable SCRATCHKIT_PLATFORMS", "platforms[0]", "linux/amd64")
}

func TestEnvVarsListed(t *testing.T) {
	names := map[string]bool{}
	for _, v := range EnvVars() {
		names[v.Name] = true
	}
	for _, want := range []string{"SCRATCHKIT_PLATFORMS", "SCRATCHKIT_DIST", "SCRATCHKIT_PGO_ENDPOINTS", "SCRATCHKIT_IMAGE_REPO", "KO_DOCKER_REPO", "COSIGN_KEY"} {
		if !names[want] {
			t.Errorf("EnvVars lacks %s", want)
		}
	}
	if names["SCRATCHKIT_BUILDS"] {
		t.Error("builds cannot be set from one variable, yet EnvVars lists it")
	}
}

func TestFileErrors(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string
	}{
		{"unknown key", "dist: out\nplatfroms: [linux/amd64]\n", []string{"scratchkit.yaml:2", `unknown key "platfroms"`, `did you mean "platforms"`}},
		{"unknown nested key", "builds:\n  - main: ./cmd/a\n    ldflag: [-X a=b]\n", []string{"scratchkit.yaml:3", "builds[0]", `"ldflag"`, `"ldflags"`}},
		{"bad platform", "platforms:\n  - linux/amd64\n  - linux/amd46\n", []string{"scratchkit.yaml:3", "platforms[1]", "linux/amd64"}},
		{"bad variant", "platforms: [linux/arm/v9]\n", []string{"scratchkit.yaml:1", "v7"}},
		{"duplicate platform", "platforms: [linux/amd64, linux/amd64]\n", []string{"listed twice"}},
		{"list wanted", "platforms: linux/amd64\n", []string{"scratchkit.yaml:1", "want a list"}},
		{"bad linkage", "builds:\n  - main: .\n    linkage: dynamic\n", []string{"scratchkit.yaml:3", "builds[0].linkage", "static-pie"}},
		{"missing main", "builds:\n  - name: x\n", []string{"builds[0].main", "missing"}},
		{"cgo in env", "builds:\n  - main: .\n    env: [CGO_ENABLED=1]\n", []string{"scratchkit.yaml:3", "builds[0].env[0]", "cgo-static"}},
		{"ldflags in flags", "builds:\n  - main: .\n    flags: [-ldflags=-X=a]\n", []string{"builds[0].flags[0]", "ldflags key"}},
		{"bad size", "verify:\n  max_size: twenty\n", []string{"scratchkit.yaml:2", "not a size"}},
		{"bad int", "pgo:\n  seconds: lots\n", []string{"scratchkit.yaml:2", "lots"}},
		{"unknown check", "verify:\n  report: [stripped, smell]\n", []string{"verify.report[1]", "smell", "linkage"}},
		{"unpinned base", "image:\n  base: alpine:latest\n", []string{"scratchkit.yaml:2", "image.base", "pinned by digest", "allow_unpinned"}},
		{"root", "image:\n  user: root\n", []string{"scratchkit.yaml:2", "allow_root"}},
		{"cap_add", "smoke:\n  cap_add: [NET_BIND_SERVICE, WIZARD]\n", []string{"scratchkit.yaml:2", "smoke.cap_add", `"WIZARD" is not a Linux capability`}},
		{"bad destination", "image:\n  publish: [registry, s3]\n  repo: 127.0.0.1:5000/x\n", []string{"image.publish[1]", "s3", "layout"}},
		{"registry without repo", "image:\n  publish: [registry]\n", []string{"image.publish", "KO_DOCKER_REPO"}},
		{"bad port", "image:\n  ports: [http]\n", []string{"image.ports[0]", "8080"}},
		{"bad dev port", "dev:\n  ports: [\"8080\", \"80:70000\"]\n", []string{"scratchkit.yaml:2", "dev.ports[1]", "out of range"}},
		{"dev port not a mapping", "dev:\n  ports: [\"a:b\"]\n", []string{"dev.ports[0]", "HOST:CONTAINER"}},
		{"bad probe", "smoke:\n  images:\n    hello:\n      http: {path: /healthz}\n", []string{"smoke.images.hello.http.port"}},
		{"bad regexp", "smoke:\n  images:\n    hello:\n      exit: {output: \"(\"}\n", []string{"scratchkit.yaml:4", "regular expression"}},
		{"bad network", "smoke:\n  runtime: docker\n  network: bridge\n", []string{"scratchkit.yaml:3", "smoke.network", `"bridge"`, "none", "host"}},
		{"too few pids", "smoke:\n  pids: 4\n", []string{"scratchkit.yaml:2", "smoke.pids", "at least 16"}},
		{"relative tmpfs", "smoke:\n  tmpfs: [tmp]\n", []string{"scratchkit.yaml:2", "smoke.tmpfs[0].path", "absolute"}},
		{"tmpfs at the root", "smoke:\n  tmpfs:\n    - /tmp\n    - path: /\n", []string{"scratchkit.yaml:4", "smoke.tmpfs[1].path", "read-only"}},
		{"tmpfs on /proc", "smoke:\n  tmpfs: [/proc/x]\n", []string{"smoke.tmpfs[0].path", "container runtime"}},
		{"tmpfs twice", "smoke:\n  tmpfs: [/tmp, {path: /tmp, size: 1MiB}]\n", []string{"smoke.tmpfs[1].path", "smoke.tmpfs[0]"}},
		{"unclean tmpfs", "smoke:\n  tmpfs: [/tmp/]\n", []string{"smoke.tmpfs[0].path", "write it as /tmp"}},
		{"bad tmpfs mode", "smoke:\n  tmpfs:\n    - path: /tmp\n      mode: rwx\n", []string{"scratchkit.yaml:4", "smoke.tmpfs[0].mode", "octal"}},
		{"bad tmpfs size", "smoke:\n  tmpfs:\n    - path: /tmp\n      size: lots\n", []string{"scratchkit.yaml:4", "not a size"}},
		{"unknown tmpfs key", "smoke:\n  tmpfs:\n    - path: /tmp\n      sise: 1MiB\n", []string{"scratchkit.yaml:4", `unknown key "sise"`, `"size"`}},
		{"bad smoke env", "smoke:\n  env: [HOME]\n", []string{"scratchkit.yaml:2", "smoke.env[0]", "NAME=VALUE"}},
		{"relative volume", "image:\n  volumes: [data]\n", []string{"scratchkit.yaml:2", "image.volumes[0]", "absolute"}},
		{"volume on /proc", "image:\n  volumes: [/proc/app]\n", []string{"scratchkit.yaml:2", "image.volumes[0]", "container runtime"}},
		{"user the static base lacks", "image:\n  user: app\n", []string{"scratchkit.yaml:2", "image.user", "root, nobody and nonroot"}},
		{"user name on scratch", "image:\n  base: scratch\n  user: nonroot\n", []string{"image.user", "no /etc/passwd", "65532"}},
		{"bad user", "image:\n  user: \"a b\"\n", []string{"image.user", "uid[:gid]"}},
		{"bad image env", "image:\n  env: [9LIVES=1]\n", []string{"scratchkit.yaml:2", "image.env[0]", "NAME=VALUE"}},
		{"bad build env", "builds:\n  - main: .\n    env: [A-B=1]\n", []string{"scratchkit.yaml:3", "builds[0].env[0]", "NAME=VALUE"}},
		{"bad port protocol", "image:\n  ports: [80/icmp]\n", []string{"image.ports[0]", "tcp, udp or sctp"}},
		{"probe item with both", "smoke:\n  images:\n    hello:\n      probes:\n        - exit: {args: [-version]}\n          http: {port: 8080}\n", []string{"scratchkit.yaml:5", "smoke.images.hello.probes[0]", "exactly one"}},
		{"probe item port", "smoke:\n  images:\n    hello:\n      probes:\n        - http: {path: /}\n", []string{"scratchkit.yaml:5", "smoke.images.hello.probes[0].http.port"}},
		{"bad status", "smoke:\n  images:\n    hello:\n      http: {port: 8080, status: 2000}\n", []string{"scratchkit.yaml:4", "smoke.images.hello.http.status", "2000"}},
		{"bad body", "smoke:\n  images:\n    hello:\n      probes:\n        - http: {port: 8080, body: \"[\"}\n", []string{"smoke.images.hello.probes[0].http.body", "regular expression"}},
		{"bad host", "smoke:\n  images:\n    hello:\n      http: {port: 8080, host: \"a b\"}\n", []string{"smoke.images.hello.http.host", "Host header"}},
		{"bad endpoint", "pgo:\n  endpoints: [10.0.0.7:6060]\n", []string{"pgo.endpoints[0]", "http://"}},
		{"bad check", "pgo:\n  check: always\n", []string{"scratchkit.yaml:2", "pgo.check", "enforce"}},
		{"one check round", "pgo:\n  check_rounds: 1\n", []string{"scratchkit.yaml:2", "pgo.check_rounds", "at least 2"}},
		{"bench without package", "pgo:\n  workload:\n    bench: {pattern: .}\n", []string{"scratchkit.yaml:3", "pgo.workload.bench.package", "./parser"}},
		{"bench of many packages", "pgo:\n  workload:\n    bench: {package: ./..., pattern: .}\n", []string{"pgo.workload.bench.package", "one package"}},
		{"bench without pattern", "pgo:\n  workload:\n    bench: {package: ./parser}\n", []string{"pgo.workload.bench.pattern", "-test.bench"}},
		{"bench bad pattern", "pgo:\n  workload:\n    bench: {package: ./parser, pattern: \"[\"}\n", []string{"pgo.workload.bench.pattern", "missing closing"}},
		{"bench bad benchtime", "pgo:\n  workload:\n    bench: {package: ./parser, pattern: ., benchtime: 0x}\n", []string{"pgo.workload.bench.benchtime", "1000x"}},
		{"bench and a service", "pgo:\n  workload:\n    build: docs\n    bench: {package: ./parser, pattern: .}\n", []string{"scratchkit.yaml:3", "pgo.workload.build", "not used with pgo.workload.bench"}},
		{"bench unknown key", "pgo:\n  workload:\n    bench: {package: ./parser, pattern: ., count: 3}\n", []string{"scratchkit.yaml:3", "count"}},
		{"syntax", "dist: [\n", []string{"scratchkit.yaml"}},
		{"duplicate names", "builds:\n  - {name: a, main: ./a}\n  - {name: a, main: ./b}\n", []string{"builds[1].name", "builds[0]"}},
		{"dist dot", "dist: .\n", []string{"dist", "folder of its own"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "scratchkit.yaml", c.body)
			_, err := load(t, dir, nil, nil)
			wantErr(t, err, c.want...)
		})
	}
}

// A real server's smoke settings: writable directories as paths or mappings (defaults filled in),
// extra environment, declared volumes, several probes with expected status, body and Host.
func TestSmokeFitsRealServers(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, FileName, `
image:
  volumes: [/var/lib/app]
smoke:
  tmpfs:
    - /tmp
    - path: /home/nonroot
      size: 8MiB
      mode: "0700"
  env: [APP_CACHE=/tmp/app]
  images:
    hello:
      http: {port: 8080, path: /healthz}
      probes:
        - http: {port: 8080, path: /, status: 404, body: "not found", host: example.com}
        - exit: {args: [-version]}
`)
	r := mustLoad(t, dir, nil, nil)
	want := []config.Tmpfs{{Path: "/tmp", Size: 64 << 20, Mode: "1777"}, {Path: "/home/nonroot", Size: 8 << 20, Mode: "0700"}}
	if !reflect.DeepEqual(r.Smoke.Tmpfs, want) {
		t.Errorf("tmpfs %+v, want %+v", r.Smoke.Tmpfs, want)
	}
	if strings.Join(r.Smoke.Env, ",") != "APP_CACHE=/tmp/app" || strings.Join(r.Image.Volumes, ",") != "/var/lib/app" {
		t.Errorf("env %v, volumes %v", r.Smoke.Env, r.Image.Volumes)
	}
	p := r.Smoke.Images["hello"]
	if p.HTTP == nil || len(p.Probes) != 2 || p.Probes[0].HTTP == nil || p.Probes[1].Exit == nil {
		t.Fatalf("probes %+v", p)
	}
	if h := p.Probes[0].HTTP; h.Status != 404 || h.Body != "not found" || h.Host != "example.com" || h.Timeout.D() != 20*time.Second {
		t.Errorf("http probe item %+v (the defaults of list items too)", h)
	}
	if got := r.Where("smoke.tmpfs[1].size"); got != "scratchkit.yaml:8" {
		t.Errorf("Where(smoke.tmpfs[1].size) = %q", got)
	}

	// From the environment: a list of paths, with the defaults.
	r = mustLoad(t, t.TempDir(), nil, map[string]string{"SCRATCHKIT_SMOKE_TMPFS": "/tmp, /home/nonroot", "SCRATCHKIT_SMOKE_ENV": "A=1"})
	want = []config.Tmpfs{{Path: "/tmp", Size: 64 << 20, Mode: "1777"}, {Path: "/home/nonroot", Size: 64 << 20, Mode: "1777"}}
	if !reflect.DeepEqual(r.Smoke.Tmpfs, want) || strings.Join(r.Smoke.Env, ",") != "A=1" {
		t.Errorf("from the environment: tmpfs %+v env %v", r.Smoke.Tmpfs, r.Smoke.Env)
	}
	_, err := load(t, t.TempDir(), nil, map[string]string{"SCRATCHKIT_SMOKE_TMPFS": "tmp"})
	wantErr(t, err, "environment variable SCRATCHKIT_SMOKE_TMPFS", "smoke.tmpfs", "absolute")
}

func TestAllErrorsReported(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "scratchkit.yaml", "platforms: [linux/amd46]\nimage:\n  user: \"0\"\n")
	_, err := load(t, dir, nil, nil)
	wantErr(t, err, "scratchkit.yaml:1", "scratchkit.yaml:3")
}

func TestKoYAMLErrorsAndWarnings(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".ko.yaml", "defaultBaseImage: cgr.dev/chainguard/static\nbuildz: []\n")
	_, err := load(t, dir, nil, nil)
	wantErr(t, err, ".ko.yaml:2", `unknown key "buildz"`, `"builds"`)

	write(t, dir, ".ko.yaml", "defaultBaseImage: cgr.dev/chainguard/static\n")
	_, err = load(t, dir, nil, nil)
	wantErr(t, err, ".ko.yaml:1", "image.base", "pinned by digest")

	write(t, dir, ".ko.yaml", "baseImageOverrides:\n  example.com/x: scratch\nbuilds:\n- main: ./x\n  linux_capabilities: [net_bind_service]\n")
	r := mustLoad(t, dir, nil, nil)
	if len(r.Warnings) != 2 {
		t.Errorf("want 2 warnings for ignored ko keys, got %q", r.Warnings)
	}
}

func TestPerBuildVerify(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "scratchkit.yaml", `
verify:
  max_size: 20MB
builds:
  - name: debug
    main: ./cmd/debug
    verify:
      report: [stripped]
  - name: app
    main: ./cmd/app
`)
	r := mustLoad(t, dir, nil, nil)
	dv, av := r.VerifyOf(r.Builds[0]), r.VerifyOf(r.Builds[1])
	if dv.MaxSize != 20_000_000 || len(dv.Report) != 1 || len(av.Report) != 0 || av.MaxSize != 20_000_000 {
		t.Errorf("VerifyOf: debug=%+v app=%+v", dv, av)
	}
	if r.Builds[1].Linkage != "static" || r.Builds[1].PGO != "auto" {
		t.Errorf("build defaults not applied: %+v", r.Builds[1])
	}
}

func TestSizesAndDurations(t *testing.T) {
	for in, want := range map[string]config.Size{"20MB": 20e6, "1MiB": 1 << 20, "512": 512, "1.5GB": 1.5e9, "10 KiB": 10240} {
		if got, err := config.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := config.ParseSize("-1MB"); err == nil {
		t.Error("negative size accepted")
	}
	if d, err := config.ParseDuration("45"); err != nil || d.D() != 45*time.Second {
		t.Errorf("ParseDuration(45) = %v, %v", d, err)
	}
}

// The smoke vocabulary config validates is the engine's: config does not import run, so that the
// mage surface stays light, and this test keeps the two in step.
func TestSmokeVocabularyMatchesRun(t *testing.T) {
	if strings.Join(SmokeNetworks, ",") != run.NetworkNone+","+run.NetworkHost {
		t.Errorf("SmokeNetworks %v, run has %s and %s", SmokeNetworks, run.NetworkNone, run.NetworkHost)
	}
	if run.MinPids != run.MinPids {
		t.Errorf("run.MinPids %d, run.MinPids %d", run.MinPids, run.MinPids)
	}
	def := reflect.TypeOf(config.Smoke{})
	if f, _ := def.FieldByName("Pids"); f.Tag.Get("default") != strconv.Itoa(run.DefaultPids) {
		t.Errorf("smoke.pids default %q, run.DefaultPids %d", f.Tag.Get("default"), run.DefaultPids)
	}
	if f, _ := def.FieldByName("Network"); f.Tag.Get("enum") != strings.Join(SmokeNetworks, ",") || f.Tag.Get("default") != run.NetworkNone {
		t.Errorf("smoke.network tags %q", f.Tag)
	}
}

func TestDevVocabularyMatchesRun(t *testing.T) {
	def := reflect.TypeOf(config.Dev{})
	if f, _ := def.FieldByName("Network"); f.Tag.Get("enum") != strings.Join(run.DevNetworks(), ",") || f.Tag.Get("default") != run.DevNetworkAuto {
		t.Errorf("dev.network tags %q, run has %v", f.Tag, run.DevNetworks())
	}
	if f, _ := def.FieldByName("Run"); f.Tag.Get("enum") != strings.Join(DevRuns, ",") || f.Tag.Get("default") != DevRuns[0] {
		t.Errorf("dev.run tags %q, DevRuns %v", f.Tag, DevRuns)
	}
	r := mustLoad(t, t.TempDir(), nil, nil)
	if r.Dev.Run != "docker" || r.Dev.Debounce.D() != 100*time.Millisecond || r.Dev.Network != "auto" {
		t.Errorf("dev defaults: %+v", r.Dev)
	}
}

// The registry timeouts: defaults, the file, the environment, and a bad value named.
func TestRegistryTimeouts(t *testing.T) {
	r := mustLoad(t, t.TempDir(), nil, nil)
	if r.Image.ResponseTimeout.D() != 60*time.Second || r.Image.RequestTimeout.D() != 30*time.Minute {
		t.Errorf("defaults: response %s, request %s; want 60s, 30m", r.Image.ResponseTimeout, r.Image.RequestTimeout)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "scratchkit.yaml"), []byte("image:\n  response_timeout: 2m\n  request_timeout: 2h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustLoad(t, dir, nil, map[string]string{"SCRATCHKIT_IMAGE_RESPONSE_TIMEOUT": "90"})
	if r.Image.ResponseTimeout.D() != 90*time.Second || r.Image.RequestTimeout.D() != 2*time.Hour {
		t.Errorf("file and environment: response %s, request %s; want 1m30s, 2h", r.Image.ResponseTimeout, r.Image.RequestTimeout)
	}
	_, err := load(t, dir, nil, map[string]string{"SCRATCHKIT_IMAGE_REQUEST_TIMEOUT": "soon"})
	wantErr(t, err, "SCRATCHKIT_IMAGE_REQUEST_TIMEOUT", "image.request_timeout", "not a duration")
}

// resolve.files and resolve.output come from the file or the environment, and an entry says
// where it was set (resolve's errors name it).
func TestResolveKeys(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, FileName, "resolve:\n  files:\n    - config/\n    - extra/*.yaml\n  output: \"-\"\n")
	r := mustLoad(t, dir, nil, nil)
	if strings.Join(r.Resolve.Files, " ") != "config/ extra/*.yaml" || r.Resolve.Output != "-" {
		t.Errorf("from the file: %+v", r.Resolve)
	}
	if w := r.Where("resolve.files[1]"); w != FileName+":4" {
		t.Errorf("resolve.files[1] from %s", w)
	}
	r = mustLoad(t, dir, nil, map[string]string{"SCRATCHKIT_RESOLVE_FILES": "a.yaml, deploy/", "SCRATCHKIT_RESOLVE_OUTPUT": "out/all.yaml"})
	if strings.Join(r.Resolve.Files, " ") != "a.yaml deploy/" || r.Resolve.Output != "out/all.yaml" {
		t.Errorf("from the environment: %+v", r.Resolve)
	}
	if w := r.Where("resolve.files[1]"); w != "environment variable SCRATCHKIT_RESOLVE_FILES" {
		t.Errorf("resolve.files[1] from %s", w)
	}
	r = mustLoad(t, t.TempDir(), nil, nil)
	if r.Resolve.Files != nil || r.Resolve.Output != "" {
		t.Errorf("default: %+v", r.Resolve)
	}
}

// The configuration's defaults are the libraries' own: the default tags of config.Smoke say what
// run.Options' zero values mean, so the two cannot drift apart.
func TestSmokeDefaultsAreRunsDefaults(t *testing.T) {
	r, err := load(t, t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Smoke
	if int64(s.Memory) != run.DefaultMemory || s.Pids != run.DefaultPids || s.Timeout.D() != run.DefaultTimeout ||
		s.Runtime != run.Runtimes()[0] || s.Network != run.Networks()[0] || s.StopTimeout.D() != run.DefaultStopTimeout || s.StopExit != run.StopExits()[0] {
		t.Errorf("smoke defaults %+v, run's memory %d, pids %d, timeout %s, runtime %s, network %s", s, run.DefaultMemory, run.DefaultPids, run.DefaultTimeout, run.Runtimes()[0], run.Networks()[0])
	}
}

// A build's own platforms win over the top level's, which win over the host's; each comes as
// validation parsed it (linux/arm is linux/arm/v7).
func TestPlatformsOf(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "scratchkit.yaml", "platforms: [linux/amd64, linux/arm]\nbuilds:\n  - main: ./a\n  - main: ./b\n    platforms: [linux/arm64]\n")
	r, err := load(t, dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]string{-1: "linux/amd64 linux/arm/v7", 0: "linux/amd64 linux/arm/v7", 1: "linux/arm64"} {
		if got := strings.Join(platform.Strings(r.PlatformsOf(i)), " "); got != want {
			t.Errorf("PlatformsOf(%d) = %s, want %s", i, got, want)
		}
	}
}
