package binary

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// Fixtures are built by the tests, on this machine, with the real toolchains, once per test
// binary and only when a test asks for them (so `go test -run X` builds only what X needs).
// They live in a temporary directory removed when the tests end; nothing is cached in the
// repository.

var fixtureDir string // set by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scratchkit-binary-fixtures-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type fixtureState struct {
	once sync.Once
	path string
	err  error
	tool string // a missing tool: skip (or fail under SCRATCHKIT_E2E=1)
}

var (
	fixtureMu sync.Mutex
	fixtures  = map[string]*fixtureState{}
)

// moduleRoot is the repository root: fixtures are built from ./targets/binary/testdata/...
// inside the main module, so they can use its pinned dependencies.
func moduleRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", root, err)
	}
	return root
}

// fixture returns the path of the named fixture, building it on first use.
func fixture(t testing.TB, name string) string {
	t.Helper()
	fixtureMu.Lock()
	st := fixtures[name]
	if st == nil {
		st = &fixtureState{}
		fixtures[name] = st
	}
	fixtureMu.Unlock()
	st.once.Do(func() {
		st.path = filepath.Join(fixtureDir, name)
		st.tool, st.err = buildFixture(t, name, st.path)
	})
	if st.tool != "" {
		testenv.Tool(t, st.tool) // skips, or fails under SCRATCHKIT_E2E=1
	}
	if st.err != nil {
		t.Fatalf("build fixture %s: %v", name, st.err)
	}
	return st.path
}

// goFlagsStripped are the flags of a release build: what Build uses by default.
var goFlagsStripped = []string{"-trimpath", "-ldflags=-s -w"}

func buildFixture(t testing.TB, name, out string) (missingTool string, err error) {
	root := moduleRoot(t)
	hello := "./targets/binary/testdata/hello"
	needs := func(tool string) bool {
		_, err := exec.LookPath(tool)
		return err == nil
	}
	switch name {
	case "static": // the good build
		return "", goBuild(root, out, []string{"CGO_ENABLED=0"}, append(goFlagsStripped, hello)...)
	case "cgo-dynamic": // cgo on: interpreter + libc
		if !needs("gcc") {
			return "gcc", nil
		}
		return "", goBuild(root, out, []string{"CGO_ENABLED=1"}, append(goFlagsStripped, hello)...)
	case "pie-nocgo": // CGO_ENABLED=0 -buildmode=pie: asks for the loader
		return "", goBuild(root, out, []string{"CGO_ENABLED=0"}, "-buildmode=pie", "-trimpath", "-ldflags=-s -w", hello)
	case "static-pie": // the real static PIE
		if !needs("gcc") {
			return "gcc", nil
		}
		return "", goBuild(root, out, []string{"CGO_ENABLED=1"}, "-buildmode=pie", "-tags", "netgo,osusergo", "-trimpath",
			"-ldflags=-s -w -linkmode=external -extldflags=-static-pie", hello)
	case "unstripped":
		return "", goBuild(root, out, []string{"CGO_ENABLED=0"}, "-trimpath", hello)
	case "no-trimpath":
		return "", goBuild(root, out, []string{"CGO_ENABLED=0"}, "-ldflags=-s -w", hello)
	case "upx":
		orig, err := os.ReadFile(fixture(t, "static"))
		if err != nil {
			return "", err
		}
		return "", os.WriteFile(out, synthUPX(orig), 0o755)
	case "arm64": // labelled amd64 by the test
		return "", goBuild(root, out, []string{"CGO_ENABLED=0", "GOARCH=arm64"}, append(goFlagsStripped, hello)...)
	case "arm64-v9":
		return "", goBuild(root, out, []string{"CGO_ENABLED=0", "GOARCH=arm64", "GOARM64=v9.0"}, append(goFlagsStripped, hello)...)
	case "arm-v7":
		return "", goBuild(root, out, []string{"CGO_ENABLED=0", "GOARCH=arm", "GOARM=7"}, append(goFlagsStripped, hello)...)
	case "tlsclient":
		return "", goBuild(root, out, []string{"CGO_ENABLED=0"}, append(goFlagsStripped, "./targets/binary/testdata/tlsclient")...)
	case "darwin":
		return "", goBuild(root, out, []string{"CGO_ENABLED=0", "GOOS=darwin", "GOARCH=arm64"}, append(goFlagsStripped, hello)...)
	case "windows":
		return "", goBuild(root, out, []string{"CGO_ENABLED=0", "GOOS=windows", "GOARCH=amd64"}, append(goFlagsStripped, hello)...)
	case "c-static": // gcc -static, not stripped
		if !needs("gcc") {
			return "gcc", nil
		}
		return "", run(root, nil, "gcc", "-static", "-O1", "-o", out, "targets/binary/testdata/cstatic/main.c")
	case "c-static-stripped":
		if !needs("gcc") {
			return "gcc", nil
		}
		return "", run(root, nil, "gcc", "-static", "-s", "-O1", "-o", out, "targets/binary/testdata/cstatic/main.c")
	case "c-armhf": // hard-float ARM, marked so in e_flags by the C toolchain
		if !needs("arm-linux-gnueabihf-gcc") {
			return "arm-linux-gnueabihf-gcc", nil
		}
		return "", run(root, nil, "arm-linux-gnueabihf-gcc", "-static", "-s", "-O1", "-o", out, "targets/binary/testdata/cstatic/main.c")
	}
	return "", fmt.Errorf("unknown fixture %q", name)
}

func goBuild(dir, out string, env []string, args ...string) error {
	return run(dir, env, "go", append([]string{"build", "-buildvcs=false", "-o", out}, args...)...)
}

func run(dir string, env []string, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...) // later entries win
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s %s: %v\n%s", strings.Join(env, " "), name, strings.Join(args, " "), err, out.String())
	}
	return nil
}
