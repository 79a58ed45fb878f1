package goenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	modcache := t.TempDir()
	environ := append(os.Environ(), "GOMODCACHE="+modcache, "GOFLAGS=")
	e, err := Read(context.Background(), "", t.TempDir(), environ)
	if err != nil {
		t.Fatal(err)
	}
	if e.GOMODCACHE != modcache {
		t.Errorf("GOMODCACHE = %q, want the environment's %q", e.GOMODCACHE, modcache)
	}
	if _, err := os.Stat(filepath.Join(e.GOROOT, "src", "runtime")); err != nil {
		t.Errorf("GOROOT %q holds no Go installation: %v", e.GOROOT, err)
	}
	if e.GOPATH == "" {
		t.Errorf("GOPATH is empty")
	}
}

func TestReadFailure(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses a shell script as the go command")
	}
	fake := filepath.Join(t.TempDir(), "go")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'go: broken toolchain' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err := Read(context.Background(), fake, dir, os.Environ())
	if err == nil {
		t.Fatal("a failing go env was read as success")
	}
	for _, want := range []string{dir, "broken toolchain", "exit status 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	empty := filepath.Join(t.TempDir(), "go")
	if err := os.WriteFile(empty, []byte("#!/bin/sh\necho '{\"GOROOT\": \"\"}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(context.Background(), empty, dir, os.Environ()); err == nil || !strings.Contains(err.Error(), "no GOROOT") {
		t.Errorf("an empty GOROOT gave %v, want an error saying so", err)
	}
}
