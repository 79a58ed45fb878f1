package run

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scratchkit/scratchkit/internal/defaults"
)

// The dev loop's container: one long-lived container of the service under docker, replaced by
// each new image. It runs as smoke runs a service (the image's user, read-only root, tmpfs,
// no capabilities but those asked for, no new privileges), with its ports published on
// 127.0.0.1, and it is labelled so that Stop, a later smoke run's sweep (when the owning process
// died) and a person (`docker ps --filter label=org.scratchkit.dev`) find it.

// DevLabel labels every dev container.
const DevLabel = "org.scratchkit.dev"

// Networks a dev container can have (dev.network).
const (
	DevNetworkAuto   = "auto"   // bridge when the daemon has a bridge network, else host
	DevNetworkBridge = "bridge" // docker's bridge, the ports published on 127.0.0.1
	DevNetworkHost   = "host"   // the host's network: the service binds the host's ports itself
)

// DevNetworks are the values DevOptions.Network takes.
func DevNetworks() []string { return []string{DevNetworkAuto, DevNetworkBridge, DevNetworkHost} }

// Port is one published port: Host on 127.0.0.1 to Container in the container.
type Port struct {
	Host, Container int
	Proto           string // tcp (the default) or udp
}

func (p Port) String() string {
	return fmt.Sprintf("127.0.0.1:%d->%d/%s", p.Host, p.Container, defaults.String(p.Proto, "tcp"))
}

var portMapRE = regexp.MustCompile(`^(?:([0-9]{1,5}):)?([0-9]{1,5})(?:/(tcp|udp))?$`)

// ParsePortMapping reads HOST:CONTAINER[/proto] or PORT[/proto] (the same port on both sides).
func ParsePortMapping(s string) (Port, error) {
	m := portMapRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Port{}, fmt.Errorf("%q is not a port mapping; write HOST:CONTAINER (8081:8080) or PORT (8080), optionally /tcp or /udp", s)
	}
	c, _ := strconv.Atoi(m[2])
	h := c
	if m[1] != "" {
		h, _ = strconv.Atoi(m[1])
	}
	for _, n := range []int{h, c} {
		if n < 1 || n > 65535 {
			return Port{}, fmt.Errorf("%q: port %d is out of range 1-65535", s, n)
		}
	}
	return Port{Host: h, Container: c, Proto: defaults.String(m[3], "tcp")}, nil
}

// DevOptions says how the dev container runs.
type DevOptions struct {
	// Name is the image's name; the container is named scratchkit-dev-<name>-<owner>.
	Name string
	// Ports are published on 127.0.0.1 (on the bridge network only).
	Ports []Port
	// Network is auto (the default), bridge or host.
	Network string
	// Env are NAME=VALUE entries over the image's (smoke.env).
	Env []string
	// Tmpfs are writable directories (smoke.tmpfs); every volume the image declares gets one too.
	Tmpfs []Tmpfs
	// CapAdd are capabilities given back, as for smoke (kernel names, see Capabilities).
	CapAdd []string
	// Memory and Pids bound the container; zero means DefaultMemory and DefaultPids.
	Memory int64
	Pids   int
	// Docker is the CLI; empty means "docker" on PATH.
	Docker string
}

// DevStarted is what Replace started.
type DevStarted struct {
	// Container is the container's name; Image the tag it was loaded under.
	Container, Image string
	// Network is the network it runs on (bridge or host), Ports what is published.
	Network string
	Ports   []Port
}

// DevContainer runs the dev loop's container. Its methods are safe for one goroutine at a time.
type DevContainer struct {
	d       *dockerEngine
	opts    DevOptions
	network string // resolved once: bridge or host
	n       int

	mu      sync.Mutex
	current *DevStarted // the running container, nil before the first Replace
	images  []string    // tags this DevContainer loaded and not yet removed
}

// NewDevContainer checks that a docker daemon answers and resolves the network.
func NewDevContainer(ctx context.Context, opts DevOptions) (*DevContainer, error) {
	opts.Docker = defaults.String(opts.Docker, "docker")
	if err := dockerAnswers(ctx, opts.Docker, 20*time.Second); err != nil {
		return nil, fmt.Errorf("dev.run: docker: %w; start dockerd, or use dev.run: push or resolve", err)
	}
	caps, err := Capabilities(opts.CapAdd)
	if err != nil {
		return nil, err
	}
	opts.CapAdd = caps
	dc := &DevContainer{d: &dockerEngine{cli: opts.Docker}, opts: opts}
	switch opts.Network {
	case "", DevNetworkAuto:
		dc.network = DevNetworkHost
		if _, err := dc.d.docker(ctx, nil, "network", "inspect", "--format", "{{.Name}}", "bridge"); err == nil {
			dc.network = DevNetworkBridge
		}
	case DevNetworkBridge, DevNetworkHost:
		dc.network = opts.Network
	default:
		return nil, fmt.Errorf("dev.network %q: write one of %s", opts.Network, strings.Join(DevNetworks(), ", "))
	}
	return dc, nil
}

// Network is the network the containers run on: bridge or host.
func (dc *DevContainer) Network() string { return dc.network }

// Replace loads img into docker, removes the running container (its ports are the new one's) and
// starts one from img. When the new one cannot be created or started, the error says why and no
// container runs; the image stays loaded for a person to look at until Stop.
func (dc *DevContainer) Replace(ctx context.Context, img v1.Image) (*DevStarted, error) {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	dc.n++
	tag, err := name.NewTag(fmt.Sprintf("scratchkit-dev/%s:%s-%d", cleanName(dc.opts.Name), owner(), dc.n))
	if err != nil {
		return nil, fmt.Errorf("docker load: tag for %s: %w", dc.opts.Name, err)
	}
	if err := dc.d.loadImage(ctx, tag, img); err != nil {
		return nil, err
	}
	dc.images = append(dc.images, tag.String())
	args, err := dc.createArgs(img)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("scratchkit-dev-%s-%s", cleanName(dc.opts.Name), owner())
	if err := dc.removeCurrent(ctx); err != nil {
		return nil, err
	}
	args = append([]string{"create", "--name", id}, args...)
	args = append(args, tag.String())
	if _, err := dc.d.docker(ctx, nil, args...); err != nil {
		_, _ = dc.d.docker(context.WithoutCancel(ctx), nil, "rm", "--force", "--volumes", id)
		return nil, err
	}
	started := &DevStarted{Container: id, Image: tag.String(), Network: dc.network}
	if dc.network == DevNetworkBridge {
		started.Ports = dc.opts.Ports
	}
	dc.current = started
	if out, err := dc.d.docker(ctx, nil, "start", id); err != nil {
		return nil, fmt.Errorf("start %s: %s", id, strings.TrimPrefix(out, "Error response from daemon: "))
	}
	// Older loads of this image name can go: the running one keeps its own.
	dc.pruneImages(ctx, tag.String())
	return started, nil
}

// createArgs are the `docker create` flags of a container of img, without its name.
func (dc *DevContainer) createArgs(img v1.Image) ([]string, error) {
	o := dc.opts
	args := append(limitArgs(defaults.Positive(o.Memory, DefaultMemory), defaults.Positive(o.Pids, DefaultPids)), "--label", DevLabel+"="+cleanName(o.Name))
	args = append(args, "--cap-drop", "ALL")
	for _, c := range o.CapAdd {
		args = append(args, "--cap-add", shortCap(c))
	}
	if dc.network == DevNetworkHost {
		args = append(args, "--network", "host")
	} else {
		args = append(args, "--network", "bridge")
		for _, p := range o.Ports {
			args = append(args, "--publish", fmt.Sprintf("127.0.0.1:%d:%d/%s", p.Host, p.Container, defaults.String(p.Proto, "tcp")))
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read the image config: %w", err)
	}
	for _, m := range devMounts(cf, o.Tmpfs) {
		args = append(args, "--tmpfs", m.path+":"+strings.Join(append([]string{"nosuid", "nodev", "noexec"}, m.options()...), ","))
	}
	for _, e := range o.Env {
		args = append(args, "--env", e)
	}
	return args, nil
}

// devMounts are the container's tmpfs mounts, as smoke mounts them: tmpfs, then one at every
// volume the image declares that tmpfs does not name, each owned by the image's user when it is
// numeric (a named user, which needs the image's /etc/passwd, leaves them root's, writable by
// all at the default mode).
func devMounts(cf *v1.ConfigFile, tmpfs []Tmpfs) []mount {
	uid, gid, _ := numericUser(cf.Config.User)
	fill := func(m mount) mount {
		m.uid, m.gid = uid, gid
		m.size = defaults.Positive(m.size, DefaultTmpfsSize)
		if m.mode == 0 {
			m.mode = DefaultTmpfsMode
		}
		return m
	}
	var out []mount
	named := map[string]bool{}
	for _, t := range tmpfs {
		out = append(out, fill(mount{path: t.Path, size: t.Size, mode: t.Mode}))
		named[t.Path] = true
	}
	volumes := slices.Sorted(maps.Keys(cf.Config.Volumes))
	for _, v := range volumes {
		if !named[v] && CheckTmpfs(v) == nil {
			out = append(out, fill(mount{path: v, volume: true}))
		}
	}
	return out
}

// numericUser reads a uid[:gid] user.
func numericUser(spec string) (uid, gid int, err error) {
	u, g, hasGid := strings.Cut(spec, ":")
	if uid, err = strconv.Atoi(defaults.String(u, "0")); err != nil {
		return 0, 0, fmt.Errorf("user %q is not numeric", spec)
	}
	gid = uid
	if hasGid {
		if gid, err = strconv.Atoi(g); err != nil {
			return 0, 0, fmt.Errorf("group of %q is not numeric", spec)
		}
	}
	return uid, gid, nil
}

// Logs is what the running container wrote so far (the last lines), "" with none running.
func (dc *DevContainer) Logs(ctx context.Context, lines int) string {
	dc.mu.Lock()
	cur := dc.current
	dc.mu.Unlock()
	if cur == nil {
		return ""
	}
	out, _ := dc.d.docker(ctx, nil, "logs", "--tail", strconv.Itoa(lines), cur.Container)
	return out
}

// Running reports whether the current container is still running, and its exit code when not.
func (dc *DevContainer) Running(ctx context.Context) (running bool, exit int, err error) {
	dc.mu.Lock()
	cur := dc.current
	dc.mu.Unlock()
	if cur == nil {
		return false, 0, nil
	}
	out, err := dc.d.docker(ctx, nil, "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", cur.Container)
	if err != nil {
		return false, 0, err
	}
	r, code, _ := strings.Cut(out, " ")
	exit, _ = strconv.Atoi(code)
	return r == "true", exit, nil
}

func (dc *DevContainer) removeCurrent(ctx context.Context) error {
	if dc.current == nil {
		return nil
	}
	if out, err := dc.d.docker(ctx, nil, "rm", "--force", "--volumes", dc.current.Container); err != nil && !strings.Contains(out, "No such container") {
		return err
	}
	dc.current = nil
	return nil
}

// pruneImages removes the images this DevContainer loaded, but keep.
func (dc *DevContainer) pruneImages(ctx context.Context, keep string) {
	var left []string
	for _, t := range dc.images {
		if t == keep {
			left = append(left, t)
			continue
		}
		if out, err := dc.d.docker(ctx, nil, "rmi", t); err != nil && !strings.Contains(out, "No such image") {
			left = append(left, t)
		}
	}
	dc.images = left
}

// Stop removes the running container and every image this DevContainer loaded. It works on after
// ctx ended (an interrupt), within a bounded time.
func (dc *DevContainer) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	dc.mu.Lock()
	defer dc.mu.Unlock()
	err := dc.removeCurrent(ctx)
	dc.pruneImages(ctx, "")
	if len(dc.images) > 0 {
		err = errors.Join(err, fmt.Errorf("could not remove %s", strings.Join(dc.images, ", ")))
	}
	return err
}
