package binary

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

// BuildPaths returns the directories a build on this machine may leak into a binary, for
// Expect.LeakPaths: dir (the build's working directory), $HOME, and the GOPATH entries,
// GOMODCACHE and GOROOT that `go env` reports for dir. goCmd is the go command the build
// uses ("go" when empty); env is the build's environment (os.Environ() when nil).
func BuildPaths(ctx context.Context, goCmd, dir string, env []string) ([]string, error) {
	if goCmd == "" {
		goCmd = "go"
	}
	if env == nil {
		env = secrets.Environ()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("build paths: %w", err)
	}
	cmd := exec.CommandContext(ctx, goCmd, "env", "-json", "GOROOT", "GOPATH", "GOMODCACHE")
	cmd.Dir = abs
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("build paths: %s env in %s: %w: %s", goCmd, abs, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var ge struct{ GOROOT, GOPATH, GOMODCACHE string }
	if err := json.Unmarshal(out, &ge); err != nil {
		return nil, fmt.Errorf("build paths: parse go env output: %w", err)
	}
	paths := []string{abs}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok && v != "" {
			paths = append(paths, v)
		}
	}
	paths = append(paths, filepath.SplitList(ge.GOPATH)...)
	paths = append(paths, ge.GOMODCACHE, ge.GOROOT)
	use, _ := cleanLeakPaths(paths)
	return use, nil
}
