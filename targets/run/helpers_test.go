package run

import (
	"runtime"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/platform"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// goBinary builds a Go program once per test process: dir is the package directory, env is
// added to the environment (after CGO_ENABLED=0 and GOFLAGS=-buildvcs=false unless env sets them).
func goBinary(t testing.TB, dir string, env ...string) string {
	t.Helper()
	return testenv.GoBinary(t, dir, append([]string{"GOFLAGS=-buildvcs=false"}, env...)...)
}

// helloBinary is the example service, built static for the host's architecture.
func helloBinary(t testing.TB) string {
	return goBinary(t, "../../examples/hello", "GOOS=linux", "GOARCH="+runtime.GOARCH)
}

// pitfallBinary is testdata/pitfall, static.
func pitfallBinary(t testing.TB) string {
	return goBinary(t, "testdata/pitfall", "GOOS=linux", "GOARCH="+runtime.GOARCH)
}

// dynBinary is testdata/dyn built with cgo, dynamically linked against the C library.
func dynBinary(t testing.TB) string {
	testenv.Tool(t, "gcc")
	return goBinary(t, "testdata/dyn", "CGO_ENABLED=1", "GOOS=linux", "GOARCH="+runtime.GOARCH)
}

func hostPlatformString() string { return platform.Host().String() }
