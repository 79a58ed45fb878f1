package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/scratchkit/scratchkit/internal/cachedir"

	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/targets/gobuild"
	"github.com/scratchkit/scratchkit/targets/goenv"
)

// GoEnv is what `go env` reports for the project (the Go installation, GOPATH, the module
// cache), learned once per Run.
func (e *Run) GoEnv(ctx context.Context) (goenv.Env, error) {
	e.goEnvOnce.Do(func() {
		env, err := e.GoEnviron(ctx)
		if err != nil {
			e.goEnvErr = err
			return
		}
		e.goEnv, e.goEnvErr = goenv.Read(ctx, "go", e.Dir, env)
	})
	return e.goEnv, e.goEnvErr
}

// Toolchain is the Go release build.toolchain resolved to (the GOTOOLCHAIN of every go command
// of the run), or "" for the go command on PATH as it is; resolved once per Run.
func (e *Run) Toolchain(ctx context.Context) (string, error) {
	e.toolOnce.Do(func() {
		opts := gobuild.ToolchainOptions{Env: secrets.Environ(), MaxAge: time.Hour}
		if dir, err := cachedir.Dir(); err == nil {
			opts.CacheDir = dir
		}
		e.toolchain, e.toolErr = gobuild.ResolveToolchain(ctx, e.Config.Build.Toolchain, opts)
		if e.toolErr != nil {
			e.toolErr = fmt.Errorf("%s: %w", e.Config.Where("build.toolchain"), e.toolErr)
		}
	})
	return e.toolchain, e.toolErr
}

// GoEnviron is the environment of the run's go commands: the process's without the signing
// secrets, with GOTOOLCHAIN set when build.toolchain names a release.
func (e *Run) GoEnviron(ctx context.Context) ([]string, error) {
	tc, err := e.Toolchain(ctx)
	if err != nil {
		return nil, err
	}
	if tc == "" {
		return secrets.Environ(), nil
	}
	return secrets.Environ("GOTOOLCHAIN=" + tc), nil
}

// goRoot is the GOROOT of the go command, whose zone data fills the static base; "" when `go
// env` failed, and then image.Build asks again and reports the failure.
func (e *Run) goRoot(ctx context.Context) string {
	ge, _ := e.GoEnv(ctx)
	return ge.GOROOT
}
