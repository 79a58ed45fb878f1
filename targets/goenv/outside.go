package goenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// maxStderr bounds what an error repeats of the go command's standard error.
const maxStderr = 2000

// Outside runs the go command goCmd ("go" when empty) outside any module (a fresh temporary
// directory, no workspace, module mode, the local toolchain), with environ (os.Environ() when
// nil) and then extra, and returns its standard output. Its error carries what the go command
// printed on standard error. For what asks the module proxy (golang.org/x/vulndb, the
// golang.org/toolchain releases) through the user's GOPROXY, GONOSUMDB, GOFLAGS and netrc.
func Outside(ctx context.Context, goCmd string, environ []string, args ...string) ([]byte, error) {
	if goCmd == "" {
		goCmd = "go"
	}
	if environ == nil {
		environ = os.Environ()
	}
	work, err := os.MkdirTemp("", "scratchkit-go-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = work
	cmd.Env = append(environ[:len(environ):len(environ)], "GO111MODULE=on", "GOWORK=off", "GOTOOLCHAIN=local")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > maxStderr {
			msg = msg[:maxStderr] + "…"
		}
		if msg == "" {
			return nil, fmt.Errorf("%s %s: %w", goCmd, strings.Join(args, " "), err)
		}
		return nil, fmt.Errorf("%s %s: %w: %s", goCmd, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}
