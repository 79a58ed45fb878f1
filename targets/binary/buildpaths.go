package binary

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/targets/goenv"
)

// BuildPaths returns the directories a build on this machine may leak into a binary, for
// Expect.LeakPaths: dir (the build's working directory), $HOME, and the GOPATH entries,
// GOMODCACHE and GOROOT that `go env` reports for dir. goCmd is the go command the build
// uses ("go" when empty); env is the build's environment (os.Environ() when nil).
func BuildPaths(ctx context.Context, goCmd, dir string, env []string) ([]string, error) {
	if env == nil {
		env = secrets.Environ()
	}
	ge, err := goenv.Read(ctx, goCmd, dir, env)
	if err != nil {
		return nil, fmt.Errorf("build paths: %w", err)
	}
	return BuildPathsOf(dir, env, ge)
}

// BuildPathsOf is BuildPaths with what `go env` reported for dir already known.
func BuildPathsOf(dir string, env []string, ge goenv.Env) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("build paths: %w", err)
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
