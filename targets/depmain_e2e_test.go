package targets_test

import (
	"debug/buildinfo"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
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
		if s.Platform == "linux/"+runtime.GOARCH && s.Passed && !strings.HasPrefix(s.Runtime, "static") {
			ran = true
		}
	}
	if !ran {
		t.Errorf("the host platform's smoke run did not pass: %+v", rec.Smoke)
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
