package binary

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// Fixtures are built by the tests, on this machine, with the real toolchains, once per test
// process and only when a test asks for them (testenv.Fixture).

func TestMain(m *testing.M) { testenv.Main(m) }

// fixtureTools names the C toolchain a fixture needs: without it the test skips (or fails under
// SCRATCHKIT_E2E=1).
var fixtureTools = map[string]string{
	"cgo-dynamic": "gcc", "static-pie": "gcc", "c-static": "gcc", "c-static-stripped": "gcc",
	"c-armhf": "arm-linux-gnueabihf-gcc", "glibc-nss": "gcc", "glibc-netgo": "gcc",
}

// fixture returns the path of the named fixture, building it on first use.
func fixture(t testing.TB, name string) string {
	t.Helper()
	if tool := fixtureTools[name]; tool != "" {
		testenv.Tool(t, tool)
	}
	return testenv.Fixture(t, name, func(out string) error { return buildFixture(t, name, out) })
}

// goFlagsStripped are the flags of a release build: what Build uses by default.
var goFlagsStripped = []string{"-trimpath", "-ldflags=-s -w"}

// buildFixture builds the named fixture at out from ./targets/binary/testdata inside the main
// module, so that it can use the module's pinned dependencies.
func buildFixture(t testing.TB, name, out string) error {
	root := testenv.ModuleRoot(t)
	const hello = "./targets/binary/testdata/hello"
	goBuild := func(pkg string, env []string, flags ...string) error {
		p := testenv.GoProgram{Dir: root, Pkg: pkg, Env: env, Flags: append([]string{"-buildvcs=false"}, flags...)}
		return p.Build(out)
	}
	switch name {
	case "static": // the good build
		return goBuild(hello, []string{"CGO_ENABLED=0"}, goFlagsStripped...)
	case "cgo-dynamic": // cgo on: interpreter + libc
		return goBuild(hello, []string{"CGO_ENABLED=1"}, goFlagsStripped...)
	case "pie-nocgo": // CGO_ENABLED=0 -buildmode=pie: asks for the loader
		return goBuild(hello, []string{"CGO_ENABLED=0"}, "-buildmode=pie", "-trimpath", "-ldflags=-s -w")
	case "static-pie": // the real static PIE
		return goBuild(hello, []string{"CGO_ENABLED=1"}, "-buildmode=pie", "-tags", "netgo,osusergo", "-trimpath",
			"-ldflags=-s -w -linkmode=external -extldflags=-static-pie")
	case "unstripped":
		return goBuild(hello, []string{"CGO_ENABLED=0"}, "-trimpath")
	case "no-trimpath":
		return goBuild(hello, []string{"CGO_ENABLED=0"}, "-ldflags=-s -w")
	case "upx":
		orig, err := os.ReadFile(fixture(t, "static"))
		if err != nil {
			return err
		}
		return os.WriteFile(out, synthUPX(orig), 0o755)
	case "arm64": // labelled amd64 by the test
		return goBuild(hello, []string{"CGO_ENABLED=0", "GOARCH=arm64"}, goFlagsStripped...)
	case "arm64-v9":
		return goBuild(hello, []string{"CGO_ENABLED=0", "GOARCH=arm64", "GOARM64=v9.0"}, goFlagsStripped...)
	case "arm-v7":
		return goBuild(hello, []string{"CGO_ENABLED=0", "GOARCH=arm", "GOARM=7"}, goFlagsStripped...)
	case "glibc-nss": // static with glibc, and Go's net and os/user through it (no netgo, osusergo)
		return goBuild("./targets/binary/testdata/lookup", []string{"CGO_ENABLED=1"}, "-trimpath",
			"-ldflags=-s -w -linkmode=external -extldflags=-static")
	case "glibc-netgo": // the same with Go's own resolver and user lookup, as the cgo linkages build
		return goBuild("./targets/binary/testdata/lookup", []string{"CGO_ENABLED=1"}, "-tags", "netgo,osusergo", "-trimpath",
			"-ldflags=-s -w -linkmode=external -extldflags=-static")
	case "tlsclient":
		return goBuild("./targets/binary/testdata/tlsclient", []string{"CGO_ENABLED=0"}, goFlagsStripped...)
	case "darwin":
		return goBuild(hello, []string{"CGO_ENABLED=0", "GOOS=darwin", "GOARCH=arm64"}, goFlagsStripped...)
	case "windows":
		return goBuild(hello, []string{"CGO_ENABLED=0", "GOOS=windows", "GOARCH=amd64"}, goFlagsStripped...)
	case "c-static": // gcc -static, not stripped
		return run(root, "gcc", "-static", "-O1", "-o", out, "targets/binary/testdata/cstatic/main.c")
	case "c-static-stripped":
		return run(root, "gcc", "-static", "-s", "-O1", "-o", out, "targets/binary/testdata/cstatic/main.c")
	case "c-armhf": // hard-float ARM, marked so in e_flags by the C toolchain
		return run(root, "arm-linux-gnueabihf-gcc", "-static", "-s", "-O1", "-o", out, "targets/binary/testdata/cstatic/main.c")
	}
	return fmt.Errorf("unknown fixture %q", name)
}

func run(dir string, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}
