package image

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// buildHello builds examples/hello as a static binary for the host's linux architecture.
func buildHello(t testing.TB) (string, platform.Platform) {
	t.Helper()
	out := testenv.GoBuild(t, testenv.GoProgram{Dir: "../../examples/hello", Flags: []string{"-trimpath", "-ldflags=-s -w"},
		Env: []string{"GOOS=linux", "GOARCH=" + runtime.GOARCH, "GOWORK=off", "GOFLAGS="}})
	return out, platform.MustParse("linux/" + runtime.GOARCH)
}

// loadImage writes r's image as a docker tarball, loads it into the daemon and returns its tag.
func loadImage(t *testing.T, docker string, r *Result) string {
	t.Helper()
	tag := fmt.Sprintf("scratchkit.test/image-e2e:%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano())
	ref, err := name.NewTag(tag)
	must(t, err)
	file := filepath.Join(t.TempDir(), "image.tar")
	must(t, tarball.WriteToFile(file, ref, r.Image))
	testenv.Run(t, docker, "load", "-i", file)
	t.Cleanup(func() { _, _ = testenv.Output(docker, "rmi", "-f", tag) })
	return tag
}

func TestE2EHelloInDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	docker := testenv.Docker(t)
	bin, platform := buildHello(t)
	s := Spec{Name: "hello", Created: testCreated, Binaries: []Binary{{Platform: platform, Path: bin, SHA256: testenv.FileSHA256(t, bin)}},
		CacheDir: t.TempDir()}

	// The image run is the second build, its layers read from the layer cache the first filled.
	first, err := Build(context.Background(), s)
	must(t, err)
	resetStatic()
	r, err := Build(context.Background(), s)
	must(t, err)
	if digest(t, r) != digest(t, first) {
		t.Fatalf("build from the layer cache: %s, the build that filled it: %s", digest(t, r), digest(t, first))
	}
	tag := loadImage(t, docker, r)
	out := testenv.Run(t, docker, "run", "--rm", "--network", "none", tag, "--check", "all")
	for _, want := range []string{"tz: Europe/Berlin", "roots: ", "user: nonroot uid=65532 home=/home/nonroot"} {
		if !strings.Contains(out, want) {
			t.Errorf("hello --check all on the static base printed\n%s\nwant %q", out, want)
		}
	}
	// The image's config is what docker sees: user, entrypoint, PATH.
	inspect := testenv.Run(t, docker, "image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Env}}", tag)
	for _, want := range []string{"65532:65532", `["/ko-app/hello"]`, "/ko-app", "SSL_CERT_FILE=" + CACertsPath} {
		if !strings.Contains(inspect, want) {
			t.Errorf("docker inspect: %s\nwant %q", inspect, want)
		}
	}

	// On scratch there is no zone data and no CA roots: the checks fail, as they should.
	s.Base = BaseScratch
	r, err = Build(context.Background(), s)
	must(t, err)
	tag = loadImage(t, docker, r)
	for _, check := range []string{"tz", "roots"} {
		out, err := testenv.Output(docker, "run", "--rm", "--network", "none", tag, "--check", check)
		if err == nil {
			t.Errorf("hello --check %s passed on scratch:\n%s", check, out)
		} else {
			t.Logf("scratch, --check %s fails as expected: %s", check, strings.TrimSpace(out))
		}
	}
}
