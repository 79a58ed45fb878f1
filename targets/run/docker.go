package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/targets/lint"
	"github.com/scratchkit/scratchkit/targets/run/internal/httpprobe"
)

// dockerEngine runs containers through the docker CLI, which negotiates the API version with
// whatever daemon it talks to (Debian's dockerd 20.10 speaks 1.41).
type dockerEngine struct {
	cli  string
	opts Options

	proberOnce sync.Once
	proberTag  string
	proberErr  error
}

func (d *dockerEngine) name() string { return RuntimeDocker }

// docker runs the CLI and returns its combined output.
func (d *dockerEngine) docker(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.cli, args...)
	cmd.Env = secrets.Environ()
	cmd.Stdin = stdin
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	out := strings.TrimSpace(buf.String())
	if err != nil {
		if out == "" {
			out = err.Error()
		}
		return out, fmt.Errorf("docker %s: %s", args[0], out)
	}
	return out, nil
}

// load streams the image into the daemon as a `docker load` tarball under a tag of its own.
func (d *dockerEngine) load(ctx context.Context, imgName string, img v1.Image, info *lint.Image) (loaded, error) {
	dg, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("docker load: %w", err)
	}
	tag, err := name.NewTag(fmt.Sprintf("scratchkit-smoke/%s:%s-%s-%s", cleanName(imgName), dg.Hex[:12], owner(), randHex()))
	if err != nil {
		return nil, fmt.Errorf("docker load: tag for %s: %w", imgName, err)
	}
	if err := d.loadImage(ctx, tag, img); err != nil {
		return nil, err
	}
	d.opts.logf("smoke %s %s: loaded into docker as %s", imgName, info.Platform(), tag)
	return &dockerLoaded{engine: d, tag: tag.String(), info: info}, nil
}

// loadImage streams img into the daemon as a `docker load` tarball tagged tag.
func (d *dockerEngine) loadImage(ctx context.Context, tag name.Tag, img v1.Image) error {
	pr, pw := io.Pipe()
	werr := make(chan error, 1)
	go func() {
		err := tarball.Write(tag, img, pw)
		pw.CloseWithError(err)
		werr <- err
	}()
	_, lerr := d.docker(ctx, pr, "load", "--quiet")
	pr.CloseWithError(errors.New("docker load ended")) // unblocks the writer when load failed early
	if err := <-werr; err != nil && lerr == nil {
		lerr = fmt.Errorf("write the image for docker load: %w", err)
	}
	return lerr
}

type dockerLoaded struct {
	engine *dockerEngine
	tag    string
	info   *lint.Image
}

func (l *dockerLoaded) remove(ctx context.Context) error {
	if out, err := l.engine.docker(ctx, nil, "rmi", l.tag); err != nil && !strings.Contains(out, "No such image") {
		return err
	}
	return nil
}

// Bounds of what a container's output costs: the json-file log docker keeps (two files of at
// most dockerLogSize), and what scratchkit reads back of it (maxOutput, as for runc).
const dockerLogSize = "1m"

// limitArgs are the `docker create` flags every smoke container gets: labelled with its owner
// (sweep.go), a read-only root, a memory limit with no swap beyond it, a pids limit, no new
// privileges, and a bounded log.
func limitArgs(memory int64, pids int) []string {
	mem := strconv.FormatInt(memory, 10)
	return []string{"--label", "org.scratchkit.smoke=1", "--label", ownerLabel + "=" + owner(),
		"--read-only", "--memory", mem, "--memory-swap", mem, "--pids-limit", strconv.Itoa(pids),
		"--security-opt", "no-new-privileges",
		"--log-driver", "json-file", "--log-opt", "max-size=" + dockerLogSize, "--log-opt", "max-file=2"}
}

// start creates and starts a container the way production runs it: the image's user, read-only
// root, memory and pids limits (no swap beyond the memory), no new privileges, no capabilities
// but those smoke.cap_add names (for a root image too), no network but loopback (or the host's, for an http probe under smoke.network:
// host), and ports below 1024 privileged as on Kubernetes. Docker's default seccomp profile
// applies.
func (l *dockerLoaded) start(ctx context.Context, spec runSpec) (container, error) {
	o := l.engine.opts
	args := append([]string{"--name", spec.id}, limitArgs(o.Memory, o.Pids)...)
	args = append(args, "--cap-drop", "ALL") // root or not: only what smoke.cap_add names comes back
	for _, c := range o.CapAdd {
		args = append(args, "--cap-add", shortCap(c))
	}
	if spec.hostNetwork {
		args = append(args, "--network", "host")
	} else {
		args = append(args, "--network", "none", "--sysctl", "net.ipv4.ip_unprivileged_port_start=1024")
	}
	// A --tmpfs at a path the image declares as a volume takes the place of docker's anonymous
	// volume there.
	for _, m := range spec.mounts {
		args = append(args, "--tmpfs", m.path+":"+strings.Join(append([]string{"nosuid", "nodev", "noexec"}, m.options()...), ","))
	}
	for _, e := range spec.env {
		args = append(args, "--env", e)
	}
	if spec.emulator != "" {
		// A foreign platform without a binfmt_misc handler: its program runs through this
		// machine's emulator, bound read-only, and the whole command line follows it.
		argv, err := l.info.Command(spec.args)
		if err != nil {
			return nil, err
		}
		args = append(args, "--mount", "type=bind,source="+spec.emulator+",target="+emulatorPath+",readonly", "--entrypoint", emulatorPath, l.tag)
		return l.engine.run(ctx, spec.id, append(args, argv...))
	}
	args = append(args, l.tag)
	args = append(args, spec.args...)
	return l.engine.run(ctx, spec.id, args)
}

// run creates a container (args: what follows `docker create`), starts it and watches it with
// `docker wait`.
func (d *dockerEngine) run(ctx context.Context, id string, args []string) (*dockerContainer, error) {
	if _, err := d.docker(ctx, nil, append([]string{"create"}, args...)...); err != nil {
		// The daemon may have created it before the CLI failed or was cancelled.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_, _ = d.docker(cctx, nil, "rm", "--force", "--volumes", id)
		return nil, err
	}
	c := &dockerContainer{engine: d, id: id, exited: make(chan struct{}), code: -1}
	waitCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancelWait = cancel
	if out, err := d.docker(ctx, nil, "start", id); err != nil {
		// The runtime refused to start it (entrypoint missing, user unknown): the container
		// exists, stopped, with an exit code; its "output" is the runtime's message.
		c.startOut = strings.TrimPrefix(out, "Error response from daemon: ")
	}
	go c.wait(waitCtx)
	return c, nil
}

// get reaches the service from the prober's container, which joins the service container's
// network namespace: no host network, and no root needed.
func (l *dockerLoaded) get(ctx context.Context, c container, url string, e httpprobe.Expect, deadline time.Time) getResult {
	svc := c.(*dockerContainer)
	tag, err := l.engine.prober(ctx)
	if err != nil {
		return getResult{err: err}
	}
	id := newID("prober")
	timeout := max(time.Until(deadline), time.Second).Round(time.Millisecond)
	args := append([]string{"--name", id}, limitArgs(proberMemory, proberPids)...)
	args = append(args, "--network", "container:"+svc.id, "--cap-drop", "ALL", "--user", proberUser,
		tag, "-url", url, "-timeout", timeout.String())
	if e.Status != 0 {
		args = append(args, "-status", strconv.Itoa(e.Status))
	}
	if e.Body != nil {
		args = append(args, "-body", e.Body.String())
	}
	if e.Host != "" {
		args = append(args, "-host", e.Host)
	}
	pc, err := l.engine.run(ctx, id, args)
	if err != nil {
		return serviceGone(c, fmt.Errorf("start the prober: %w", err))
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := pc.remove(cctx); err != nil {
			l.engine.opts.logf("smoke: remove prober container %s: %v", id, err)
		}
	}()
	if pc.startOut != "" {
		return serviceGone(c, fmt.Errorf("start the prober: %s", pc.startOut))
	}
	select {
	case <-pc.done():
	case <-c.done():
		return getResult{exited: true}
	case <-ctx.Done():
		return getResult{err: ctx.Err()}
	case <-time.After(timeout + time.Minute):
		return getResult{err: fmt.Errorf("the prober container %s did not finish within %s of its deadline", id, time.Minute)}
	}
	out := pc.output(ctx)
	var r httpprobe.Result
	line := out
	if i := strings.LastIndexByte(strings.TrimRight(out, "\n"), '\n'); i >= 0 {
		line = out[i+1:]
	}
	if code := pc.exitCode(); (code != 0 && code != 1) || json.Unmarshal([]byte(strings.TrimSpace(line)), &r) != nil {
		return serviceGone(c, fmt.Errorf("the prober container exited with code %d: %s", code, firstNonEmptyLine(out)))
	}
	return getResult{status: r.Status, last: r.Last}
}

// serviceGone turns a prober failure into "the service exited" when that is what caused it (a
// container that exited has no network namespace to join).
func serviceGone(c container, err error) getResult {
	select {
	case <-c.done():
		return getResult{exited: true}
	case <-time.After(2 * time.Second):
		return getResult{err: err}
	}
}

// prober returns the tag of the prober's image in the daemon, building and loading it when the
// daemon does not have it. The image is kept (a few MB): later runs find it by tag and content.
func (d *dockerEngine) prober(ctx context.Context) (string, error) {
	d.proberOnce.Do(func() {
		d.proberTag, d.proberErr = d.loadProber(ctx)
	})
	return d.proberTag, d.proberErr
}

func (d *dockerEngine) loadProber(ctx context.Context) (string, error) {
	bin, err := proberBinary(ctx, d.opts)
	if err != nil {
		return "", err
	}
	img, err := proberImage(bin)
	if err != nil {
		return "", err
	}
	id, err := img.ConfigName()
	if err != nil {
		return "", fmt.Errorf("prober image: %w", err)
	}
	tag, err := name.NewTag("scratchkit-prober:" + id.Hex[:20])
	if err != nil {
		return "", err
	}
	if out, err := d.docker(ctx, nil, "image", "inspect", "--format", "{{.Id}}", tag.String()); err == nil && out == id.String() {
		return tag.String(), nil
	}
	if err := d.loadImage(ctx, tag, img); err != nil {
		return "", fmt.Errorf("load the prober image: %w", err)
	}
	d.opts.logf("smoke: loaded the http prober into docker as %s", tag)
	return tag.String(), nil
}

type dockerContainer struct {
	engine     *dockerEngine
	id         string
	startOut   string
	exited     chan struct{}
	cancelWait context.CancelFunc

	mu   sync.Mutex
	code int
}

// wait runs `docker wait`, which prints the exit code once the container stops.
func (c *dockerContainer) wait(ctx context.Context) {
	defer close(c.exited)
	out, err := c.engine.docker(ctx, nil, "wait", c.id)
	if err != nil {
		return
	}
	fields := strings.Fields(out)
	if len(fields) == 0 {
		return
	}
	if n, err := strconv.Atoi(fields[len(fields)-1]); err == nil {
		c.mu.Lock()
		c.code = n
		c.mu.Unlock()
	}
}

func (c *dockerContainer) done() <-chan struct{} { return c.exited }

func (c *dockerContainer) exitCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code
}

func (c *dockerContainer) pid(ctx context.Context) (int, error) {
	out, err := c.engine.docker(ctx, nil, "inspect", "--format", "{{.State.Pid}}", c.id)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("docker inspect %s: pid %q", c.id, out)
	}
	return n, nil
}

func (c *dockerContainer) signal(ctx context.Context, sig string) error {
	_, err := c.engine.docker(ctx, nil, "kill", "--signal", sig, c.id)
	return err
}

// output is the container's log as docker keeps it (dockerLogSize, twice), of which scratchkit
// keeps the last maxOutput bytes, as for runc.
func (c *dockerContainer) output(ctx context.Context) string {
	cmd := exec.CommandContext(ctx, c.engine.cli, "logs", c.id)
	cmd.Env = secrets.Environ()
	var buf syncBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf // one pipe: the CLI's order is kept
	_ = cmd.Run()
	out := buf.String()
	if c.startOut != "" {
		out = c.startOut + "\n" + out
	}
	return out
}

func (c *dockerContainer) oomKilled(ctx context.Context) bool {
	out, err := c.engine.docker(ctx, nil, "inspect", "--format", "{{.State.OOMKilled}}", c.id)
	return err == nil && strings.TrimSpace(out) == "true"
}

func (c *dockerContainer) remove(ctx context.Context) error {
	defer c.cancelWait()
	if out, err := c.engine.docker(ctx, nil, "rm", "--force", "--volumes", c.id); err != nil && !strings.Contains(out, "No such container") {
		return err
	}
	return nil
}
