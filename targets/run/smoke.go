package run

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/scratchkit/scratchkit/internal/bytesize"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/lint"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/run/internal/httpprobe"
)

// Artifact is an image or an image index: a v1.Image, a v1.ImageIndex, or what image.Build's
// Result.Artifact returns.
type Artifact interface {
	MediaType() (types.MediaType, error)
	Digest() (v1.Hash, error)
}

// cleanupTimeout bounds the removal of containers, images and bundles.
const cleanupTimeout = time.Minute

// platformImage is one platform of an artifact.
type platformImage struct {
	platform platform.Platform
	img      v1.Image
	digest   string
}

// platforms lists an artifact's platform images: the image itself, or the index's image
// manifests (attestation manifests, whose platform is unknown/unknown, left out).
func platforms(a Artifact) ([]platformImage, error) {
	switch x := a.(type) {
	case v1.ImageIndex:
		im, err := x.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("read the index: %w", err)
		}
		var out []platformImage
		for _, d := range im.Manifests {
			if !d.MediaType.IsImage() || (d.Platform != nil && d.Platform.OS == "unknown") {
				continue
			}
			img, err := x.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("read %s from the index: %w", d.Digest, err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				return nil, fmt.Errorf("read the config of %s: %w", d.Digest, err)
			}
			out = append(out, platformImage{platform: platform.FromOCI(cf.Platform()), img: img, digest: d.Digest.String()})
		}
		if len(out) == 0 {
			return nil, errors.New("the index holds no image manifest")
		}
		return out, nil
	case v1.Image:
		cf, err := x.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("read the image config: %w", err)
		}
		d, err := x.Digest()
		if err != nil {
			return nil, err
		}
		return []platformImage{{platform: platform.FromOCI(cf.Platform()), img: x, digest: d.String()}}, nil
	}
	return nil, fmt.Errorf("%T is neither a v1.Image nor a v1.ImageIndex", a)
}

// Smoke checks every platform of an image or index statically (Check), then runs the platforms
// this machine can run (its own, and those a qemu binfmt_misc handler runs) in a container and
// probes them (opts.Probes). Foreign platforms are reported as statically checked only.
//
// The error is for what stops the whole smoke test: invalid options, an unreadable artifact, no
// container runtime (the report then still holds the static findings), or ctx's end. A failed
// check or probe is not an error: see Report.Failed.
func Smoke(ctx context.Context, name string, artifact Artifact, opts Options) (*Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	plats, err := platforms(artifact)
	if err != nil {
		return nil, fmt.Errorf("smoke %s: %w", name, err)
	}
	rep := &Report{Name: name}
	if d, err := artifact.Digest(); err == nil {
		rep.Digest = d.String()
	}
	infos := make([]*lint.Image, len(plats))
	emulators := make([]string, len(plats))
	var toRun []int
	for k, p := range plats {
		pr := PlatformReport{Platform: p.platform, Digest: p.digest}
		info, err := lint.Analyze(ctx, p.img, opts.Limits)
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			pr.Error = fmt.Sprintf("cannot read the image: %v", err)
			pr.Reason = "the image could not be read"
			rep.Platforms = append(rep.Platforms, pr)
			continue
		}
		infos[k] = info
		pr.Findings = info.Findings(opts.policy())
		ok, why, emulator := runnable(p.platform)
		if emulator != "" && opts.NoEmulation {
			ok, why, emulator = false, "foreign platform, and smoke.emulation is off (qemu-user-static would run it)", ""
		}
		emulators[k] = emulator
		switch {
		case opts.Runtime == RuntimeNone:
			pr.Reason = "smoke.runtime is none"
		case !userPassed(pr):
			pr.Reason = "the user check failed, and scratchkit does not start a container that would run as root without smoke.allow_root, or as a user it cannot resolve"
		case !ok:
			pr.Reason = why
		default:
			pr.Note = why // "" or how a foreign platform runs
			toRun = append(toRun, k)
		}
		rep.Platforms = append(rep.Platforms, pr)
	}
	if len(toRun) == 0 {
		return rep, nil
	}
	eng, err := selectEngine(ctx, opts)
	if err != nil {
		for _, k := range toRun {
			rep.Platforms[k].Reason = "no container runtime"
		}
		return rep, err
	}
	if err := eng.sweep(ctx); err != nil {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		opts.logf("smoke: could not remove what smoke runs that died left in %s: %v", eng.name(), err)
	}
	for _, k := range toRun {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		pr := &rep.Platforms[k]
		pr.Runtime, pr.Capabilities = eng.name(), opts.CapAdd
		probes, err := runPlatform(ctx, eng, name, plats[k].img, infos[k], emulators[k], opts, pr)
		pr.Probes = probes
		pr.Ran = len(probes) > 0
		if !pr.Ran {
			pr.Reason = "the container runtime could not run it (see the error)"
		}
		if _, http := pr.Probe("http"); http && opts.Network == NetworkHost {
			pr.Network = NetworkHost
		}
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			pr.Error = err.Error()
		}
	}
	return rep, nil
}

// userPassed reports whether the platform's user check passed (or only warned): an image that
// would run as root without smoke.allow_root, or as a user that does not resolve, is not run.
func userPassed(pr PlatformReport) bool {
	f, ok := pr.Finding(lint.CheckUser)
	return ok && f.Status != binary.StatusFail
}

// runPlatform loads one platform image into the engine, runs its probes and cleans up. A failure
// to clean up does not fail the image: it goes into pr's note and the log.
func runPlatform(ctx context.Context, eng engine, name string, img v1.Image, info *lint.Image, emulator string, opts Options, pr *PlatformReport) (results []ProbeResult, err error) {
	ld, err := eng.load(ctx, name, img, info)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", eng.name(), err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if rerr := ld.remove(cctx); rerr != nil {
			opts.logf("smoke %s %s: clean up: %v", name, info.Platform(), rerr)
			pr.Note = strings.TrimPrefix(pr.Note+"; ", "; ") + "clean up failed: " + rerr.Error()
		}
	}()
	mounts, skipped := mounts(info, opts)
	pr.Tmpfs = mountList(mounts)
	if len(skipped) > 0 {
		pr.Note = strings.TrimPrefix(pr.Note+"; ", "; ") + fmt.Sprintf("no tmpfs at the image's volumes %s (the root, or the runtime's own directories)", strings.Join(skipped, ", "))
	}
	p := prober{eng: eng, ld: ld, info: info, opts: opts, name: name, mounts: mounts, emulator: emulator}
	if len(opts.Probes) == 0 {
		return []ProbeResult{p.start(ctx)}, nil
	}
	for _, probe := range opts.Probes {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		var r ProbeResult
		if probe.HTTP != nil {
			r = p.http(ctx, *probe.HTTP)
		} else {
			r = p.exit(ctx, *probe.Exit)
		}
		r.Name = probe.Name
		results = append(results, r)
	}
	return results, nil
}

type prober struct {
	eng    engine
	ld     loaded
	info   *lint.Image
	opts   Options
	name   string
	mounts []mount // the writable directories of every container
	// emulator runs a foreign platform's program (runSpec.emulator); empty for a native one.
	emulator string
	// killed is set when the prober sent SIGKILL itself (deadline, stop timeout), so that an
	// exit by SIGKILL it did not send is known to be the OOM killer's.
	killed bool
}

// launch starts a container; the returned cleanup removes it.
func (p *prober) launch(ctx context.Context, probe string, spec runSpec) (container, func(), error) {
	spec.id = newID(p.name)
	spec.mounts, spec.env, spec.emulator = p.mounts, p.opts.Env, p.emulator
	p.killed = false
	p.opts.logf("smoke %s %s: %s probe: %s run %s", p.name, p.info.Platform(), probe, p.eng.name(), lint.QuoteArgs(p.argv(spec.args)))
	c, err := p.ld.start(ctx, spec)
	if err != nil {
		return nil, nil, err
	}
	return c, func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := c.remove(cctx); err != nil {
			p.opts.logf("smoke %s: remove container %s: %v", p.name, spec.id, err)
		}
	}, nil
}

// argv is what the container runs for probe args (nil: the image's).
func (p *prober) argv(args []string) []string {
	cfg := p.info.Config().Config
	out := append([]string{}, cfg.Entrypoint...)
	if args != nil {
		return append(out, args...)
	}
	return append(out, cfg.Cmd...)
}

// failed builds the result of a probe that failed, with output and diagnosis.
func (p *prober) failed(ctx context.Context, probe string, c container, detail string) ProbeResult {
	r := ProbeResult{Probe: probe, ExitCode: -1, Detail: detail}
	if c != nil {
		select {
		case <-c.done():
			r.ExitCode = c.exitCode()
		default:
		}
		r.Output = c.output(ctx)
		switch {
		case strings.Contains(r.Output, "No such container"):
			// Removed from outside (docker rm -f, a cleanup job) while it ran: not a memory kill.
			r.Output = strings.TrimLeft(r.Output+"\n", "\n") + "[scratchkit: the container was removed by someone else while it ran]"
		case r.ExitCode == 137 && (c.oomKilled(ctx) || !p.killed):
			r.Output = strings.TrimLeft(r.Output+"\n", "\n") + fmt.Sprintf("[scratchkit: killed by SIGKILL, which scratchkit did not send: the OOM killer at the %s memory limit]", bytesize.Format(p.opts.Memory))
		}
	}
	r.Diagnosis = Diagnose(r.Output)
	if r.Diagnosis == "" {
		r.Diagnosis = diagnoseExit(r.ExitCode)
	}
	return r
}

// diagnoseExit explains exit codes that say something by themselves.
func diagnoseExit(code int) string {
	switch code {
	case 139:
		return "killed by SIGSEGV: the program crashed on a bad memory access (often cgo code, or a binary built for a newer CPU level than this machine's)"
	case 132:
		return "killed by SIGILL: an instruction this CPU does not have (GOAMD64/GOARM level too high for the machine)"
	}
	return ""
}

// startError is the result of a container that could not even be created.
func (p *prober) startError(probe string, err error) ProbeResult {
	return ProbeResult{Probe: probe, ExitCode: -1, Detail: fmt.Sprintf("the container could not be started: %v", err),
		Output: err.Error(), Diagnosis: Diagnose(err.Error())}
}

// stop sends SIGTERM and waits for the exit; it kills the container when the grace period ends.
// It reports whether the container exited on SIGTERM in time.
func (p *prober) stop(ctx context.Context, c container) (bool, error) {
	select {
	case <-c.done():
		return true, nil
	default:
	}
	if err := c.signal(ctx, "TERM"); err != nil {
		select {
		case <-c.done(): // exited meanwhile
			return true, nil
		default:
		}
		return false, err
	}
	select {
	case <-c.done():
		return true, nil
	case <-time.After(p.opts.StopTimeout):
	case <-ctx.Done():
	}
	p.killed = true
	_ = c.signal(context.WithoutCancel(ctx), "KILL")
	select {
	case <-c.done():
	case <-time.After(10 * time.Second):
	}
	return false, nil
}

// exit runs the exit probe: the image with args, to exit 0 within the deadline, output matching.
func (p *prober) exit(ctx context.Context, e ExitProbe) ProbeResult {
	const probe = "exit"
	c, cleanup, err := p.launch(ctx, probe, runSpec{args: e.Args})
	if err != nil {
		return p.startError(probe, err)
	}
	defer cleanup()
	started := time.Now()
	select {
	case <-c.done():
	case <-time.After(p.opts.Timeout):
		_, _ = p.stop(ctx, c)
		return p.failed(ctx, probe, c, fmt.Sprintf("%s did not exit within %s (smoke.timeout); it was stopped", lint.QuoteArgs(p.argv(e.Args)), p.opts.Timeout))
	case <-ctx.Done():
		return p.failed(ctx, probe, c, "cancelled: "+ctx.Err().Error())
	}
	code := c.exitCode()
	out := c.output(ctx)
	took := time.Since(started).Round(10 * time.Millisecond)
	if code != 0 {
		return p.failed(ctx, probe, c, fmt.Sprintf("%s exited with code %d (want 0)", lint.QuoteArgs(p.argv(e.Args)), code))
	}
	if e.Output != "" {
		re := regexp.MustCompile(e.Output) // validated by withDefaults
		if !re.MatchString(out) {
			r := p.failed(ctx, probe, c, fmt.Sprintf("%s exited 0, but its output does not match %q", lint.QuoteArgs(p.argv(e.Args)), e.Output))
			r.ExitCode = code
			return r
		}
	}
	return ProbeResult{Probe: probe, Passed: true, ExitCode: 0, Output: out,
		Detail: fmt.Sprintf("%s exited 0 in %s: %s", lint.QuoteArgs(p.argv(e.Args)), took, strconv.Quote(firstNonEmptyLine(out)))}
}

func firstNonEmptyLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 120 {
				l = l[:120] + "..."
			}
			return l
		}
	}
	return ""
}

// start is the probe of an image without probes: started with its own arguments, it must not
// fail within DefaultStartWait; a service still running then is stopped with SIGTERM.
func (p *prober) start(ctx context.Context) ProbeResult {
	const probe = "start"
	c, cleanup, err := p.launch(ctx, probe, runSpec{})
	if err != nil {
		return p.startError(probe, err)
	}
	defer cleanup()
	select {
	case <-c.done():
		if code := c.exitCode(); code != 0 {
			return p.failed(ctx, probe, c, fmt.Sprintf("%s exited with code %d at start", lint.QuoteArgs(p.argv(nil)), code))
		}
		return ProbeResult{Probe: probe, Passed: true, ExitCode: 0, Output: c.output(ctx),
			Detail: fmt.Sprintf("%s ran and exited 0 (no probes configured: add smoke probes to check more)", lint.QuoteArgs(p.argv(nil)))}
	case <-time.After(DefaultStartWait):
	case <-ctx.Done():
		return p.failed(ctx, probe, c, "cancelled: "+ctx.Err().Error())
	}
	ok, err := p.stop(ctx, c)
	if err == nil && !ok && p.emulator != "" {
		return p.emulatedHang(ctx, probe, c, fmt.Sprintf("started and kept running for %s", DefaultStartWait))
	}
	if err != nil || !ok {
		return p.failed(ctx, probe, c, fmt.Sprintf("still running after %s (fine), but it did not exit within %s of SIGTERM%s", DefaultStartWait, p.opts.StopTimeout, errSuffix(err)))
	}
	return p.stopped(ctx, probe, c, ProbeResult{Probe: probe, Passed: true, ExitCode: c.exitCode(), Output: c.output(ctx),
		Detail: fmt.Sprintf("started and kept running for %s, then exited with code %d on SIGTERM (no probes configured: add smoke probes to check more)", DefaultStartWait, c.exitCode())})
}

// emulatedHang is the result of a probe under emulation whose service did not exit on SIGTERM in
// time: the emulator is the container's PID 1, and the kernel does not let PID 1 die of a signal's
// default action, so a program without a SIGTERM handler (which natively falls back to exit(2))
// hangs here. That says nothing of the program: the probe passes with a warning, and the native
// platform's run judges the stop.
func (p *prober) emulatedHang(ctx context.Context, probe string, c container, did string) ProbeResult {
	return ProbeResult{Probe: probe, Passed: true, ExitCode: c.exitCode(), Output: c.output(ctx),
		Detail:  did + "; it was stopped with SIGKILL after " + p.opts.StopTimeout.String() + " of SIGTERM",
		Warning: "under emulation the stop is not judged: the emulator is the container's PID 1, which the kernel does not let die of SIGTERM's default action, so a program without a SIGTERM handler does not exit here; the run of this machine's own platform judges the stop"}
}

// stopped judges a probe that passed and whose service then stopped on SIGTERM by its exit code:
// non-zero is a warning under StopReport and a failure under StopEnforce.
func (p *prober) stopped(ctx context.Context, probe string, c container, r ProbeResult) ProbeResult {
	code := c.exitCode()
	if code == 0 {
		return r
	}
	why := "Kubernetes stops a pod with SIGTERM and counts a non-zero exit as a failed container (restarts, alerts, a failed Job); handle SIGTERM by shutting down and exiting 0"
	if p.opts.StopExit == StopEnforce {
		return p.failed(ctx, probe, c, r.Detail+": "+why+" (smoke.stop_exit: enforce)")
	}
	r.Warning = fmt.Sprintf("the service exited with code %d on SIGTERM: %s", code, why)
	return r
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}

// getResult is how an http probe's GETs ended.
type getResult struct {
	status int    // the status of the expected answer; 0 when none came
	last   string // why the last GET failed, when status is 0
	exited bool   // the service exited before answering
	err    error  // the probe could not be carried out (prober broken, cancelled)
}

// getLoop GETs url from this process until the service answers as expected, exits, or deadline
// passes; dial, when not nil, opens the connections (inside the container's network namespace).
func getLoop(ctx context.Context, c container, url string, e httpprobe.Expect, deadline time.Time, dial httpprobe.Dial) getResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.done():
			cancel()
		case <-ctx.Done():
		}
	}()
	r := httpprobe.Until(ctx, url, e, deadline, dial)
	select {
	case <-c.done():
		if r.Status == 0 {
			return getResult{exited: true}
		}
	default:
	}
	if r.Status == 0 && ctx.Err() != nil {
		return getResult{err: ctx.Err()}
	}
	return getResult{status: r.Status, last: r.Last}
}

// http runs the http probe: start the service, GET the path until the expected answer, stop it
// with SIGTERM.
func (p *prober) http(ctx context.Context, h HTTPProbe) ProbeResult {
	const probe = "http"
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Timeout <= 0 {
		h.Timeout = p.opts.Timeout
	}
	expect := httpprobe.Expect{Status: h.Status, Host: h.Host}
	if h.Body != "" {
		expect.Body = regexp.MustCompile(h.Body) // validated by withDefaults
	}
	hostNet := p.opts.Network == NetworkHost
	c, cleanup, err := p.launch(ctx, probe, runSpec{args: h.Args, hostNetwork: hostNet})
	if err != nil {
		return p.startError(probe, err)
	}
	defer cleanup()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", h.Port, h.Path)
	get := "GET " + url
	if h.Host != "" {
		get += " (Host: " + h.Host + ")"
	}
	want := "2xx answer" // what passes: "2xx answer", "404 answer with a body matching ..."
	if h.Status != 0 {
		want = fmt.Sprintf("%d answer", h.Status)
	}
	if h.Body != "" {
		want += fmt.Sprintf(" with a body matching %q", h.Body)
	}
	where := "the container's own loopback"
	if p.eng.name() == RuntimeDocker {
		where += ", from scratchkit's prober container"
	}
	if hostNet {
		where = "the host network, as smoke.network: host asks"
	}

	deadline := time.Now().Add(h.Timeout)
	var res getResult
	if hostNet {
		res = getLoop(ctx, c, url, expect, deadline, nil)
	} else {
		res = p.ld.get(ctx, c, url, expect, deadline)
	}
	switch {
	case res.exited:
		<-c.done()
		return p.failed(ctx, probe, c, fmt.Sprintf("the service exited with code %d before answering %s (on %s)", c.exitCode(), get, where))
	case ctx.Err() != nil:
		return p.failed(ctx, probe, c, "cancelled: "+ctx.Err().Error())
	case res.err != nil:
		_, _ = p.stop(ctx, c)
		return p.failed(ctx, probe, c, fmt.Sprintf("%s (on %s) could not be tried: %v", get, where, res.err))
	case res.status == 0:
		_, _ = p.stop(ctx, c)
		return p.failed(ctx, probe, c, fmt.Sprintf("%s (on %s) got no %s within %s: %s", get, where, want, h.Timeout, res.last))
	}
	status := res.status
	ok, err := p.stop(ctx, c)
	if err == nil && !ok && p.emulator != "" {
		return p.emulatedHang(ctx, probe, c, fmt.Sprintf("%s answered %d, a %s (on %s)", get, status, want, where))
	}
	if err != nil || !ok {
		return p.failed(ctx, probe, c, fmt.Sprintf("%s answered %d, but the service did not exit within %s of SIGTERM%s: it would be killed on every rollout",
			get, status, p.opts.StopTimeout, errSuffix(err)))
	}
	code := c.exitCode()
	clean := "exited 0"
	if code != 0 {
		clean = fmt.Sprintf("exited with code %d", code)
	}
	return p.stopped(ctx, probe, c, ProbeResult{Probe: probe, Passed: true, ExitCode: code, Output: c.output(ctx),
		Detail: fmt.Sprintf("%s answered %d, a %s (on %s); on SIGTERM the service %s", get, status, want, where, clean)})
}
