package gobuild

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestCheckToolchain(t *testing.T) {
	for _, ok := range []string{"", "patch", "go1.26.11", "go1.27rc2"} {
		if err := CheckToolchain(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"go1.26", "1.26.11", "latest", "go1.26.11; rm -rf", "local"} {
		if err := CheckToolchain(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if tc, err := ResolveToolchain(context.Background(), "go1.26.11", ToolchainOptions{}); err != nil || tc != "go1.26.11" {
		t.Errorf("a named release: %q, %v", tc, err)
	}
	if _, err := ResolveToolchain(context.Background(), "go1.26", ToolchainOptions{}); err == nil || !strings.Contains(err.Error(), "build.toolchain") {
		t.Errorf("go1.26: %v", err)
	}
}

// patch asks the go command on PATH which Go it is and the module proxy which patch releases of
// that minor it serves; a proxy that cannot be reached is an error naming golang.org/toolchain.
func TestResolvePatchWithoutProxy(t *testing.T) {
	_, err := ResolveToolchain(context.Background(), ToolchainPatch, ToolchainOptions{Env: []string{"GOPROXY=off", "HOME=" + t.TempDir(), "PATH=" + getenvPath()}})
	if err == nil || !strings.Contains(err.Error(), "golang.org/toolchain") {
		t.Errorf("patch with GOPROXY=off: %v", err)
	}
}

func getenvPath() string { return os.Getenv("PATH") }
