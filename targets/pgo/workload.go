package pgo

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/scratchkit/scratchkit/internal/defaults"

	"github.com/scratchkit/scratchkit/internal/secrets"
)

// process is a started command whose output is kept (the tail) for error messages.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *tail
	done chan struct{}
	err  error // Wait's result, set before done is closed
}

func startProcess(argv []string, dir string, env []string) (*process, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = secrets.Environ(env...)
	out := &tail{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, because(ErrWorkload, "start %s: %v", argv[0], err)
	}
	p := &process{name: strings.Join(argv, " "), cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError describes an exited process with the end of its output.
func (p *process) exitError(what string) error {
	status := "exited"
	if p.err != nil {
		status = p.err.Error()
	}
	out := strings.TrimSpace(p.out.String())
	if out != "" {
		out = "; its output ends:\n" + out
	}
	return because(ErrWorkload, "%s %s (%s)%s", p.name, what, status, out)
}

// stop sends SIGTERM to the process group, and SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = terminate(p.cmd)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = kill(p.cmd)
	<-p.done
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// workloadSource names a workload in reports.
func workloadSource(w *Workload) string {
	return "workload: " + strings.Join(w.Command, " ")
}

// runWorkload starts the service, loads it, profiles it and stops it. It returns the raw profile.
func runWorkload(ctx context.Context, w *Workload, opts *Options) ([]byte, *LoadResult, error) {
	if len(w.Command) == 0 {
		return nil, nil, because(ErrConfig, "workload: no command to start")
	}
	if w.PprofURL == "" {
		return nil, nil, because(ErrConfig, "workload: no pprof URL to profile it over")
	}
	seconds := opts.seconds()
	if w.Duration > 0 {
		seconds = int((w.Duration + time.Second - 1) / time.Second)
	}
	f, err := newFetcher(Endpoint{URL: w.PprofURL}, opts, seconds)
	if err != nil {
		return nil, nil, err
	}
	ready := w.Ready
	if ready == "" {
		u, _ := url.Parse(f.url)
		ready = u.Scheme + "://" + u.Host + "/debug/pprof/"
	}
	grace := defaults.Positive(w.StopGrace, DefaultStopGrace)

	svc, err := startProcess(w.Command, w.Dir, w.Env)
	if err != nil {
		return nil, nil, err
	}
	defer svc.stop(grace)
	opts.logf("pgo: workload: started %s (pid %d), waiting for %s", svc.name, svc.cmd.Process.Pid, ready)
	if err := waitReady(ctx, svc, ready, w.ReadyTimeout); err != nil {
		return nil, nil, err
	}

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	load, err := startLoad(loadCtx, w, opts)
	if err != nil {
		return nil, nil, err
	}
	if load.proc != nil {
		defer load.proc.stop(grace)
	}
	if err := warmUp(ctx, svc, w.Warmup); err != nil {
		return nil, nil, err
	}
	opts.logf("pgo: workload: profiling for %ds over %s", seconds, f.url)
	data, err := f.fetch(ctx)
	stopLoad()
	<-load.done
	result := load.result
	if svc.exited() {
		return nil, result, svc.exitError("exited while it was profiled")
	}
	if err != nil {
		return nil, result, err
	}
	if load.proc != nil && load.proc.exited() && load.proc.err != nil {
		opts.logf("pgo: workload: load command %s", load.proc.exitError("ended early"))
	}
	if result != nil && result.Requests == 0 && result.Errors > 0 {
		return nil, result, because(ErrWorkload, "load generator: all %d requests failed (first: %s)", result.Errors, result.FirstError)
	}
	return data, result, nil
}

// workloadLoad is the load a workload puts on its service: a command of its own, the built-in
// generator, or none.
type workloadLoad struct {
	done   chan struct{} // closed once the generator returned; at once for a command or none
	result *LoadResult   // the generator's, once done
	proc   *process      // the load command
}

// startLoad starts w's load; the generator runs until ctx ends, the command until it is stopped.
func startLoad(ctx context.Context, w *Workload, opts *Options) (*workloadLoad, error) {
	l := &workloadLoad{done: make(chan struct{})}
	switch {
	case len(w.Load) > 0:
		proc, err := startProcess(w.Load, w.Dir, w.Env)
		if err != nil {
			return nil, err
		}
		l.proc = proc
		close(l.done)
	case len(w.URLs) > 0:
		go func() {
			defer close(l.done)
			r, err := GenerateLoad(ctx, LoadOptions{URLs: w.URLs, Rate: w.Rate, Concurrency: w.Concurrency})
			if err == nil {
				l.result = &r
			}
		}()
	default:
		close(l.done)
		opts.logf("pgo: workload: no load configured; profiling whatever the service does by itself")
	}
	return l, nil
}

// warmUp waits out the warm-up (DefaultWarmup when 0; none when negative) before profiling,
// failing if the service exits meanwhile.
func warmUp(ctx context.Context, svc *process, warmup time.Duration) error {
	if warmup == 0 {
		warmup = DefaultWarmup
	}
	if warmup <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-svc.done:
		return svc.exitError("exited during warm-up")
	case <-time.After(warmup):
		return nil
	}
}

// waitReady polls url until it answers 2xx, the process exits, or the timeout passes.
func waitReady(ctx context.Context, svc *process, url string, timeout time.Duration) error {
	timeout = defaults.Positive(timeout, DefaultReadyTimeout)
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return because(ErrConfig, "workload ready URL: %v", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return because(ErrWorkload, "%s was not ready at %s after %s (last: %s); its output ends:\n%s",
				svc.name, url, timeout, last, strings.TrimSpace(svc.out.String()))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-svc.done:
			return svc.exitError(fmt.Sprintf("exited before it was ready at %s", url))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
