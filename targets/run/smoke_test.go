package run

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/imagefs"
	"github.com/scratchkit/scratchkit/targets/imagefs/imagetest"
	"github.com/scratchkit/scratchkit/targets/lint"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// eachRuntime runs f once with real docker and once with real runc, each as a subtest, and
// checks afterwards that nothing was left behind: no container, no image, no bundle.
func eachRuntime(t *testing.T, f func(t *testing.T, opts Options)) {
	t.Helper()
	t.Run("docker", func(t *testing.T) {
		docker := testenv.Docker(t)
		f(t, Options{Runtime: RuntimeDocker, Docker: docker, Log: t.Logf})
		// Only this test process's containers and images: other packages' tests may be running
		// smoke tests against the same daemon at the same time.
		out := testenv.Run(t, docker, "ps", "--all", "--quiet", "--filter", "label=org.scratchkit.smoke.owner="+owner())
		if strings.TrimSpace(out) != "" {
			t.Errorf("containers left behind: %s", out)
			exec.Command(docker, append([]string{"rm", "-f"}, strings.Fields(out)...)...).Run()
		}
		out = testenv.Run(t, docker, "images", "--quiet", "--filter", "reference=scratchkit-smoke/*:*-"+owner()+"-*")
		if strings.TrimSpace(out) != "" {
			t.Errorf("images left behind: %s", out)
		}
	})
	t.Run("runc", func(t *testing.T) {
		testenv.Root(t)
		runc := testenv.Tool(t, "runc")
		tmp := t.TempDir()
		f(t, Options{Runtime: RuntimeRunc, Runc: runc, TempDir: tmp, Log: t.Logf})
		if out := testenv.Run(t, runc, "list", "--quiet"); strings.Contains(out, "scratchkit-smoke-"+owner()+"-") {
			t.Errorf("runc containers left behind: %s", out)
		}
		if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
			t.Errorf("bundles left behind in %s: %v", tmp, ents)
		}
	})
}

func smoke(t *testing.T, name string, a Artifact, opts Options) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Smoke(ctx, name, a, opts)
	if err != nil {
		t.Fatalf("Smoke: %v", err)
	}
	var buf bytes.Buffer
	if err := WriteReport(&buf, []Report{*rep}); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", buf.String())
	return rep
}

// onlyPlatform returns the report's single platform, which must have run.
func ranPlatform(t *testing.T, rep *Report, runtimeName string) PlatformReport {
	t.Helper()
	if len(rep.Platforms) != 1 {
		t.Fatalf("%d platforms, want 1", len(rep.Platforms))
	}
	p := rep.Platforms[0]
	if !p.Ran || p.Runtime != runtimeName || p.Error != "" {
		t.Fatalf("platform %s: ran=%v runtime=%q error=%q", p.Platform, p.Ran, p.Runtime, p.Error)
	}
	return p
}

func wantProbe(t *testing.T, p PlatformReport, probe string, passed bool, diagnosis ...string) ProbeResult {
	t.Helper()
	r, ok := p.Probe(probe)
	if !ok {
		t.Fatalf("no %s probe result", probe)
	}
	if r.Passed != passed {
		t.Errorf("%s probe: passed=%v, want %v: %s\noutput: %s", probe, r.Passed, passed, r.Detail, r.Output)
	}
	for _, d := range diagnosis {
		if !strings.Contains(r.Diagnosis, d) {
			t.Errorf("%s probe: diagnosis does not say %q: %q (output %q)", probe, d, r.Diagnosis, r.Output)
		}
	}
	return r
}

// The example on the static base passes every check, its exit probe and its http probe — the
// service is reached on its own loopback and stops cleanly on SIGTERM — with docker and runc.
func TestSmokeExample(t *testing.T) {
	bin := helloBinary(t)
	img := imagetest.Of(t, "hello", bin, "static", "", "-addr", ":8080")
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Policy.BinarySHA256 = map[platform.Platform]string{platform.Host(): testenv.FileSHA256(t, bin)}
		opts.Probes = []Probe{
			{Exit: &ExitProbe{Args: []string{"-version"}, Output: "^hello "}},
			{HTTP: &HTTPProbe{Port: 8080, Path: "/healthz", Timeout: 20 * time.Second}},
		}
		rep := smoke(t, "hello", img, opts)
		if rep.Failed() {
			t.Fatal("the example failed its smoke test")
		}
		p := ranPlatform(t, rep, opts.Runtime)
		if len(p.Findings) == 0 {
			t.Error("no static findings")
		}
		e := wantProbe(t, p, "exit", true)
		if !strings.HasPrefix(e.Output, "hello ") || e.ExitCode != 0 {
			t.Errorf("exit probe: code %d output %q", e.ExitCode, e.Output)
		}
		h := wantProbe(t, p, "http", true)
		if h.ExitCode != 0 || !strings.Contains(h.Output, "stopped") || !strings.Contains(h.Detail, "answered 200") {
			t.Errorf("http probe: code %d detail %q output %q: want 200 and a clean stop", h.ExitCode, h.Detail, h.Output)
		}
	})
}

// Only when asked (smoke.network: host), the http probe uses the host network, and the report
// says so: the service must then take its port from the probe's arguments.
func TestSmokeHostNetwork(t *testing.T) {
	img := imagetest.Of(t, "hello", helloBinary(t), "static", "")
	eachRuntime(t, func(t *testing.T, opts Options) {
		port := testenv.FreePort(t)
		opts.Network = NetworkHost
		opts.Probes = []Probe{{HTTP: &HTTPProbe{Args: []string{"-addr", fmt.Sprintf("127.0.0.1:%d", port)}, Port: port, Path: "/healthz"}}}
		rep := smoke(t, "hello", img, opts)
		p := ranPlatform(t, rep, opts.Runtime)
		h := wantProbe(t, p, "http", true)
		if !strings.Contains(h.Detail, "host network") || p.Network != NetworkHost {
			t.Errorf("http probe did not say it used the host network: network %q, detail %s", p.Network, h.Detail)
		}
		var buf bytes.Buffer
		if err := WriteReport(&buf, []Report{*rep}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "host network (smoke.network: host)") {
			t.Errorf("the report does not say the host network was used:\n%s", buf.String())
		}
	})
}

// The example on scratch fails statically for CA roots, zone data and /etc/passwd, and at run
// with the symptoms those cause, each diagnosed.
func TestSmokeScratchPitfalls(t *testing.T) {
	img := imagetest.Of(t, "hello", helloBinary(t), "scratch", "")
	cases := []struct {
		check, finding, output string
		diagnosis              []string
	}{
		{"roots", lint.CheckCARoots, "x509: the system root pool is empty", []string{"no CA roots", "x509roots/fallback"}},
		{"tz", lint.CheckZoneInfo, "unknown time zone Europe/Berlin", []string{"time.LoadLocation(\"Europe/Berlin\")", "time/tzdata"}},
		{"user", lint.CheckPasswd, "user: Current requires cgo", []string{"/etc/passwd"}},
	}
	eachRuntime(t, func(t *testing.T, opts Options) {
		// The service itself runs on scratch: its health check needs none of what is missing.
		opts.Probes = []Probe{{HTTP: &HTTPProbe{Args: []string{"-addr", ":8080"}, Port: 8080, Path: "/healthz"}}}
		p := ranPlatform(t, smoke(t, "hello", img, opts), opts.Runtime)
		wantProbe(t, p, "http", true)
		for _, c := range []string{lint.CheckCARoots, lint.CheckZoneInfo, lint.CheckPasswd} {
			if f, _ := p.Finding(c); f.Status != binary.StatusFail {
				t.Errorf("static %s on scratch: %s, want fail", c, f.Status)
			}
		}
		for _, c := range cases {
			t.Run(c.check, func(t *testing.T) {
				opts.Probes = []Probe{{Exit: &ExitProbe{Args: []string{"-check", c.check}}}}
				rep := smoke(t, "hello", img, opts)
				if !rep.Failed() {
					t.Fatal("report did not fail")
				}
				p := ranPlatform(t, rep, opts.Runtime)
				if f, _ := p.Finding(c.finding); f.Status != binary.StatusFail {
					t.Errorf("static %s: %s, want fail", c.finding, f.Status)
				}
				r := wantProbe(t, p, "exit", false, c.diagnosis...)
				if r.ExitCode != 1 || !strings.Contains(r.Output, c.output) {
					t.Errorf("exit code %d, output %q: want 1 and %q", r.ExitCode, r.Output, c.output)
				}
			})
		}
	})
}

// A dynamically linked cgo binary on scratch: the linkage check fails, and the run fails with
// "no such file or directory" for a file that is there, diagnosed as the missing loader.
func TestSmokeDynamicBinary(t *testing.T) {
	img := imagetest.Of(t, "dyn", dynBinary(t), "scratch", "")
	eachRuntime(t, func(t *testing.T, opts Options) {
		rep := smoke(t, "dyn", img, opts) // no probes: the start probe
		p := ranPlatform(t, rep, opts.Runtime)
		if f, _ := p.Finding(lint.CheckLinkage); f.Status != binary.StatusFail {
			t.Errorf("static linkage: %s, want fail", f.Status)
		}
		r := wantProbe(t, p, "start", false, "dynamic loader", "CGO_ENABLED=0")
		if !strings.Contains(r.Output, "exec /ko-app/dyn: no such file or directory") || r.ExitCode == 0 {
			t.Errorf("exit code %d output %q", r.ExitCode, r.Output)
		}
	})
}

// A binary that writes next to itself fails under the read-only root production uses. No static
// check can see this; the run does, and says what to do.
func TestSmokeReadOnlyRoot(t *testing.T) {
	img := imagetest.Of(t, "pitfall", pitfallBinary(t), "static", "")
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Probes = []Probe{{Exit: &ExitProbe{Args: []string{"-write", "/state.db"}}}}
		rep := smoke(t, "pitfall", img, opts)
		p := ranPlatform(t, rep, opts.Runtime)
		for _, f := range p.Findings {
			if f.Status == binary.StatusFail {
				t.Errorf("static %s failed: %s", f.Check, f.Detail)
			}
		}
		r := wantProbe(t, p, "exit", false, "/state.db", "read-only", "volume")
		if r.ExitCode != 1 || !strings.Contains(r.Output, "open /state.db: read-only file system") {
			t.Errorf("exit code %d output %q", r.ExitCode, r.Output)
		}
	})
}

// A non-root service on port 80 fails statically and at run with bind: permission denied, as on
// Kubernetes; the same image as root is not run without allow_root; with it, its capabilities
// are dropped as for any container, so it fails the same way, and binds the port once
// smoke.cap_add gives back NET_BIND_SERVICE.
func TestSmokePrivilegedPort(t *testing.T) {
	bin := helloBinary(t)
	nonroot := imagetest.Of(t, "hello", bin, "static", "", "-addr", ":80")
	root := imagetest.Of(t, "hello", bin, "static", "0", "-addr", ":80")
	probe := []Probe{{HTTP: &HTTPProbe{Port: 80, Path: "/healthz", Timeout: 10 * time.Second}}}
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Probes = probe
		rep := smoke(t, "hello", nonroot, opts)
		p := ranPlatform(t, rep, opts.Runtime)
		if f, _ := p.Finding(lint.CheckPorts); f.Status != binary.StatusFail {
			t.Errorf("static ports: %s, want fail", f.Status)
		}
		r := wantProbe(t, p, "http", false, "port 80", "8080")
		if r.ExitCode != 1 || !strings.Contains(r.Output, "bind: permission denied") {
			t.Errorf("exit code %d output %q", r.ExitCode, r.Output)
		}

		rep = smoke(t, "hello", root, opts)
		if p := rep.Platforms[0]; p.Ran || len(p.Probes) > 0 || !rep.Failed() {
			t.Errorf("root image without allow_root: ran=%v probes=%d failed=%v, want not run and failed", p.Ran, len(p.Probes), rep.Failed())
		}

		opts.Policy.AllowRoot = true
		rep = smoke(t, "hello", root, opts)
		p = ranPlatform(t, rep, opts.Runtime)
		if f, _ := p.Finding(lint.CheckPorts); f.Status != binary.StatusFail || !strings.Contains(f.Detail, "smoke.cap_add") {
			t.Errorf("static ports of a root image without NET_BIND_SERVICE: %s %s", f.Status, f.Detail)
		}
		if r := wantProbe(t, p, "http", false); !strings.Contains(r.Output, "bind: permission denied") {
			t.Errorf("root without capabilities: output %q", r.Output)
		}

		opts.Policy.CapAdd = []string{"CAP_NET_BIND_SERVICE"}
		rep = smoke(t, "hello", root, opts)
		if rep.Failed() {
			t.Error("root image with allow_root and NET_BIND_SERVICE failed")
		}
		wantProbe(t, ranPlatform(t, rep, opts.Runtime), "http", true)
	})
}

// The memory limit applies: a program that needs more is killed, and the result says so.
func TestSmokeMemoryLimit(t *testing.T) {
	img := imagetest.Of(t, "pitfall", pitfallBinary(t), "static", "")
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Memory = 64 << 20
		opts.Probes = []Probe{{Exit: &ExitProbe{Args: []string{"-alloc-mb", "200"}}}}
		p := ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		r := wantProbe(t, p, "exit", false, "memory")
		if r.ExitCode != 137 {
			t.Errorf("exit code %d, want 137 (SIGKILL by the OOM killer)", r.ExitCode)
		}
		opts.Probes[0].Exit.Args = []string{"-alloc-mb", "20"}
		p = ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		wantProbe(t, p, "exit", true)
	})
}

// A service that ignores SIGTERM fails the http probe: it would be killed on every rollout.
func TestSmokeStopTimeout(t *testing.T) {
	img := imagetest.Of(t, "pitfall", pitfallBinary(t), "static", "")
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.StopTimeout = time.Second
		opts.Probes = []Probe{{HTTP: &HTTPProbe{Args: []string{"-serve", ":8080", "-ignore-term"}, Port: 8080}}}
		p := ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		r := wantProbe(t, p, "http", false)
		if !strings.Contains(r.Detail, "did not exit within 1s of SIGTERM") {
			t.Errorf("detail %q", r.Detail)
		}
	})
}

// A service that exits with code 2 on SIGTERM (Kubernetes' stop) passes its http probe with a
// warning saying so, or fails it under StopEnforce; one that exits 0 gets no warning.
func TestSmokeStopExit(t *testing.T) {
	img := imagetest.Of(t, "pitfall", pitfallBinary(t), "static", "")
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Probes = []Probe{{HTTP: &HTTPProbe{Args: []string{"-serve", ":8080", "-term-exit", "2"}, Port: 8080}}}
		r := wantProbe(t, ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime), "http", true)
		if r.ExitCode != 2 || !strings.Contains(r.Warning, "exited with code 2 on SIGTERM") {
			t.Errorf("report: exit code %d, warning %q", r.ExitCode, r.Warning)
		}
		opts.StopExit = StopEnforce
		r = wantProbe(t, ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime), "http", false)
		if !strings.Contains(r.Detail, "on SIGTERM the service exited with code 2: Kubernetes") || !strings.Contains(r.Detail, "smoke.stop_exit: enforce") {
			t.Errorf("enforce: detail %q", r.Detail)
		}
		opts.Probes = []Probe{{HTTP: &HTTPProbe{Args: []string{"-serve", ":8080", "-term-exit", "0"}, Port: 8080}}}
		if r := wantProbe(t, ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime), "http", true); r.Warning != "" {
			t.Errorf("a clean exit warned: %q", r.Warning)
		}
	})
}

// A multi-platform index: the host's platform runs natively, the foreign ones (arm64 and arm/v7 on
// amd64), with no qemu binfmt_misc handler registered, under this machine's qemu-user-static
// mounted read-only into the container: the real server answers its http probe under docker and
// runc alike, and the report says it ran under emulation. Nothing of the emulator is in the image.
func TestSmokeMultiPlatform(t *testing.T) {
	foreign := []string{"arm64", "arm"}
	if runtime.GOARCH != "amd64" {
		foreign = []string{"amd64"}
	}
	bins := []image.Binary{{Platform: platform.Host(), Path: helloBinary(t)}}
	for _, arch := range foreign {
		if qemuHandler(arch) == "" {
			testenv.Tool(t, "qemu-"+qemuArch[arch]+"-static")
		}
		p := platform.Platform{OS: "linux", Arch: arch, Variant: platform.DefaultVariant(arch)}
		env := append([]string{"GOOS=linux", "GOARCH=" + arch}, p.Env()...)
		bins = append(bins, image.Binary{Platform: p, Path: goBinary(t, "../../examples/hello", env...)})
	}
	res := imagetest.Build(t, image.Spec{Name: "hello", RunConfig: image.RunConfig{Args: []string{"-addr", ":8080"}}, Binaries: bins})
	if res.Index == nil {
		t.Fatal("no index for several platforms")
	}
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Probes = []Probe{{HTTP: &HTTPProbe{Port: 8080, Path: "/healthz", Timeout: 60 * time.Second}}}
		rep := smoke(t, "hello", res.Index, opts)
		if len(rep.Platforms) != len(bins) {
			t.Fatalf("%d platforms, want %d", len(rep.Platforms), len(bins))
		}
		for _, b := range bins {
			f, ok := rep.Platform(b.Platform)
			if !ok {
				t.Fatalf("no report for %s", b.Platform)
			}
			if pf, _ := f.Finding(lint.CheckPlatform); pf.Status != binary.StatusPass {
				t.Errorf("%s platform check: %s %s", b.Platform, pf.Status, pf.Detail)
			}
			if !f.Ran || f.Failed() {
				t.Errorf("%s: ran=%v failed=%v note=%q reason=%q probes=%+v", b.Platform, f.Ran, f.Failed(), f.Note, f.Reason, f.Probes)
				continue
			}
			wantProbe(t, f, "http", true)
			if arch := b.Platform.Arch; arch != runtime.GOARCH && qemuHandler(arch) == "" && !strings.Contains(f.Note, "run under emulation") {
				t.Errorf("%s: the report does not say it ran under emulation: %q", b.Platform, f.Note)
			}
		}
	})
	// The emulator is the container's, not the image's.
	for _, p := range res.Platforms {
		fs, err := imagefs.Read(context.Background(), p.Image, imagefs.Plan{}, imagefs.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if fs.Exists(emulatorPath) {
			t.Errorf("the %s image holds %s", p.Platform, emulatorPath)
		}
	}
}

// Under emulation, a service without a SIGTERM handler cannot exit on SIGTERM (the emulator is
// PID 1): the probe passes with a warning that says why, instead of failing the platform.
func TestSmokeEmulatedStopIsNotJudged(t *testing.T) {
	if runtime.GOARCH != "amd64" || qemuHandler("arm64") != "" {
		t.Skip("needs an amd64 machine running arm64 under qemu-user-static")
	}
	testenv.Tool(t, "qemu-aarch64-static")
	bin := goBinary(t, "testdata/pitfall", "GOOS=linux", "GOARCH=arm64")
	res := imagetest.Build(t, image.Spec{Name: "pitfall", Binaries: []image.Binary{{Platform: platform.MustParse("linux/arm64"), Path: bin}}})
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.StopTimeout = 2 * time.Second
		opts.Probes = []Probe{{HTTP: &HTTPProbe{Args: []string{"-serve", ":8080"}, Port: 8080, Timeout: 60 * time.Second}}}
		r := wantProbe(t, ranPlatform(t, smoke(t, "pitfall", res.Image, opts), opts.Runtime), "http", true)
		if !strings.Contains(r.Warning, "under emulation the stop is not judged") {
			t.Errorf("warning %q", r.Warning)
		}
	})
}

// With neither a binfmt_misc handler nor the emulator, a foreign platform is statically checked
// only, and the reason says what would run it.
func TestForeignPlatformWithoutEmulator(t *testing.T) {
	foreign := "arm64"
	if runtime.GOARCH == "arm64" {
		foreign = "amd64"
	}
	if qemuHandler(foreign) != "" {
		t.Skip("a binfmt_misc handler runs the foreign platform here")
	}
	t.Setenv("PATH", t.TempDir())
	ok, why, emulator := runnable(platform.Platform{OS: "linux", Arch: foreign})
	if ok || emulator != "" || !strings.Contains(why, "qemu-user-static") {
		t.Errorf("runnable without an emulator: %v %q %q", ok, why, emulator)
	}
}

// Without a runtime the error says what to install, and the static findings are still there;
// runtime none checks statically and runs nothing.
func TestSmokeNoRuntime(t *testing.T) {
	img := imagetest.Of(t, "hello", helloBinary(t), "static", "")
	rep, err := Smoke(context.Background(), "hello", img, Options{Docker: "/nonexistent/docker", Runc: "/nonexistent/runc"})
	if err == nil {
		t.Fatal("no error without docker and runc")
	}
	for _, want := range []string{"docker.io", "runc", "smoke.runtime: none"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if rep == nil || len(rep.Platforms) != 1 || len(rep.Platforms[0].Findings) == 0 || rep.Platforms[0].Ran {
		t.Errorf("report without runtime: %+v", rep)
	}
	if _, err := Smoke(context.Background(), "hello", img, Options{Runtime: RuntimeDocker, Docker: "/nonexistent/docker"}); err == nil || !strings.Contains(err.Error(), "docker.io") {
		t.Errorf("runtime docker without docker: %v", err)
	}

	rep, err = Smoke(context.Background(), "hello", img, Options{Runtime: RuntimeNone, Docker: "/nonexistent/docker"})
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.Platforms[0]; p.Ran || !strings.Contains(p.Reason, "none") || rep.Failed() {
		t.Errorf("runtime none: %+v", p)
	}
}

// withVolumes declares volumes in an image's config, as a Dockerfile's VOLUME does.
func withVolumes(t *testing.T, img v1.Image, volumes ...string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.Volumes = map[string]struct{}{}
	for _, v := range volumes {
		cfg.Volumes[v] = struct{}{}
	}
	img, err = mutate.Config(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// A server that keeps state in its home directory and a scratch directory in /tmp fails under the
// read-only root, and the diagnosis names the path and the setting; with those directories as
// tmpfs it passes. The root stays read-only, and a tmpfs is bounded.
func TestSmokeWritableDirectories(t *testing.T) {
	img := imagetest.Of(t, "pitfall", pitfallBinary(t), "static", "")
	serve := []Probe{{HTTP: &HTTPProbe{Args: []string{"-state", "-serve", ":8080"}, Port: 8080, Path: "/", Timeout: 10 * time.Second}}}
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Probes = serve
		p := ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		r := wantProbe(t, p, "http", false, "writes /home/nonroot/.local", "smoke.tmpfs: [/home/nonroot]")
		if !strings.Contains(r.Output, "mkdir /home/nonroot/.local: read-only file system") || !strings.Contains(r.Detail, "exited with code 1") {
			t.Errorf("without a tmpfs: detail %q output %q", r.Detail, r.Output)
		}

		opts.Tmpfs = []Tmpfs{{Path: "/tmp"}, {Path: "/home/nonroot", Size: 4 << 20, Mode: 0o700}}
		p = ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		r = wantProbe(t, p, "http", true)
		if !strings.Contains(r.Output, "state in /home/nonroot/.local/state/pitfall scratch in /tmp/pitfall-") {
			t.Errorf("with tmpfs: output %q", r.Output)
		}
		if got := strings.Join(p.Tmpfs, ", "); got != "/tmp (64.0 MiB), /home/nonroot (4.0 MiB)" {
			t.Errorf("report's tmpfs %q", got)
		}

		// Everything else stays read-only, and a tmpfs holds no more than its size.
		opts.Probes = []Probe{
			{Name: "root", Exit: &ExitProbe{Args: []string{"-write", "/state.db"}}},
			{Name: "full", Exit: &ExitProbe{Args: []string{"-write", "/home/nonroot/big", "-write-mb", "8"}}},
			{Name: "fits", Exit: &ExitProbe{Args: []string{"-write", "/tmp/big", "-write-mb", "8"}}},
		}
		p = ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		wantProbe(t, p, "root", false, "writes /state.db")
		if r := wantProbe(t, p, "full", false); !strings.Contains(r.Output, "no space left on device") {
			t.Errorf("8MiB into a 4MiB tmpfs: output %q", r.Output)
		}
		wantProbe(t, p, "fits", true)
	})
}

// A volume the image declares gets a tmpfs, owned by the image's user; smoke.env reaches the
// process over the image's environment.
func TestSmokeVolumesAndEnv(t *testing.T) {
	img := withVolumes(t, imagetest.Of(t, "pitfall", pitfallBinary(t), "static", ""), "/var/lib/pitfall")
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Env = []string{"PITFALL_MODE=smoke", "HOME=/var/lib/pitfall"}
		opts.Probes = []Probe{
			{Name: "volume", Exit: &ExitProbe{Args: []string{"-write", "/var/lib/pitfall/db"}, Output: "wrote /var/lib/pitfall/db"}},
			{Name: "env", Exit: &ExitProbe{Args: []string{"-print-env", "PITFALL_MODE"}, Output: "^smoke\n$"}},
			{Name: "home", Exit: &ExitProbe{Args: []string{"-state"}, Output: "state in /var/lib/pitfall/.local/state/pitfall"}},
		}
		p := ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		for _, name := range []string{"volume", "env"} {
			wantProbe(t, p, name, true)
		}
		// /tmp is not writable: only the volume (and HOME pointing at it) is.
		if r := wantProbe(t, p, "home", false, "writes /tmp/pitfall-"); !strings.Contains(r.Output, "read-only file system") {
			t.Errorf("home: output %q", r.Output)
		}
		if got := strings.Join(p.Tmpfs, ", "); got != "/var/lib/pitfall (volume, 64.0 MiB)" {
			t.Errorf("report's tmpfs %q", got)
		}
	})
}

// Several http probes, each with what the answer must be: a status (a redirect checked, not
// followed), a body pattern, a Host header; an answer that is not the expected one fails and
// says what came instead.
func TestSmokeHTTPExpectations(t *testing.T) {
	img := imagetest.Of(t, "pitfall", pitfallBinary(t), "static", "", "-serve", ":8080")
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Probes = []Probe{
			{Name: "host", HTTP: &HTTPProbe{Port: 8080, Path: "/", Host: "app.example", Body: `(?m)^ok, host app\.example$`}},
			{Name: "missing", HTTP: &HTTPProbe{Port: 8080, Path: "/missing", Status: 404, Body: "not found"}},
			{Name: "moved", HTTP: &HTTPProbe{Port: 8080, Path: "/moved", Status: 301}},
			{Name: "followed", HTTP: &HTTPProbe{Port: 8080, Path: "/moved", Body: "^ok"}},
			{Name: "wrong", HTTP: &HTTPProbe{Port: 8080, Path: "/missing", Timeout: 2 * time.Second}},
			{Name: "body", HTTP: &HTTPProbe{Port: 8080, Path: "/", Body: "^nope", Timeout: 2 * time.Second}},
		}
		rep := smoke(t, "pitfall", img, opts)
		p := ranPlatform(t, rep, opts.Runtime)
		if len(p.Probes) != 6 {
			t.Fatalf("%d probe results, want 6", len(p.Probes))
		}
		for _, name := range []string{"host", "missing", "moved", "followed"} {
			wantProbe(t, p, name, true)
		}
		if r := wantProbe(t, p, "moved", true); !strings.Contains(r.Detail, "answered 301") {
			t.Errorf("moved: %s", r.Detail)
		}
		if r := wantProbe(t, p, "wrong", false); !strings.Contains(r.Detail, "got no 2xx answer") || !strings.Contains(r.Detail, "last answer 404 Not Found, want a 2xx") {
			t.Errorf("wrong: %s", r.Detail)
		}
		if r := wantProbe(t, p, "body", false); !strings.Contains(r.Detail, `does not match "^nope": "ok, host 127.0.0.1:8080\n"`) {
			t.Errorf("body: %s", r.Detail)
		}
		var buf bytes.Buffer
		if err := WriteReport(&buf, []Report{*rep}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "FAIL  probe http wrong") {
			t.Errorf("the report does not name the failed probe:\n%s", buf.String())
		}
	})
}
