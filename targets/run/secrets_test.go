package run

import (
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/imagefs/imagetest"
)

// The docker and runc CLIs that smoke starts never see the signing secrets.
func TestSmokeChildrenNeverSeeSigningSecrets(t *testing.T) {
	leaks := testenv.SecretSpy(t, "docker", "runc")
	bin := helloBinary(t)
	img := imagetest.Of(t, "hello", bin, "static", "", "-addr", ":8080")
	eachRuntime(t, func(t *testing.T, opts Options) {
		opts.Probes = []Probe{{Exit: &ExitProbe{Args: []string{"-version"}, Output: "^hello "}}}
		before := len(leaks()) // the test's own docker and runc calls are not smoke's
		if rep := smoke(t, "hello", img, opts); rep.Failed() {
			t.Fatal("the example failed its smoke test")
		}
		if l := leaks()[before:]; len(l) > 0 {
			t.Errorf("smoke's %s calls saw signing secrets:\n%v", opts.Runtime, l)
		}
	})
}
