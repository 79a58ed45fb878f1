package run

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/imagefs"
	"github.com/scratchkit/scratchkit/targets/imagefs/imagetest"
	"github.com/scratchkit/scratchkit/targets/lint"
)

// An image that would run as root without allow_root, or as a user that does not resolve, fails
// its user check and is not run: no image is loaded and no container created.
func TestSmokeRefusesRootImage(t *testing.T) {
	bin := helloBinary(t)
	root := imagetest.Of(t, "hello", bin, "static", "0", "-addr", ":8080")
	ghost := imagetest.Image(t, v1.Config{Entrypoint: []string{"/ko-app/hello"}, User: "app"}, imagetest.Layer(t, imagetest.BinFile(t, bin, "hello", 0o755)))
	eachRuntime(t, func(t *testing.T, opts Options) {
		since := time.Now().Add(-time.Second)
		var mu sync.Mutex
		var ran []string
		logf := opts.Log
		opts.Log = func(f string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			if l := fmt.Sprintf(f, a...); strings.Contains(l, " probe: ") || strings.Contains(l, "loaded into docker") || strings.Contains(l, "unpacked into") {
				ran = append(ran, l)
			}
			logf(f, a...)
		}
		opts.Probes = []Probe{{HTTP: &HTTPProbe{Port: 8080, Path: "/healthz"}}}
		for name, img := range map[string]v1.Image{"root": root, "unresolved user": ghost} {
			rep := smoke(t, "hello", img, opts)
			p := rep.Platforms[0]
			if !rep.Failed() || p.Ran || len(p.Probes) > 0 || !strings.Contains(p.Reason, "the user check failed") {
				t.Errorf("%s: failed=%v ran=%v probes=%d reason=%q: want a failure, not run", name, rep.Failed(), p.Ran, len(p.Probes), p.Reason)
			}
			if f, _ := p.Finding(lint.CheckUser); f.Status != binary.StatusFail {
				t.Errorf("%s: user check %s", name, f.Status)
			}
		}
		if len(ran) > 0 {
			t.Errorf("images refused by the user check were loaded or run: %q", ran)
		}
		if opts.Runtime == RuntimeDocker {
			out := testenv.Run(t, opts.Docker, "events", "--since", strconv.FormatInt(since.Unix(), 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
				"--filter", "type=container", "--filter", "event=create", "--filter", "label="+ownerLabel+"="+owner(), "--format", "{{.Actor.ID}}")
			if strings.TrimSpace(out) != "" {
				t.Errorf("docker created containers: %s", out)
			}
		}
	})
}

// A root image, when smoke.allow_root lets it run, is run like any other: every capability
// dropped (effective, permitted and bounding sets empty), no new privileges, a read-only root,
// only a loopback interface, under docker and runc alike; smoke.cap_add gives back exactly what
// it names, and the report says which.
func TestSmokeRootImageDropsEverything(t *testing.T) {
	img := imagetest.Of(t, "pitfall", pitfallBinary(t), "static", "0")
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Policy.AllowRoot = true
		opts.Probes = []Probe{{Exit: &ExitProbe{Args: []string{"-privileges"}}}}
		p := ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		r := wantProbe(t, p, "exit", true)
		for _, want := range []string{"uid 0", "CapEff: 0000000000000000", "CapPrm: 0000000000000000", "CapBnd: 0000000000000000", "NoNewPrivs: 1", "root read-only", "interfaces lo\n"} {
			if !strings.Contains(r.Output, want) {
				t.Errorf("root container: %q lacks %q", r.Output, want)
			}
		}
		if len(p.Capabilities) != 0 {
			t.Errorf("report capabilities %v, want none", p.Capabilities)
		}
		opts.Policy.CapAdd = []string{"CAP_NET_BIND_SERVICE"}
		p = ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		r = wantProbe(t, p, "exit", true)
		for _, want := range []string{"CapEff: 0000000000000400", "CapBnd: 0000000000000400", "NoNewPrivs: 1"} { // bit 10
			if !strings.Contains(r.Output, want) {
				t.Errorf("with smoke.cap_add NET_BIND_SERVICE: %q lacks %q", r.Output, want)
			}
		}
		if strings.Join(p.Capabilities, ",") != "CAP_NET_BIND_SERVICE" {
			t.Errorf("report capabilities %v, want CAP_NET_BIND_SERVICE", p.Capabilities)
		}
	})
}

func TestCapabilities(t *testing.T) {
	got, err := Capabilities([]string{"net_bind_service", "CAP_CHOWN", "NET_BIND_SERVICE"})
	if err != nil || strings.Join(got, " ") != "CAP_CHOWN CAP_NET_BIND_SERVICE" {
		t.Errorf("Capabilities = %v, %v", got, err)
	}
	for _, bad := range []string{"ALL", "CAP_WIZARD", ""} {
		if _, err := Capabilities([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Under both runtimes a system call docker's default seccomp profile refuses fails: keyctl(2),
// whose kernel keyrings are not namespaced. runc applies no filter unless told to.
func TestSmokeSeccomp(t *testing.T) {
	bin := pitfallBinary(t)
	if out, err := exec.Command(bin, "-keyctl").CombinedOutput(); err != nil {
		testenv.Missing(t, "keyctl fails on this host already, so the test shows nothing: %v: %s", err, out)
	}
	img := imagetest.Of(t, "pitfall", bin, "static", "")
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Probes = []Probe{{Exit: &ExitProbe{Args: []string{"-keyctl"}}}}
		p := ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		r := wantProbe(t, p, "exit", false)
		if !strings.Contains(r.Output, "keyctl: operation not permitted") {
			t.Errorf("output %q: want keyctl refused with EPERM", r.Output)
		}
	})
}

// A container may not start more than smoke.pids processes and threads (256 by default); the
// failure is diagnosed.
func TestSmokePidsLimit(t *testing.T) {
	img := imagetest.Of(t, "pitfall", pitfallBinary(t), "static", "")
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Probes = []Probe{{Exit: &ExitProbe{Args: []string{"-threads", "300"}}}}
		p := ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		r := wantProbe(t, p, "exit", false, "smoke.pids")
		if !strings.Contains(r.Output, "failed to create new OS thread") {
			t.Errorf("output %q: want the Go runtime's thread failure", r.Output)
		}
		opts.Probes = []Probe{{Exit: &ExitProbe{Args: []string{"-threads", "30"}}}}
		p = ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		wantProbe(t, p, "exit", true)
	})
}

// A container that floods its output costs scratchkit at most maxOutput of it, with the tail
// kept: the end is where the reason is.
func TestSmokeOutputBounded(t *testing.T) {
	img := imagetest.Of(t, "pitfall", pitfallBinary(t), "static", "")
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Probes = []Probe{{Exit: &ExitProbe{Args: []string{"-spew-mb", "8"}}}}
		p := ranPlatform(t, smoke(t, "pitfall", img, opts), opts.Runtime)
		r := wantProbe(t, p, "exit", false)
		if len(r.Output) > maxOutput+100 || !strings.HasPrefix(r.Output, "[... earlier output dropped]") || !strings.Contains(r.Output, "pitfall: wrote 8 MiB") {
			t.Errorf("output of %d bytes, starting %.40q, ending %q: want at most %d, the tail kept", len(r.Output), r.Output, r.Output[max(0, len(r.Output)-40):], maxOutput)
		}
	})
}

// docker keeps at most two log files of dockerLogSize for a smoke container, however much it
// writes.
func TestDockerLogBounded(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.Root(t) // to read the log file under /var/lib/docker
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts, err := Options{Runtime: RuntimeDocker, Docker: docker, Log: t.Logf}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	img := imagetest.Of(t, "pitfall", pitfallBinary(t), "static", "")
	info, err := lint.Analyze(ctx, img, imagefs.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	eng := &dockerEngine{cli: docker, opts: opts}
	ld, err := eng.load(ctx, "pitfall", img, info)
	if err != nil {
		t.Fatal(err)
	}
	defer ld.remove(context.Background())
	c, err := ld.start(ctx, runSpec{id: newID("logcap"), args: []string{"-spew-mb", "8"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.remove(context.Background())
	select {
	case <-c.done():
	case <-ctx.Done():
		t.Fatal("the container did not exit")
	}
	logPath := strings.TrimSpace(testenv.Run(t, docker, "inspect", "--format", "{{.LogPath}}", c.(*dockerContainer).id))
	var total int64
	for _, p := range []string{logPath, logPath + ".1", logPath + ".2"} {
		if fi, err := os.Stat(p); err == nil {
			total += fi.Size()
		}
	}
	if total == 0 || total > 2<<20+64<<10 {
		t.Errorf("docker kept %d bytes of log for 8 MiB of output: want some, at most 2 MiB", total)
	}
}

// The runc profile refuses what docker's default profile refuses and allows what programs need.
func TestSeccompProfile(t *testing.T) {
	p := seccompProfile(nil)
	if p.DefaultAction != "SCMP_ACT_ERRNO" || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 1 || len(p.Architectures) == 0 {
		t.Errorf("profile %+v: want EPERM by default for this host's architectures", p)
	}
	allowed := map[string]bool{}
	for _, r := range p.Syscalls {
		if r.Action == "SCMP_ACT_ALLOW" && len(r.Args) == 0 {
			for _, n := range r.Names {
				allowed[n] = true
			}
		}
	}
	for _, n := range []string{"read", "write", "futex", "epoll_pwait", "accept4", "getrandom", "rt_sigreturn", "execve", "openat"} {
		if !allowed[n] {
			t.Errorf("%s is not allowed", n)
		}
	}
	for _, n := range []string{"keyctl", "add_key", "mount", "umount2", "unshare", "setns", "bpf", "perf_event_open", "kexec_load", "init_module",
		"reboot", "swapon", "clock_settime", "io_uring_setup", "userfaultfd", "open_by_handle_at", "chroot", "clone", "clone3", "personality"} {
		if allowed[n] {
			t.Errorf("%s is allowed without conditions", n)
		}
	}
	if added := seccompProfile([]string{"CAP_SYS_CHROOT"}); !strings.Contains(fmt.Sprint(added.Syscalls[0].Names), "chroot") {
		t.Error("a container given CAP_SYS_CHROOT back (smoke.cap_add) may not chroot, unlike under docker")
	}
}
