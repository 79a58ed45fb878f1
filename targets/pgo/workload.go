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
	grace := w.StopGrace
	if grace <= 0 {
		grace = DefaultStopGrace
	}

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
	var (
		loadDone = make(chan struct{})
		result   *LoadResult
		loadProc *process
	)
	switch {
	case len(w.Load) > 0:
		loadProc, err = startProcess(w.Load, w.Dir, w.Env)
		if err != nil {
			return nil, nil, err
		}
		defer loadProc.stop(grace)
		close(loadDone)
	case len(w.URLs) > 0:
		go func() {
			defer close(loadDone)
			r, err := GenerateLoad(loadCtx, LoadOptions{URLs: w.URLs, Rate: w.Rate, Concurrency: w.Concurrency})
			if err == nil {
				result = &r
			}
		}()
	default:
		close(loadDone)
		opts.logf("pgo: workload: no load configured; profiling whatever the service does by itself")
	}

	warmup := w.Warmup
	if warmup == 0 {
		warmup = DefaultWarmup
	}
	if warmup > 0 {
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-svc.done:
			return nil, nil, svc.exitError("exited during warm-up")
		case <-time.After(warmup):
		}
	}
	opts.logf("pgo: workload: profiling for %ds over %s", seconds, f.url)
	data, err := f.fetch(ctx)
	stopLoad()
	<-loadDone
	if svc.exited() {
		return nil, result, svc.exitError("exited while it was profiled")
	}
	if err != nil {
		return nil, result, err
	}
	if loadProc != nil && loadProc.exited() && loadProc.err != nil {
		opts.logf("pgo: workload: load command %s", loadProc.exitError("ended early"))
	}
	if result != nil && result.Requests == 0 && result.Errors > 0 {
		return nil, result, because(ErrWorkload, "load generator: all %d requests failed (first: %s)", result.Errors, result.FirstError)
	}
	return data, result, nil
}

// waitReady polls url until it answers 2xx, the process exits, or the timeout passes.
func waitReady(ctx context.Context, svc *process, url string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
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
