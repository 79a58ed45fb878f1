// Package goenv asks the go command, in one call, where the Go installation, GOPATH and the
// module cache of a directory are: the directories a build reads from, which Verify looks for in
// binaries, and the Go installation whose zone data fills the static base. Read does not remember
// its answer; the engine asks once per run.
package goenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/scratchkit/scratchkit/internal/secrets"
)

// Env is what `go env` reports for a directory.
type Env struct {
	GOROOT     string
	GOPATH     string // a list, as filepath.SplitList reads it
	GOMODCACHE string
}

// Read runs `go env -json GOROOT GOPATH GOMODCACHE` in dir (the process's directory when
// empty). goCmd is the go command ("go" when empty); environ is its environment
// (secrets.Environ() when nil). GOROOT must not be empty.
func Read(ctx context.Context, goCmd, dir string, environ []string) (Env, error) {
	if goCmd == "" {
		goCmd = "go"
	}
	if environ == nil {
		environ = secrets.Environ()
	}
	where := "the current directory"
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return Env{}, fmt.Errorf("go env: %w", err)
		}
		dir, where = abs, abs
	}
	cmd := exec.CommandContext(ctx, goCmd, "env", "-json", "GOROOT", "GOPATH", "GOMODCACHE")
	cmd.Dir, cmd.Env = dir, environ
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return Env{}, ctx.Err()
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			msg = ": " + msg
		}
		return Env{}, fmt.Errorf("%s env in %s: %w%s; install Go, or put the go command that builds on PATH", goCmd, where, err, msg)
	}
	var e Env
	if err := json.Unmarshal(out, &e); err != nil {
		return Env{}, fmt.Errorf("%s env in %s: read its output: %w", goCmd, where, err)
	}
	if e.GOROOT == "" {
		return Env{}, fmt.Errorf("%s env in %s reported no GOROOT; set the GOROOT of the Go that builds", goCmd, where)
	}
	return e, nil
}
