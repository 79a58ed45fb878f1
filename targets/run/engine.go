package run

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/targets/lint"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/run/internal/httpprobe"
)

// engine is a container runtime: docker or runc.
type engine interface {
	name() string
	// sweep removes what smoke runs whose process died left in this runtime (see sweep.go).
	sweep(ctx context.Context) error
	// load makes img runnable (docker load, or an unpacked runc root filesystem).
	load(ctx context.Context, name string, img v1.Image, info *lint.Image) (loaded, error)
}

// loaded is an image an engine can start containers from.
type loaded interface {
	start(ctx context.Context, spec runSpec) (container, error)
	// get GETs url from inside c's own network namespace until the service answers as expected,
	// exits, or deadline passes.
	get(ctx context.Context, c container, url string, e httpprobe.Expect, deadline time.Time) getResult
	// remove deletes what load made. It runs with a context that is not the caller's, so that
	// cleanup happens after a cancellation too.
	remove(ctx context.Context) error
}

// runSpec is one container to run.
type runSpec struct {
	id   string
	args []string // replace the image's Cmd; nil keeps it
	// mounts are the writable tmpfs directories; everything else is the read-only root.
	mounts []mount
	// env are NAME=VALUE entries set over the image's environment.
	env []string
	// hostNetwork shares the host's network namespace; without it the container gets a new one
	// with only a loopback interface.
	hostNetwork bool
	// emulator is this machine's qemu user-mode emulator for a foreign platform (a static
	// binary), bound read-only at emulatorPath in the container, which runs the image's
	// program through it; empty for a platform this machine runs.
	emulator string
}

// emulatorPath is where a foreign platform's container finds the emulator: outside the image's
// own directories, never written into the image.
const emulatorPath = "/.scratchkit-qemu"

// container is a started container.
type container interface {
	// pid is the container's first process as this machine sees it, 0 when unknown.
	pid(ctx context.Context) (int, error)
	// done is closed when the container has exited; exitCode is valid then.
	done() <-chan struct{}
	exitCode() int
	// signal sends a signal by name ("TERM", "KILL").
	signal(ctx context.Context, sig string) error
	// output is what the container wrote so far (stdout and stderr), plus what the runtime
	// said when it failed to start it.
	output(ctx context.Context) string
	// oomKilled reports whether the runtime knows the memory limit killed it.
	oomKilled(ctx context.Context) bool
	// remove deletes the container (killing it when it runs).
	remove(ctx context.Context) error
}

// newID returns a container name unique enough for concurrent runs.
func newID(name string) string {
	return "scratchkit-smoke-" + owner() + "-" + cleanName(name) + "-" + randHex()
}

// cleanName makes name usable in container names and image repositories.
func cleanName(name string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, name)
	clean = strings.Trim(clean, "-_.")
	if len(clean) > 40 {
		clean = clean[:40]
	}
	if clean == "" {
		clean = "image"
	}
	return clean
}

func randHex() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// selectEngine picks the runtime: docker when asked or when a daemon answers, runc when asked
// or when running as root with runc installed.
func selectEngine(ctx context.Context, opts Options) (engine, error) {
	switch opts.Runtime {
	case RuntimeDocker:
		if err := dockerAnswers(ctx, opts.Docker, 20*time.Second); err != nil {
			return nil, fmt.Errorf("smoke.runtime: docker: %w. Install docker (Debian: apt-get install docker.io) and start dockerd, or use smoke.runtime: runc (as root) or none (static checks only)", err)
		}
		return &dockerEngine{cli: opts.Docker, opts: opts}, nil
	case RuntimeRunc:
		if err := runcUsable(opts.Runc); err != nil {
			return nil, fmt.Errorf("smoke.runtime: runc: %w; or use smoke.runtime: docker or none (static checks only)", err)
		}
		return &runcEngine{cli: opts.Runc, opts: opts}, nil
	}
	dockerErr := dockerAnswers(ctx, opts.Docker, 5*time.Second)
	if dockerErr == nil {
		return &dockerEngine{cli: opts.Docker, opts: opts}, nil
	}
	runcErr := runcUsable(opts.Runc)
	if runcErr == nil {
		opts.logf("no docker daemon answers (%v): running with runc", dockerErr)
		return &runcEngine{cli: opts.Runc, opts: opts}, nil
	}
	return nil, fmt.Errorf("smoke: no container runtime to run the image: docker: %v; runc: %v. "+
		"Install and start one (Debian: apt-get install docker.io, then start dockerd; or apt-get install runc and run as root), "+
		"or set smoke.runtime: none to run the static checks only", dockerErr, runcErr)
}

// dockerAnswers checks that the docker CLI is installed and a daemon answers it.
func dockerAnswers(ctx context.Context, cli string, timeout time.Duration) error {
	p, err := exec.LookPath(cli)
	if err != nil {
		return fmt.Errorf("the docker CLI (%s) is not installed", cli)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p, "version", "--format", "{{.Server.APIVersion}}")
	cmd.Env = secrets.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("no docker daemon answered within %s", timeout)
		}
		return fmt.Errorf("no docker daemon answers: %s", firstLine(out, err))
	}
	return nil
}

// runcUsable checks that runc is installed and this process is root, which runc needs.
func runcUsable(cli string) error {
	if _, err := exec.LookPath(cli); err != nil {
		return fmt.Errorf("runc (%s) is not installed (Debian: apt-get install runc)", cli)
	}
	if os.Geteuid() != 0 {
		return errors.New("runc needs root, and this process is not root")
	}
	return nil
}

func firstLine(out []byte, err error) string {
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" && err != nil {
		s = err.Error()
	}
	return s
}

// runnable reports whether this machine can run a platform's image, how (emulator: the qemu
// user-mode emulator to run its program through, when no binfmt_misc handler does), and why not.
func runnable(p platform.Platform) (ok bool, why, emulator string) {
	host := platform.Host()
	if p.OS != host.OS {
		return false, fmt.Sprintf("a %s image does not run in a Linux container", p.OS), ""
	}
	if p.Arch == host.Arch {
		return true, "", ""
	}
	if h := qemuHandler(p.Arch); h != "" {
		return true, "foreign platform, run through the qemu binfmt_misc handler " + h, ""
	}
	if q, ok := qemuArch[p.Arch]; ok {
		if path, err := exec.LookPath("qemu-" + q + "-static"); err == nil {
			return true, "foreign platform, run under emulation: this machine's " + filepath.Base(path) + " is mounted read-only in the container (not in the image) and runs the program", path
		}
	}
	return false, fmt.Sprintf("foreign platform on this %s/%s machine, with no qemu binfmt_misc handler for %s registered and no qemu-%s-static on PATH (Debian's qemu-user-static)", host.OS, host.Arch, p.Arch, qemuArch[p.Arch]), ""
}

// qemuArch maps GOARCH to the names of qemu's binfmt_misc handlers.
var qemuArch = map[string]string{
	"amd64": "x86_64", "386": "i386", "arm64": "aarch64", "arm": "arm", "ppc64le": "ppc64le",
	"s390x": "s390x", "riscv64": "riscv64", "mips64le": "mips64el", "loong64": "loongarch64",
}

// binfmtDir is where binfmt_misc is mounted.
const binfmtDir = "/proc/sys/fs/binfmt_misc"

// qemuHandler returns the name of an enabled qemu handler for arch that works inside a container
// (flag F: the interpreter is opened when registered, so it need not be in the image).
func qemuHandler(arch string) string { return qemuHandlerIn(binfmtDir, arch) }

func qemuHandlerIn(dir, arch string) string {
	q, ok := qemuArch[arch]
	if !ok {
		return ""
	}
	name := "qemu-" + q
	data, err := os.ReadFile(dir + "/" + name)
	if err != nil {
		return ""
	}
	enabled, fixed := false, false
	for _, line := range strings.Split(string(data), "\n") {
		if line == "enabled" {
			enabled = true
		}
		if f, ok := strings.CutPrefix(line, "flags: "); ok && strings.Contains(f, "F") {
			fixed = true
		}
	}
	if enabled && fixed {
		return name
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and readers, bounded to its last
// maxOutput bytes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	cut bool
}

const maxOutput = 1 << 20

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, _ := b.buf.Write(p)
	if b.buf.Len() > maxOutput {
		keep := b.buf.Bytes()[b.buf.Len()-maxOutput/2:]
		nb := bytes.Buffer{}
		nb.Write(keep)
		b.buf = nb
		b.cut = true
	}
	return n, nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cut {
		return "[... earlier output dropped]\n" + b.buf.String()
	}
	return b.buf.String()
}
