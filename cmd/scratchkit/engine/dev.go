package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/ui"
	"github.com/scratchkit/scratchkit/internal/regtransport"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/relink"
	"github.com/scratchkit/scratchkit/targets/run"
	"github.com/scratchkit/scratchkit/targets/watch"
)

// StageDev names the dev loop.
const StageDev = "dev"

// The places dev.run sends each new image.
const (
	DevDocker  = "docker"
	DevPush    = "push"
	DevResolve = "resolve"
)

// Dev is the inner loop: it builds, verifies and images the host platform once, sends the image
// where dev.run says, then does it again on every saved change of the module's sources, until
// ctx ends (Ctrl-C), when it removes the containers and images it started. Each cycle runs the
// stages afresh on what this Run already holds: the configuration, go env, the toolchain, the
// resolved builds (again only when go.mod or go.sum changed), the static base, the layer cache,
// the vulnerability database, the publishers and their registry connections, and the docker
// container it replaces. A cycle that fails (a compile error, a failed check) says why and
// leaves the last good image running.
func (e *Run) Dev(ctx context.Context) error {
	mode := e.Config.Dev.Run
	if mode == "" {
		mode = DevDocker
	}
	host := platform.Host()
	for i := -1; i < len(e.Config.Builds); i++ {
		if got := e.Config.PlatformsOf(i); len(got) != 1 || got[0] != host {
			e.UI.Info("dev builds %s only, the platform this machine runs", host)
			break
		}
	}
	e.Config.HostOnly()
	switch mode {
	case DevPush, DevResolve:
		if e.Config.Image.Repo == "" {
			return e.Config.Errorf("dev.run", "%s pushes each image, and no repository is configured: set image.repo (or KO_DOCKER_REPO), or use dev.run: docker", mode)
		}
		e.Config.Image.Publish = []string{publish.Registry}
	case DevDocker:
		e.Config.Image.Publish = nil // nothing is published: the image goes straight into docker
	}
	e.keep = &keptPublishers{pubs: map[string][]publish.Publisher{}}
	e.relink = relink.NewSet(ctx, e.Dir)
	defer e.relink.Close()
	e.compression = devCompression(e.Config.Dev.Compression, mode, e.Config.Image.Repo)

	// Learn what every cycle needs while the watcher starts.
	go e.Source(ctx)
	go e.GoEnv(ctx)
	d := &devLoop{e: e, mode: mode, containers: map[string]*run.DevContainer{}, digests: map[string]string{}}
	defer d.stop(ctx)
	w, err := watch.New(watch.Options{Dir: e.Dir, Ignore: []string{e.DistDir()}, DataDirs: e.devDataDirs(), Debounce: e.Config.Dev.Debounce.D()})
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	defer w.Close()
	d.w = w
	e.UI.Info("dev: watching %s (Go files, go.mod, go.sum, embedded files, kodata and data directories); %s each new image; Ctrl-C stops", e.Dir, d.where())
	return d.loop(ctx)
}

// devCompression resolves dev.compression: auto compresses nothing that stays on this machine (an
// image loaded into docker, which unpacks it at once; a push to a registry on it), where a
// stored layer is sent in less time than gzip takes to make it.
func devCompression(setting, mode, repo string) image.Compression {
	switch setting {
	case "gzip":
		return image.CompressGzip
	case "none":
		return image.CompressNone
	}
	if mode == DevDocker {
		return image.CompressNone
	}
	host, _, _ := strings.Cut(repo, "/")
	if regtransport.IsLocalHost(host) {
		return image.CompressNone
	}
	return image.CompressGzip
}

// devDataDirs are the configured data directories (kodata next to a main package always counts).
func (e *Run) devDataDirs() []string {
	var out []string
	if e.Config.Image.Data != "" {
		out = append(out, e.Abs(e.Config.Image.Data))
	}
	for _, b := range e.Config.Builds {
		if b.Data != "" {
			out = append(out, e.Abs(b.Data))
		}
	}
	return out
}

// cycleRun is a Run for one cycle of the dev loop: no stage done, a new record, and e's facts,
// configuration and printer; with the builds e resolved unless the module changed.
func (e *Run) cycleRun(keepBuilds bool) *Run {
	n := &Run{Config: e.Config, Dir: e.Dir, UI: e.UI, Verbose: e.Verbose, extra: e.extra, stdout: e.stdout,
		done: map[string]error{}, warmed: &image.Warmed{}, facts: e.facts}
	if keepBuilds {
		e.mu.Lock()
		n.builds = e.builds
		e.mu.Unlock()
	}
	return n
}

type devLoop struct {
	e    *Run
	w    *watch.Watcher
	mode string
	n    int // cycles started

	containers map[string]*run.DevContainer // by image name
	digests    map[string]string            // the running image's digest, by image name
}

func (d *devLoop) where() string {
	switch d.mode {
	case DevPush:
		return "pushes to " + d.e.Config.Image.Repo
	case DevResolve:
		return fmt.Sprintf("pushes to %s and writes %s for", d.e.Config.Image.Repo, d.e.Rel(d.e.resolveOutput()))
	}
	return "runs in docker"
}

// A cycle's outcome, for the loop.
type cycleDone struct {
	events []watch.Event
	err    error
}

// loop runs the first cycle, then one per burst of changes. A change that comes while a cycle
// runs cancels it: what it built is already out of date; the next one starts once the burst is
// quiet. A change while none runs starts one at once.
func (d *devLoop) loop(ctx context.Context) error {
	var (
		cancel  context.CancelFunc
		done    chan cycleDone
		current []watch.Event
	)
	start := func(events []watch.Event) {
		d.n++
		var cctx context.Context
		cctx, cancel = context.WithCancel(ctx)
		done = make(chan cycleDone, 1)
		current = events
		go func() { done <- cycleDone{events, d.cycle(cctx, events)} }()
	}
	start([]watch.Event{{Time: time.Now()}})
	go d.learnEmbeds(ctx)
	for {
		select {
		case <-ctx.Done():
			if done != nil {
				cancel()
				<-done
			}
			d.e.UI.Info("dev: stopping")
			return nil
		case err := <-d.w.Errors():
			d.e.UI.Warn("dev: %v", err)
		case ev := <-d.w.Events():
			events := []watch.Event{ev}
			if done != nil {
				cancel()
				<-done
				done = nil
				events = append(current, events...)
				d.e.UI.Info("dev: %s changed while cycle %d ran: starting again when the changes stop", ev.Path, d.n)
				events = append(events, d.w.Settle(ctx, ev)[1:]...)
				if ctx.Err() != nil {
					continue
				}
			} else {
				// The go build starts as soon as this save is written whole.
				events = d.w.SettleFor(ctx, ev, watch.SaveWindow)
			}
			start(events)
		case r := <-done:
			done = nil
			cancel()
			if r.err != nil && ctx.Err() == nil {
				d.e.UI.Fail("dev: cycle %d failed: %v", d.n, r.err)
				if len(d.digests) > 0 {
					d.e.UI.Info("dev: the last good image is still %s", d.keptWhat())
				}
			}
			if changedModuleOrGo(r.events) {
				go d.learnEmbeds(ctx)
			}
		}
	}
}

func (d *devLoop) keptWhat() string {
	if d.mode == DevDocker {
		return "running"
	}
	return "the pushed one"
}

func changedModuleOrGo(events []watch.Event) bool {
	for _, ev := range events {
		if ev.Module || strings.HasSuffix(ev.Path, ".go") {
			return true
		}
	}
	return false
}

func moduleChanged(events []watch.Event) bool {
	for _, ev := range events {
		if ev.Module {
			return true
		}
	}
	return false
}

// cycle builds, verifies and images the host platform and sends the image where dev.run says.
func (d *devLoop) cycle(ctx context.Context, events []watch.Event) error {
	e := d.e
	saved := events[0].Time
	if d.n > 1 {
		names := make([]string, 0, len(events))
		for _, ev := range events {
			names = append(names, ev.Path)
		}
		e.UI.Heading("dev: cycle %d: %s", d.n, strings.Join(names, ", "))
	} else {
		e.UI.Heading("dev: cycle 1")
	}
	changed := make([]string, 0, len(events))
	for _, ev := range events {
		if ev.Path != "" {
			changed = append(changed, filepath.Join(e.Dir, filepath.FromSlash(ev.Path)))
		}
	}
	e.relink.Changed(changed...)
	c := e.cycleRun(!moduleChanged(events))
	defer func() {
		// The next cycle reuses the builds this one resolved.
		c.mu.Lock()
		b := c.builds
		c.mu.Unlock()
		e.mu.Lock()
		e.builds = b
		e.mu.Unlock()
	}()
	if err := c.verifyWarming(ctx); err != nil {
		return err
	}
	switch d.mode {
	case DevPush:
		if err := c.Image(ctx); err != nil {
			return err
		}
		return d.sayPushed(c, saved)
	case DevResolve:
		if err := c.Resolve(ctx); err != nil {
			return err
		}
		if err := d.sayPushed(c, saved); err != nil {
			return err
		}
		e.UI.OK("dev: cycle %d: wrote %s  %s", d.n, e.Rel(e.resolveOutput()), ui.Faint(d.took(saved)))
		return nil
	}
	return d.replace(ctx, c, saved)
}

// stageTimes says how long the cycle's stages took, e.g. "build 0.52s, verify 0.08s, image 0.31s".
func stageTimes(c *Run, stages ...string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, s := range stages {
		if d, ok := c.took[s]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", s, d.Round(10*time.Millisecond)))
		}
	}
	return strings.Join(parts, ", ")
}

// took is the time from the save (the first change of the cycle's burst; for the first cycle,
// the start) to now, for a person.
func (d *devLoop) took(saved time.Time) string {
	from := "the save"
	if d.n == 1 {
		from = "the start"
	}
	return fmt.Sprintf("%s from %s", time.Since(saved).Round(time.Millisecond), from)
}

// sayPushed prints each pushed image's reference by digest and the time from the save.
func (d *devLoop) sayPushed(c *Run, saved time.Time) error {
	rec, err := c.Record()
	if err != nil {
		return err
	}
	for _, img := range rec.Images {
		if img.Destination == publish.Registry {
			d.digests[img.Name] = img.Digest
			ref := img.Ref
			if !strings.Contains(ref, "@") {
				ref += "@" + img.Digest
			}
			d.e.UI.OK("dev: cycle %d: %s pushed %s  %s", d.n, img.Name, ref, ui.Faint(d.took(saved)+" ("+stageTimes(c, StageBuild, StageVerify, StageImage)+")"))
		}
	}
	return nil
}

// replace assembles each image and replaces its container, unless the image is the one already
// running.
func (d *devLoop) replace(ctx context.Context, c *Run, saved time.Time) error {
	e := d.e
	rec, err := c.Record()
	if err != nil {
		return err
	}
	groups, err := linuxBinaries(rec)
	if err != nil {
		return err
	}
	meta := c.annotationsOf(ctx, rec)
	var errs []error
	for _, name := range sortedKeys(groups) {
		begun := time.Now()
		res, err := c.assemble(ctx, name, groups[name], meta)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if res.Image == nil {
			errs = append(errs, fmt.Errorf("image %s: more than one platform", name))
			continue
		}
		dg, err := res.Image.Digest()
		if err != nil {
			errs = append(errs, fmt.Errorf("image %s: %w", name, err))
			continue
		}
		dc := d.containers[name]
		if dc != nil && d.digests[name] == dg.String() {
			if running, _, err := dc.Running(ctx); err == nil && running {
				e.UI.Info("dev: cycle %d: %s is unchanged (%s): its container keeps running", d.n, name, dg)
				continue
			}
		}
		if dc == nil {
			if dc, err = d.newContainer(ctx, name); err != nil {
				return err
			}
			d.containers[name] = dc
		}
		started, err := dc.Replace(ctx, res.Image)
		if err != nil {
			delete(d.digests, name)
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		times := fmt.Sprintf("%s (%s, image and docker %s)", d.took(saved), stageTimes(c, StageBuild, StageVerify), time.Since(begun).Round(10*time.Millisecond))
		// A service that dies as it starts (a bad flag, a taken port, a panic in init) is
		// reported with its output, not as running; the next change starts it again.
		if code, exited := settled(ctx, dc, devSettle); exited {
			delete(d.digests, name) // its container replaced the last good one
			errs = append(errs, fmt.Errorf("%s exited with code %d right after it started in %s; its last output:\n%s", name, code, started.Container, "  "+strings.ReplaceAll(strings.TrimRight(dc.Logs(ctx, 20), "\n"), "\n", "\n  ")))
			continue
		}
		d.digests[name] = dg.String()
		where := "host network"
		if started.Network == run.DevNetworkBridge {
			var ports []string
			for _, p := range started.Ports {
				ports = append(ports, p.String())
			}
			where = "ports " + strings.Join(ports, ", ")
			if len(ports) == 0 {
				where = "no port published"
			}
		}
		e.UI.OK("dev: cycle %d: %s running in %s (%s, %s)  %s", d.n, name, started.Container, where, dg.String()[:19], ui.Faint(times))
	}
	return errors.Join(errs...)
}

// devSettle is how long a new dev container must keep running before the cycle reports it as
// running.
const devSettle = 500 * time.Millisecond

// settled watches dc's container for d: exited is true, with its exit code, when it stopped.
func settled(ctx context.Context, dc *run.DevContainer, d time.Duration) (code int, exited bool) {
	deadline := time.Now().Add(d)
	for {
		running, code, err := dc.Running(ctx)
		if err == nil && !running {
			return code, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newContainer makes the container runner of one image: dev.ports (else image.ports) published,
// smoke's env, tmpfs, capabilities and limits.
func (d *devLoop) newContainer(ctx context.Context, name string) (*run.DevContainer, error) {
	e := d.e
	o := e.smokeOptions(artifacts.Image{Name: name})
	opts := run.DevOptions{Name: name, Network: e.Config.Dev.Network, Env: o.Env, Tmpfs: o.Tmpfs, CapAdd: o.CapAdd, Memory: o.Memory, Pids: o.Pids}
	ports := e.Config.Dev.Ports
	if len(ports) == 0 {
		for _, p := range e.Config.Image.Ports {
			if n, proto, _ := strings.Cut(p, "/"); proto == "" || proto == "tcp" || proto == "udp" {
				ports = append(ports, n+"/"+defaultProto(proto))
			}
		}
	}
	for _, s := range ports {
		p, err := run.ParsePortMapping(s)
		if err != nil {
			return nil, e.Config.Errorf("dev.ports", "%v", err)
		}
		opts.Ports = append(opts.Ports, p)
	}
	dc, err := run.NewDevContainer(ctx, opts)
	if err != nil {
		return nil, err
	}
	if dc.Network() == run.DevNetworkHost && len(opts.Ports) > 0 && e.Config.Dev.Network != run.DevNetworkHost {
		e.UI.Info("dev: the docker daemon has no bridge network: %s runs on the host's network, where it binds its ports itself (dev.network: host)", name)
	}
	return dc, nil
}

func defaultProto(p string) string {
	if p == "" {
		return "tcp"
	}
	return p
}

// stop removes what the loop started: every container and the images loaded for them.
func (d *devLoop) stop(ctx context.Context) {
	for _, name := range sortedKeys(d.containers) {
		if err := d.containers[name].Stop(ctx); err != nil {
			d.e.UI.Warn("dev: remove %s's container: %v", name, err)
		} else {
			d.e.UI.Info("dev: removed %s's container and images", name)
		}
	}
}

// learnEmbeds tells the watcher the files the module's main packages embed (learned again
// after a Go file or the module changed: a new //go:embed).
func (d *devLoop) learnEmbeds(ctx context.Context) {
	files, err := d.e.embeddedFiles(ctx)
	if err != nil {
		if ctx.Err() == nil && d.e.Verbose {
			d.e.UI.Warn("dev: the embedded files: %v", err)
		}
		return
	}
	d.w.SetFiles(files)
}

// embeddedFiles are the files the module's own packages that the builds import embed.
func (e *Run) embeddedFiles(ctx context.Context) ([]string, error) {
	builds, _, err := e.ResolveBuilds(ctx)
	if err != nil {
		return nil, err
	}
	args := []string{"list", "-e", "-deps", "-f", `{{if and .Module .Module.Main}}{{$d := .Dir}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}`}
	n := len(args)
	for _, b := range builds {
		if b.InModule {
			args = append(args, b.ImportPath)
		}
	}
	if len(args) == n {
		return nil, nil
	}
	env, err := e.GoEnviron(ctx)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = e.Dir, env
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var files []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			files = append(files, filepath.FromSlash(l))
		}
	}
	return files, nil
}
