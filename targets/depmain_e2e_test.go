package targets_test

import (
	"debug/buildinfo"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// slidesProject copies examples/slides (a service that is a dependency's main package) with its
// magefiles module pointing at this repository.
func slidesProject(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "slides")
	testenv.CopyFiles(t, filepath.Join(testenv.ModuleRoot(t), "examples", "slides"), dir, "go.mod", "go.sum", "scratchkit.yaml", "kodata/welcome.slide")
	copyMagefiles(t, "slides", filepath.Join(dir, "magefiles"))
	return dir
}

// A dependency's main package, for two platforms, pushed and smoke-tested: recorded by module
// version (no path of this machine's module cache), annotated with that version, built as go
// install builds it, its data from the project.
func TestDependencyMain(t *testing.T) {
	testenv.Docker(t)
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	skopeo := testenv.Tool(t, "skopeo")
	dir := slidesProject(t)
	gitInit(t, dir, "https://example.com/slides.git")
	env := []string{"KO_DOCKER_REPO=" + reg.Host + "/team", "SCRATCHKIT_PLATFORMS=linux/amd64,linux/arm64"}
	mustRun(t, dir, env, "smoke")

	data, err := os.ReadFile(filepath.Join(dir, "dist", "artifacts.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "pkg/mod") || strings.Contains(string(data), os.Getenv("HOME")+"/") {
		t.Errorf("artifacts.json records a path of this machine:\n%s", data)
	}
	rec := record(t, dir)
	if len(rec.Binaries) != 2 {
		t.Fatalf("binaries: %+v", rec.Binaries)
	}
	for _, b := range rec.Binaries {
		if b.Module != "golang.org/x/tools@v0.49.0" || b.Dir != "" || b.Main != "golang.org/x/tools/cmd/present" {
			t.Errorf("%s %s: module %q dir %q main %q", b.Name, b.Platform, b.Module, b.Dir, b.Main)
		}
		bi, err := buildinfo.ReadFile(filepath.Join(dir, b.Path))
		if err != nil {
			t.Fatal(err)
		}
		if bi.Main.Path != "golang.org/x/tools" || bi.Main.Version != "v0.49.0" {
			t.Errorf("%s: build info says main module %s %s, want golang.org/x/tools v0.49.0 (install: true)", b.Platform, bi.Main.Path, bi.Main.Version)
		}
	}
	var img struct{ Ref string }
	for _, i := range rec.Images {
		if i.Destination == "registry" {
			img.Ref = i.Ref
		}
	}
	raw := testenv.Run(t, skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+img.Ref)
	var index struct {
		Manifests   []json.RawMessage
		Annotations map[string]string
	}
	unmarshal(t, raw, &index)
	if len(index.Manifests) != 2 || index.Annotations["org.opencontainers.image.version"] != "v0.49.0" {
		t.Errorf("index: %d manifests, annotations %v; want 2 and version v0.49.0", len(index.Manifests), index.Annotations)
	}
	ran := false
	for _, s := range rec.Smoke {
		if s.Platform == platform.MustParse("linux/"+runtime.GOARCH) && s.Passed && !strings.HasPrefix(s.Runtime, "static") {
			ran = true
		}
	}
	if !ran {
		t.Errorf("the host platform's smoke run did not pass: %+v", rec.Smoke)
	}

	// A second commit that changes no Go file (nor the data) pushes no layer: the binaries are
	// the same, and so are their layers; only the configs (the commit time) and manifests change.
	before := registryBlobs(t, reg.Dir)
	testenv.WriteFile(t, filepath.Join(dir, "NOTES"), "a change that is not Go\n")
	gitCommit(t, dir, "2026-02-02T02:02:02Z", "notes")
	mustRun(t, dir, env, "image")
	for blob, size := range registryBlobs(t, reg.Dir) {
		if _, old := before[blob]; !old && size > 64<<10 {
			t.Errorf("the second commit pushed a %d-byte blob %s: a layer, though no Go file changed", size, blob)
		}
	}
	rec2 := record(t, dir)
	for _, i := range rec2.Images {
		if i.Destination == "registry" && i.Ref == img.Ref {
			t.Errorf("the second commit's image is the first's (%s): its config should carry the new commit", i.Ref)
		}
	}

	// Signed: each platform manifest's SBOM attestation, verified by cosign, names that
	// platform's own binary.
	cosign3 := testenv.Tool(t, "cosign3")
	signEnv := append(append([]string(nil), env...), "COSIGN_PASSWORD=pw")
	mustRun(t, dir, signEnv, "keygen")
	mustRun(t, dir, signEnv, "sign")
	rec2 = record(t, dir)
	for _, i := range rec2.Images {
		if i.Destination != "registry" {
			continue
		}
		repo, _, _ := strings.Cut(i.Ref, "@")
		for _, m := range i.Manifests {
			cmd := exec.Command(cosign3, "verify-attestation", "--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", "--type", "spdxjson", repo+"@"+m.Digest)
			cmd.Dir = dir
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("cosign verify-attestation %s %s: %v", m.Platform, m.Digest, err)
			}
			var envelope struct{ Payload []byte }
			if json.Unmarshal(out, &envelope) != nil || !strings.Contains(string(envelope.Payload), m.Binary) {
				t.Errorf("the SBOM attested at %s (%s) does not name its binary %s", m.Digest, m.Platform, m.Binary)
			}
			for _, other := range i.Manifests {
				if other.Binary != m.Binary && strings.Contains(string(envelope.Payload), other.Binary) {
					t.Errorf("the SBOM attested at %s names the %s binary", m.Platform, other.Platform)
				}
			}
		}
	}

	// A main package whose imports go.sum lacks checksums for: one sentence with the command.
	// (GOFLAGS=-mod=mod, which the tests give mage for the magefiles module, would add them.)
	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), "builds:\n  - main: golang.org/x/tools/cmd/stringer\n")
	out, err := run(t, dir, append(env, "GOFLAGS="), "build")
	if err == nil {
		t.Fatalf("mage build of a main without go.sum entries succeeded:\n%s", out)
	}
	if n := strings.Count(out, "run `go get -tool golang.org/x/tools/cmd/stringer@v0.49.0`"); n != 1 || strings.Contains(out, "missing go.sum entry") {
		t.Errorf("want the go get -tool command once and no compiler output:\n%s", out)
	}

	// A configured data directory that does not exist is an error naming the key.
	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), "builds:\n  - main: golang.org/x/tools/cmd/present\n    data: slides\n")
	out, err = run(t, dir, []string{"SCRATCHKIT_PLATFORMS=linux/amd64"}, "image")
	if err == nil || !strings.Contains(out, "builds[0].data") || !strings.Contains(out, "slides") {
		t.Errorf("a missing data directory: %v\n%s", err, out)
	}
}

// gitCommit commits everything in dir at the given committer date.
func gitCommit(t *testing.T, dir, date, msg string) {
	t.Helper()
	for _, args := range [][]string{{"add", "-A"}, {"-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-q", "-m", msg}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE="+date, "GIT_AUTHOR_DATE="+date)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// registryBlobs lists a docker-registry storage's blobs and their sizes.
func registryBlobs(t *testing.T, storage string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(storage, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "data" || !strings.Contains(p, "/blobs/") {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[filepath.Base(filepath.Dir(p))] = fi.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
