package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/scratchkit/scratchkit/internal/netns"
	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/targets/imagefs"
	"github.com/scratchkit/scratchkit/targets/lint"
	"github.com/scratchkit/scratchkit/targets/run/internal/httpprobe"
)

// runcEngine runs containers with runc on a bundle unpacked from the image. It needs root.
type runcEngine struct {
	cli  string
	opts Options
}

func (r *runcEngine) name() string { return RuntimeRunc }

// load unpacks the image's filesystem once; every container of this image shares it, read-only.
func (r *runcEngine) load(ctx context.Context, imgName string, img v1.Image, info *lint.Image) (loaded, error) {
	dir, err := os.MkdirTemp(r.opts.TempDir, "scratchkit-smoke-"+owner()+"-"+cleanName(imgName)+"-")
	if err != nil {
		return nil, fmt.Errorf("runc bundle: %w", err)
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("runc bundle: %w", err)
	}
	if err := imagefs.Unpack(ctx, img, rootfs, r.opts.Limits); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("runc bundle %s: %w", dir, err)
	}
	r.opts.logf("smoke %s %s: unpacked into %s", imgName, info.Platform(), rootfs)
	return &runcLoaded{engine: r, dir: dir, rootfs: rootfs, info: info}, nil
}

type runcLoaded struct {
	engine *runcEngine
	dir    string
	rootfs string
	info   *lint.Image
}

func (l *runcLoaded) remove(context.Context) error {
	if err := os.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("remove runc bundle: %w", err)
	}
	return nil
}

// spec is the config.json of one container: runc's defaults (`runc spec`) made production-like,
// with docker's limits: a seccomp filter like docker's default profile and a pids limit.
func (l *runcLoaded) spec(s runSpec) (specs.Spec, error) {
	info := l.info
	u, uerr := info.User()
	if uerr != nil {
		return specs.Spec{}, uerr
	}
	cfg := info.Config().Config
	args, err := info.Command(s.args)
	if err != nil {
		return specs.Spec{}, err
	}
	if s.emulator != "" {
		args = append([]string{emulatorPath}, args...)
	}
	env := append([]string{}, cfg.Env...)
	has := lint.ConfigEnv(cfg.Env)
	if _, ok := has["PATH"]; !ok {
		env = append(env, "PATH="+lint.DefaultPATH)
	}
	if _, ok := has["HOME"]; !ok {
		env = append(env, "HOME="+u.Home())
	}
	env = withEnv(append(env, "HOSTNAME=scratchkit-smoke"), s.env)
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	// No capabilities, root or not, but those smoke.cap_add names: as docker --cap-drop ALL
	// --cap-add gives them (bounding, effective, permitted; a non-root process keeps them only
	// through file capabilities, as under docker).
	added := slices.Clone(l.engine.opts.CapAdd)
	if added == nil {
		added = []string{}
	}
	caps := &specs.LinuxCapabilities{Bounding: added, Effective: added, Permitted: added, Inheritable: []string{}, Ambient: []string{}}
	// Open files: what this process may have, as docker's containers inherit dockerd's limit.
	nofile := nofileLimit()
	ns := []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace}}
	if !s.hostNetwork {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace}) // a new one: runc brings up lo, nothing else
	}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
	for _, m := range s.mounts {
		mounts = append(mounts, specs.Mount{Destination: m.path, Type: "tmpfs", Source: "tmpfs", Options: append([]string{"nosuid", "nodev", "noexec"}, m.options()...)})
	}
	if s.emulator != "" {
		mounts = append(mounts, specs.Mount{Destination: emulatorPath, Type: "bind", Source: s.emulator, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	memory, pids := l.engine.opts.Memory, int64(l.engine.opts.Pids)
	return specs.Spec{
		Version: "1.0.2",
		Process: &specs.Process{
			User:            specs.User{UID: uint32(u.UID()), GID: uint32(u.GID()), AdditionalGids: gids(u.Groups())},
			Args:            args,
			Env:             env,
			Cwd:             cwd,
			Capabilities:    caps,
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: nofile, Soft: nofile}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: l.rootfs, Readonly: true},
		Hostname: "scratchkit-smoke",
		Mounts:   mounts,
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
				Memory:  &specs.LinuxMemory{Limit: &memory},
				Pids:    &specs.LinuxPids{Limit: &pids},
			},
			Seccomp:    seccompProfile(caps.Bounding),
			Namespaces: ns,
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
				"/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}, nil
}

// gids are group ids as the runtime spec types them.
func gids(groups []int) []uint32 {
	var out []uint32
	for _, g := range groups {
		out = append(out, uint32(g))
	}
	return out
}

// start writes the container's bundle and runs `runc run` in the foreground, which stays the
// container's parent: it forwards its exit code, and the container's output goes straight into
// a buffer.
func (l *runcLoaded) start(ctx context.Context, s runSpec) (container, error) {
	spec, err := l.spec(s)
	if err != nil {
		return nil, err
	}
	bundle := filepath.Join(l.dir, s.id)
	if err := os.Mkdir(bundle, 0o700); err != nil {
		return nil, fmt.Errorf("runc bundle: %w", err)
	}
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return nil, fmt.Errorf("runc bundle: %w", err)
	}
	c := &runcContainer{cli: l.engine.cli, id: s.id, bundle: bundle, exited: make(chan struct{}), code: -1}
	c.cmd = exec.Command(l.engine.cli, "run", "--bundle", bundle, s.id)
	c.cmd.Env = secrets.Environ()
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	if err := c.cmd.Start(); err != nil {
		os.RemoveAll(bundle)
		return nil, fmt.Errorf("runc run: %w", err)
	}
	go func() {
		defer close(c.exited)
		err := c.cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		} else if err != nil {
			code = -1
		}
		c.mu.Lock()
		c.code = code
		c.mu.Unlock()
	}()
	return c, nil
}

// get reaches the service from this process, through a socket opened inside the container's
// network namespace (root, which runc needs anyway, may join it).
func (l *runcLoaded) get(ctx context.Context, c container, url string, e httpprobe.Expect, deadline time.Time) getResult {
	pid, err := c.pid(ctx)
	if err != nil {
		select {
		case <-c.done():
			return getResult{exited: true}
		default:
		}
		return getResult{err: fmt.Errorf("find the container's process: %w", err)}
	}
	return getLoop(ctx, c, url, e, deadline, func(ctx context.Context, _, addr string) (net.Conn, error) {
		return netns.Dial(ctx, pid, addr)
	})
}

type runcContainer struct {
	cli    string
	id     string
	bundle string
	cmd    *exec.Cmd
	out    syncBuffer
	exited chan struct{}

	mu   sync.Mutex
	code int
}

func (c *runcContainer) runc(ctx context.Context, args ...string) (string, error) {
	return runcCmd(ctx, c.cli, args...)
}

// runcCmd runs the runc CLI and returns its combined output.
func runcCmd(ctx context.Context, cli string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Env = secrets.Environ()
	out, err := cmd.CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		if s == "" {
			s = err.Error()
		}
		return s, fmt.Errorf("runc %s: %s", strings.Join(args, " "), s)
	}
	return s, nil
}

func (c *runcContainer) done() <-chan struct{} { return c.exited }

func (c *runcContainer) exitCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code
}

// pid waits until runc reports the container running and returns its first process.
func (c *runcContainer) pid(ctx context.Context) (int, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := c.runc(ctx, "state", c.id)
		if err == nil {
			var st struct {
				Pid    int    `json:"pid"`
				Status string `json:"status"`
			}
			if json.Unmarshal([]byte(out), &st) == nil && st.Pid > 0 && st.Status == "running" {
				return st.Pid, nil
			}
		}
		select {
		case <-c.exited:
			return 0, errors.New("the container exited")
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("runc did not report %s running within 15s: %v", c.id, err)
		}
	}
}

func (c *runcContainer) signal(ctx context.Context, sig string) error {
	_, err := c.runc(ctx, "kill", c.id, sig)
	return err
}

func (c *runcContainer) output(context.Context) string { return c.out.String() }

func (c *runcContainer) oomKilled(context.Context) bool { return false }

// remove kills the container if it still runs, waits for `runc run` to return, deletes the
// container's state and its bundle directory.
func (c *runcContainer) remove(ctx context.Context) error {
	select {
	case <-c.exited:
	default:
		_ = c.signal(ctx, "KILL")
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
	var errs []error
	if out, err := c.runc(ctx, "delete", "--force", c.id); err != nil && !strings.Contains(out, "does not exist") && !strings.Contains(out, "not found") {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(c.bundle); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
