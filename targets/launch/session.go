package launch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/scratchkit/scratchkit/internal/pidlive"
)

// Session is one mage invocation's use of the engine: what the magefile configured, which
// stages already ran (a later target skips them, so each stage runs once per invocation however
// many targets depend on it), and the first failure (mage stops at it; a target asked after it
// returns it again instead of running).
type Session struct {
	mu        sync.Mutex
	configure []byte
	ran       []string
	full      bool // a run needed the full engine: later ones start there
	warned    bool // an engine ran and printed the configuration's warnings
	failed    error

	// Cache builds and keeps engines; its zero value is the default cache.
	Cache Cache
}

// Configure records what a magefile's init passed to targets.Configure, for every engine run.
func (s *Session) Configure(c any) {
	data, err := json.Marshal(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed = fmt.Errorf("targets.Configure: %w", err)
		return
	}
	s.configure = data
}

// Run runs the engine command name (with arg, when the command takes one). full says the
// command needs the full engine (signing); otherwise the core engine runs it, and hands over to
// the full one when the configuration needs it. Runs are serialized: stages write one dist/.
func (s *Session) Run(ctx context.Context, name, arg string, full bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	err := s.run(ctx, name, arg, full || s.full)
	if err != nil {
		s.failed = err
	}
	return err
}

func (s *Session) run(ctx context.Context, name, arg string, full bool) error {
	for {
		bin, err := s.engine(ctx, full)
		if err != nil {
			return &ExitError{Code: ExitFailure, Msg: err.Error()}
		}
		st, err := s.exec(ctx, bin, name, arg)
		if err != nil {
			return err
		}
		if st.NeedsFull && !full {
			full, s.full = true, true
			continue
		}
		s.ran = append(s.ran, st.Ran...)
		if st.Code != 0 {
			msg := st.Error
			if msg == "" {
				msg = fmt.Sprintf("%s failed (exit status %d)", name, st.Code)
			}
			return &ExitError{Code: st.Code, Msg: msg}
		}
		return nil
	}
}

// engine is $SCRATCHKIT_ENGINE, or the cached engine for the magefile's scratchkit.
func (s *Session) engine(ctx context.Context, full bool) (string, error) {
	if p := os.Getenv(EnvEngine); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("%s=%s is not an executable file", EnvEngine, p)
		}
		return p, nil
	}
	src, err := FindSource()
	if err != nil {
		return "", err
	}
	v := Core
	if full {
		v = Full
	}
	return s.Cache.Engine(ctx, src, v)
}

// exec runs the engine on this terminal and reads its status. Ctrl-C reaches it from the
// terminal; a cancelled ctx (mage cancels on SIGINT) is forwarded as SIGINT, and the engine
// gets time to clean up before it is killed.
func (s *Session) exec(ctx context.Context, bin, name, arg string) (Status, error) {
	dir, err := statusDir()
	if err != nil {
		return Status{}, err
	}
	defer os.RemoveAll(dir)
	statusFile := filepath.Join(dir, "status.json")

	var args []string
	for _, r := range s.ran {
		args = append(args, "-skip", r)
	}
	args = append(args, name)
	if arg != "" {
		args = append(args, arg)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), EnvStatus+"="+statusFile)
	if s.configure != nil {
		cmd.Env = append(cmd.Env, EnvConfigure+"="+string(s.configure))
	}
	if s.warned {
		cmd.Env = append(cmd.Env, EnvWarned+"=1")
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	runErr := cmd.Run()
	st, err := readStatus(statusFile)
	if err == nil {
		s.warned = true
		return st, nil
	}
	why := "exited"
	if runErr != nil {
		why = runErr.Error()
	}
	if ctx.Err() != nil {
		return Status{}, &ExitError{Code: ExitInterrupted, Msg: fmt.Sprintf("%s: interrupted (the engine %s)", name, why)}
	}
	code := ExitFailure
	var ee *exec.ExitError
	if errors.As(runErr, &ee) && ee.ExitCode() > 0 {
		code = ee.ExitCode()
	}
	return Status{}, &ExitError{Code: code, Msg: fmt.Sprintf("%s: the scratchkit engine %s %s without saying why (%v); its output is above", name, bin, why, err)}
}

// statusDirPrefix starts the names of the status directories under the temporary directory.
const statusDirPrefix = "scratchkit-status-"

// statusDir makes the directory of one engine run's status file, named for this process
// (scratchkit-status-<pid>-<random>), after removing those of processes that are gone: a run
// killed with SIGKILL cannot remove its own, and the next run does.
func statusDir() (string, error) {
	sweepStatusDirs(os.TempDir())
	return os.MkdirTemp("", fmt.Sprintf("%s%d-", statusDirPrefix, os.Getpid()))
}

// sweepStatusDirs removes the status directories in tmp whose process is gone. One of an earlier
// version (no pid in its name) goes when it was last written over a day ago.
func sweepStatusDirs(tmp string) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), statusDirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		gone := false
		if pid, _, ok := strings.Cut(rest, "-"); ok {
			n, err := strconv.Atoi(pid)
			gone = err == nil && n != os.Getpid() && !pidlive.Alive(n)
		} else if info, err := e.Info(); err == nil {
			gone = time.Since(info.ModTime()) > 24*time.Hour
		}
		if gone {
			_ = os.RemoveAll(filepath.Join(tmp, e.Name()))
		}
	}
}
