package targets_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/artifacts"
)

// resolveProject is the hello example as a ko user has it: .ko.yaml lists two builds, the
// module's own main package and a main package of a dependency module, and deploy/ holds
// Kubernetes YAML naming both as ko:// references.
//
// The dependency is github.com/magefile/mage, whose module root is a main package: it is
// already in the module cache (the magefiles build with it), has no dependencies of its own,
// builds in seconds and runs `mage -version` in a scratch image without network. It is required
// with a tool directive, as a team would record it (go get -tool), and go.sum carries its
// checksums from the example's magefiles module, so nothing is fetched.
func resolveProject(t *testing.T) string {
	t.Helper()
	sums, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "examples", "hello", "magefiles", "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	var mageSums []string
	for _, l := range strings.Split(string(sums), "\n") {
		if strings.HasPrefix(l, "github.com/magefile/mage ") {
			mageSums = append(mageSums, l)
		}
	}
	if len(mageSums) != 2 {
		t.Fatalf("examples/hello/magefiles/go.sum has no checksums for mage: %q", mageSums)
	}
	return project(t, map[string]string{
		"go.mod": "module example.com/hello\n\ngo 1.26\n\nrequire github.com/magefile/mage v1.17.2\n\ntool github.com/magefile/mage\n",
		"go.sum": strings.Join(mageSums, "\n") + "\n",
		".ko.yaml": `builds:
  - id: hello
    main: .
    ldflags: ["-X main.version={{.Env.HELLO_VERSION}}"]
  - id: mage
    main: github.com/magefile/mage
`,
		"scratchkit.yaml":         "resolve:\n  files: [deploy/]\n",
		"deploy/app.yaml":         appYAML,
		"deploy/tools/mage.yml":   mageYAML,
		"deploy/tools/README.txt": "not YAML: left out of the walk\n",
	})
}

const appYAML = `# The hello service, as a ko user writes it.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello # the service
  labels:
    app: hello
spec:
  replicas: 2
  selector:
    matchLabels:
      app: hello
  template:
    metadata:
      labels:
        app: hello
    spec:
      containers:
        - name: hello
          image: ko://example.com/hello # replaced by the digest just pushed
          args: ["-addr", ":8080"]
          ports:
            - containerPort: 8080
---
# Its configuration: ko:// inside a longer string is text, not a reference.
apiVersion: v1
kind: ConfigMap
metadata:
  name: hello
data:
  note: built from ko://example.com/hello
  script: |
    echo "image: ko://example.com/hello"
`

const mageYAML = `# A job running a dependency's main package.
apiVersion: batch/v1
kind: Job
metadata:
  name: mage-version
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: mage
          image: "ko://github.com/magefile/mage"
          args:
            - -version
`

// TestResolve is ko resolve's workflow against the real registry and dockerd: a multi-document
// manifest with comments, naming the module's main package and a dependency module's, comes out
// with exactly those two values replaced by the digests artifacts.json records; each is pulled
// with crane and skopeo and run by docker; the stream is the same bytes on a second run; an
// unknown ko:// path, or images only in files, fail naming the file and line before anything
// is built, and write nothing.
func TestResolve(t *testing.T) {
	docker := testenv.Docker(t)
	crane := testenv.Tool(t, "crane")
	skopeo := testenv.Tool(t, "skopeo")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	dir := resolveProject(t)
	repo := reg.Host + "/team"
	env := []string{"KO_DOCKER_REPO=" + repo, "SOURCE_DATE_EPOCH=1700000000", "HELLO_VERSION=v1.2.3"}

	out := mustRun(t, dir, env, "resolve")
	resolvedPath := filepath.Join(dir, "dist", "resolved.yaml")
	first, err := os.ReadFile(resolvedPath)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rec := record(t, dir)
	refs := map[string]string{}
	for _, img := range rec.Images {
		if img.Destination == "registry" {
			refs[img.Name] = img.Ref
		}
	}
	hello, mageRef := refs["hello"], refs["mage"]
	if !strings.HasPrefix(hello, repo+"/hello@sha256:") || !strings.HasPrefix(mageRef, repo+"/mage@sha256:") {
		t.Fatalf("registry images: %+v", rec.Images)
	}
	for _, b := range rec.Binaries {
		if b.Name == "mage" && (b.Main != "github.com/magefile/mage" || b.Module != "github.com/magefile/mage@v1.17.2") {
			t.Errorf("the dependency's binary: main %q module %q", b.Main, b.Module)
		}
	}

	// Exactly the two references changed: comments, order, styles and the rest as written.
	want := strings.Replace(appYAML, "image: ko://example.com/hello", "image: "+hello, 1) + "---\n" +
		strings.Replace(mageYAML, `"ko://github.com/magefile/mage"`, `"`+mageRef+`"`, 1)
	if string(first) != want {
		t.Errorf("dist/resolved.yaml:\n%s\nwant:\n%s", first, want)
	}
	wantSubs := []artifacts.Substitution{
		{File: "deploy/app.yaml", Line: 20, Main: "example.com/hello", Image: "hello", Ref: hello},
		{File: "deploy/tools/mage.yml", Line: 12, Main: "github.com/magefile/mage", Image: "mage", Ref: mageRef},
	}
	if r := rec.Resolved; r == nil || r.Path != "dist/resolved.yaml" || r.SHA256 != testenv.FileSHA256(t, resolvedPath) || !equalSubs(r.Substitutions, wantSubs) {
		t.Errorf("artifacts.json resolved: %+v, want %+v", r, wantSubs)
	}
	for _, w := range []string{"deploy/app.yaml:20", "ko://example.com/hello", "deploy/tools/mage.yml:12", "dist/resolved.yaml: 3 documents from 2 files, 2 references replaced"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}

	// Each reference is pullable by digest and runs.
	for name, ref := range map[string]string{"hello": hello, "mage": mageRef} {
		digest := ref[strings.Index(ref, "@")+1:]
		if got := strings.TrimSpace(testenv.Run(t, crane, "digest", "--insecure", ref)); got != digest {
			t.Errorf("crane digest %s: %s", ref, got)
		}
		if got := strings.TrimSpace(testenv.Run(t, skopeo, "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+ref)); got != digest {
			t.Errorf("skopeo inspect %s: %s", ref, got)
		}
		got := testenv.Run(t, docker, "run", "--rm", "--network", "none", "--pull", "always", ref, "-version")
		wantOut := map[string]string{"hello": "hello v1.2.3", "mage": "Mage Build Tool"}[name]
		if !strings.Contains(got, wantOut) {
			t.Errorf("docker run %s -version: %q, want %q", ref, got, wantOut)
		}
		testenv.Run(t, docker, "rmi", ref)
	}

	// The same commit resolves to the same bytes.
	mustRun(t, dir, env, "resolve")
	if second, err := os.ReadFile(resolvedPath); err != nil || !bytes.Equal(second, first) {
		t.Errorf("second run differs (%v):\n%s", err, second)
	}

	// - writes the stream alone to standard output, the report to standard error.
	cmd := exec.Command(mage(t), "-w", "..", "resolve")
	cmd.Dir = filepath.Join(dir, "magefiles")
	cmd.Env = append(os.Environ(), append([]string{"GOFLAGS=-mod=mod", "NO_COLOR=1", "SCRATCHKIT_PLATFORMS=", "SCRATCHKIT_RESOLVE_OUTPUT=-"}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || !bytes.Equal(stdout.Bytes(), first) || !strings.Contains(stderr.String(), "standard output: 3 documents") {
		t.Errorf("resolve.output -: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}

	// An unknown import path: an error naming the file and line, before anything is built;
	// neither the stream nor a new output is written.
	testenv.WriteFile(t, filepath.Join(dir, "deploy", "zz-more.yaml"), "kind: Pod\nspec:\n  containers:\n    - image: ko://example.com/hello/cmd/nope\n")
	out, err = run(t, dir, append(env, "SCRATCHKIT_RESOLVE_OUTPUT=dist/other.yaml"), "resolve")
	if err == nil || !strings.Contains(out, "deploy/zz-more.yaml:4: ko://example.com/hello/cmd/nope matches no build") || !strings.Contains(out, "github.com/magefile/mage") {
		t.Errorf("unknown import path: %v\n%s", err, out)
	}
	if strings.Contains(out, "Build") {
		t.Errorf("something was built before the unknown import path was reported:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "dist", "other.yaml")); err == nil {
		t.Error("a failed resolve wrote dist/other.yaml")
	}
	out, err = run(t, dir, env, "resolve")
	if err == nil || !strings.Contains(out, "deploy/zz-more.yaml:4") {
		t.Errorf("unknown import path: %v\n%s", err, out)
	}
	if now, _ := os.ReadFile(resolvedPath); !bytes.Equal(now, first) {
		t.Errorf("a failed resolve changed dist/resolved.yaml:\n%s", now)
	}
	os.Remove(filepath.Join(dir, "deploy", "zz-more.yaml"))

	// Images only in files (no repository): every reference is an error naming what to set.
	out, err = run(t, dir, []string{"HELLO_VERSION=v1.2.3"}, "resolve")
	for _, w := range []string{"2 of 2 ko:// references cannot be resolved", "deploy/app.yaml:20: ko://example.com/hello is published nowhere a cluster can pull from", "deploy/tools/mage.yml:12", "no image.repo or KO_DOCKER_REPO is set"} {
		if err == nil || !strings.Contains(out, w) {
			t.Errorf("no registry: %v, output lacks %q:\n%s", err, w, out)
		}
	}
	if now, _ := os.ReadFile(resolvedPath); !bytes.Equal(now, first) {
		t.Errorf("a failed resolve changed dist/resolved.yaml")
	}
}

func equalSubs(a, b []artifacts.Substitution) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestResolveLocalDaemon is KO_DOCKER_REPO=ko.local: the references are the ones ko's daemon
// publisher gives (ko.local/<name>:<digest hex>), and docker runs them as written.
func TestResolveLocalDaemon(t *testing.T) {
	docker := testenv.Docker(t)
	dir := resolveProject(t)
	env := []string{"KO_DOCKER_REPO=ko.local", "SOURCE_DATE_EPOCH=1700000000", "HELLO_VERSION=v1.2.3"}
	out := mustRun(t, dir, env, "resolve")
	rec := record(t, dir)
	resolved, err := os.ReadFile(filepath.Join(dir, "dist", "resolved.yaml"))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	refs := map[string]string{}
	for _, img := range rec.Images {
		if img.Destination != "daemon" {
			continue
		}
		t.Cleanup(func() { testenv.Output(docker, "rmi", img.Ref) })
		if want := "ko.local/" + img.Name + ":" + strings.TrimPrefix(img.Digest, "sha256:"); img.Ref != want {
			t.Errorf("%s: recorded %s, want %s", img.Name, img.Ref, want)
		}
		refs[img.Name] = img.Ref
		got := testenv.Run(t, docker, "run", "--rm", "--network", "none", img.Ref, "-version")
		if wantOut := map[string]string{"hello": "hello v1.2.3", "mage": "Mage Build Tool"}[img.Name]; !strings.Contains(got, wantOut) {
			t.Errorf("docker run %s -version: %q, want %q", img.Ref, got, wantOut)
		}
	}
	want := strings.Replace(appYAML, "image: ko://example.com/hello", "image: "+refs["hello"], 1) + "---\n" +
		strings.Replace(mageYAML, `"ko://github.com/magefile/mage"`, `"`+refs["mage"]+`"`, 1)
	if len(refs) != 2 || string(resolved) != want {
		t.Errorf("daemon images %v; resolved:\n%s\nwant:\n%s", refs, resolved, want)
	}
}
