package gobuild

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/binary"
)

// go list, go build and git never see the signing secrets (nor can an ldflags template read them).
func TestChildrenNeverSeeSigningSecrets(t *testing.T) {
	dir := example(t)
	if out, err := exec.Command("git", "-C", dir, "init", "-q").CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	leaks := testenv.SecretSpy(t, "go", "git")
	ctx := context.Background()
	builds, err := Resolve(ctx, dir, []Spec{{Build: Build{Main: ".", Linkage: binary.LinkageStatic, Platforms: mustPlatforms(t, "linux/amd64")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ModulePath(ctx, dir); err != nil {
		t.Fatal(err)
	}
	info, err := Describe(ctx, dir, os.Environ(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := info.Env["COSIGN_PASSWORD"]; ok {
		t.Errorf("ldflags templates can read COSIGN_PASSWORD (%q)", v)
	}
	if _, err := Run(ctx, builds, Options{Dist: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if l := leaks(); len(l) > 0 {
		t.Errorf("children saw signing secrets:\n%v", l)
	}
}
