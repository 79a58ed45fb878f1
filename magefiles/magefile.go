//go:build mage

// scratchkit's own build, written with mage and scratchkit's own targets where they fit.
// Run from the repository root: go run github.com/magefile/mage -l
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"github.com/scratchkit/scratchkit/targets"
)

// Test runs the project's test command: installs and starts the real components, then go test.
func Test() error { return sh.RunV("./.ci/test") }

// Lint checks gofmt and go vet in this module and in the example's modules.
func Lint() error {
	files, err := sh.Output("git", "ls-files", "*.go")
	if err != nil {
		return err
	}
	out, err := sh.Output("gofmt", append([]string{"-l"}, strings.Fields(files)...)...)
	if err != nil {
		return err
	}
	if out != "" {
		return fmt.Errorf("gofmt would change:\n%s", out)
	}
	if err := sh.RunV("go", "vet", "./..."); err != nil {
		return err
	}
	for _, dir := range []string{"examples/hello", "examples/hello/magefiles", "examples/docs", "examples/docs/magefiles", "examples/pipeline/magefiles", "examples/slides/magefiles"} {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		cmd := exec.Command("go", "vet", "-tags", "mage", "./...")
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go vet in %s: %w", dir, err)
		}
	}
	return nil
}

// Docs regenerates the generated documentation: docs/config.md and the static base in docs/bases.md.
func Docs() error {
	if err := sh.RunV("go", "test", "./cmd/scratchkit/docgen", "-update"); err != nil {
		return err
	}
	return sh.RunV("go", "test", "./targets/image", "-run", "TestBasesDoc", "-update")
}

// Example runs the main job: build, verify and image the hello example on the offline default.
func Example() error {
	cmd := exec.Command("go", "tool", "mage", "-w", "..", "image")
	cmd.Dir = filepath.Join("examples", "hello", "magefiles")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// Bench compares scratchkit with the bare go build and with ko (see bench/README.md).
func Bench() error { return sh.RunV("go", "run", "./bench/compare", "all") }

// Tools proves the pinned CLIs the tests install (.ci/bin) static, with scratchkit's own Verify.
func Tools(ctx context.Context) error {
	mg.CtxDeps(ctx, installTools)
	var paths []string
	for _, tool := range pinnedTools {
		paths = append(paths, filepath.Join(".ci", "bin", toolName(tool)))
	}
	return targets.VerifyFiles(ctx, strings.Join(paths, " "))
}

// pinnedTools are the CLIs .ci/test installs, at the versions it pins.
var pinnedTools = []string{"github.com/google/go-containerregistry/cmd/crane@v0.22.1", "github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5"}

func toolName(tool string) string { return filepath.Base(strings.SplitN(tool, "@", 2)[0]) }

// installTools installs the pinned crane and cosign into .ci/bin, as .ci/test does.
func installTools() error {
	abs, err := filepath.Abs(filepath.Join(".ci", "bin"))
	if err != nil {
		return err
	}
	env := map[string]string{"GOBIN": abs, "CGO_ENABLED": "0", "GOFLAGS": ""}
	for _, tool := range pinnedTools {
		name := toolName(tool)
		stamp := filepath.Join(abs, "."+name+"-"+strings.SplitN(tool, "@", 2)[1])
		if _, err := os.Stat(stamp); err == nil {
			continue
		}
		if err := sh.RunWithV(env, "go", "install", "-trimpath", "-ldflags=-s -w", tool); err != nil {
			return err
		}
		if err := os.WriteFile(stamp, nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}
