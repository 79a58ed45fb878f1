package targets_test

// End-to-end tests: the targets driven by the real mage on a copy of examples/hello whose
// magefiles are their own module, as a user's would be, against the real docker-registry,
// dockerd, umoci, skopeo and cosign CLI (internal/testenv finds and starts them).

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// mage builds the mage CLI from this module's pinned version, once per test process.
func mage(t *testing.T) string {
	t.Helper()
	return testenv.GoBuild(t, testenv.GoProgram{Dir: ".", Pkg: "github.com/magefile/mage"})
}

// project makes a copy of the hello example with its own magefiles module pointing at this
// repository, and the given extra files (e.g. scratchkit.yaml). It returns the service directory.
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hello")
	testenv.CopyFiles(t, filepath.Join(testenv.ModuleRoot(t), "examples", "hello"), dir, "go.mod", "main.go")
	copyMagefiles(t, "hello", filepath.Join(dir, "magefiles"))
	for name, body := range files {
		testenv.WriteFile(t, filepath.Join(dir, name), body)
	}
	return dir
}

// copyMagefiles copies the magefiles module of examples/<example> to dir, its go.mod's replace
// pointing at this checkout.
func copyMagefiles(t *testing.T, example, dir string) {
	t.Helper()
	root := testenv.ModuleRoot(t)
	src := filepath.Join(root, "examples", example, "magefiles")
	testenv.CopyFiles(t, src, dir, "go.sum", "magefile.go")
	gomod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, filepath.Join(dir, "go.mod"), strings.Replace(string(gomod), "=> ../../..", "=> "+root, 1))
}

// mageCommand is mage running targets for the project from its magefiles module, in the tests'
// environment (plain output, no platforms or repository from the caller's), plus env.
func mageCommand(t *testing.T, dir string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(mage(t), append([]string{"-w", ".."}, args...)...)
	cmd.Dir = filepath.Join(dir, "magefiles")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "NO_COLOR=1", "SCRATCHKIT_PLATFORMS=", "KO_DOCKER_REPO=")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// run runs mage targets for the project and returns the combined output.
func run(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	out, err := mageCommand(t, dir, env, args...).CombinedOutput()
	return string(out), err
}

func mustRun(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := run(t, dir, env, args...)
	if err != nil {
		t.Fatalf("mage %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func record(t *testing.T, dir string) *artifacts.Artifacts {
	t.Helper()
	rec, err := artifacts.Load(filepath.Join(dir, "dist"))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestImageOffline is the main job on a fresh machine: no configuration, no registry, no network.
func TestImageOffline(t *testing.T) {
	dir := project(t, nil)
	out := mustRun(t, dir, []string{"SOURCE_DATE_EPOCH=1700000000"}, "image")
	for _, want := range []string{"Build", "Verify", "Image", "hello", "no builds configured: each main package of the module, named (binary and image) for its import path's last element: hello (example.com/hello)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	rec := record(t, dir)
	host := platform.MustParse("linux/" + runtime.GOARCH)
	if len(rec.Binaries) != 1 || rec.Binaries[0].Name != "hello" || rec.Binaries[0].Platform != host || !rec.Binaries[0].Verified {
		t.Fatalf("binaries: %+v", rec.Binaries)
	}
	bin := rec.Binaries[0]
	if got := testenv.FileSHA256(t, filepath.Join(dir, bin.Path)); got != bin.SHA256 || bin.Path != "dist/hello/linux_"+runtime.GOARCH+"/hello" {
		t.Errorf("recorded %s %s, file %s", bin.Path, bin.SHA256, got)
	}
	dests := map[string]artifacts.Image{}
	for _, img := range rec.Images {
		dests[img.Destination] = img
	}
	layout, tar := dests["layout"], dests["tarball"]
	if layout.Digest == "" || tar.Digest != layout.Digest || !strings.HasSuffix(tar.Ref, "hello.tar") {
		t.Fatalf("images: %+v", rec.Images)
	}
	if len(layout.Manifests) != 1 || layout.Manifests[0].Binary != bin.SHA256 {
		t.Errorf("the image does not pack the verified binary: %+v", layout.Manifests)
	}
	if layout.SBOM == "" {
		t.Error("no SBOM recorded")
	} else if data, err := os.ReadFile(filepath.Join(dir, layout.SBOM)); err != nil || !strings.Contains(string(data), `"spdxVersion": "SPDX-2.3"`) && !strings.Contains(string(data), `"spdxVersion":"SPDX-2.3"`) {
		t.Errorf("SBOM %s: %v", layout.SBOM, err)
	}

	// Two builds of the same commit give the same digest.
	mustRun(t, dir, []string{"SOURCE_DATE_EPOCH=1700000000"}, "image")
	again := record(t, dir)
	for _, img := range again.Images {
		if img.Digest != layout.Digest {
			t.Errorf("second build: %s digest %s, first %s", img.Destination, img.Digest, layout.Digest)
		}
	}

	// The layout unpacks with umoci to the verified binary.
	if os.Geteuid() == 0 {
		umoci := testenv.Tool(t, "umoci")
		bundle := filepath.Join(t.TempDir(), "bundle")
		testenv.Run(t, umoci, "unpack", "--image", filepath.Join(dir, "dist", "layout")+":hello:latest", bundle)
		if got := testenv.FileSHA256(t, filepath.Join(bundle, "rootfs", "ko-app", "hello")); got != bin.SHA256 {
			t.Errorf("umoci-unpacked binary %s, verified %s", got, bin.SHA256)
		}
	}

	// The tarball loads into docker and runs as nonroot with roots and zone data.
	docker := testenv.Docker(t)
	tarPath := filepath.Join(dir, "dist", "hello.tar")
	testenv.Run(t, docker, "load", "-i", tarPath)
	// Run it by image ID (its config digest), not by the ko.local/hello:latest tag another load may move.
	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	got := testenv.Run(t, docker, "run", "--rm", "--network", "none", id.String(), "-check", "all")
	for _, want := range []string{"tz: Europe/Berlin", "roots: ", "uid=65532"} {
		if !strings.Contains(got, want) {
			t.Errorf("docker run -check all: lacks %q:\n%s", want, got)
		}
	}
}

func TestConfigErrorNamesFileAndLine(t *testing.T) {
	dir := project(t, map[string]string{"scratchkit.yaml": "builds:\n  - main: .\n    linkage: dynamic\nplatfroms: [linux/amd64]\n"})
	out, err := run(t, dir, nil, "build")
	if err == nil {
		t.Fatalf("mage build succeeded with a bad scratchkit.yaml:\n%s", out)
	}
	for _, want := range []string{"scratchkit.yaml:3: builds[0].linkage", "scratchkit.yaml:4", `unknown key "platfroms"`, `did you mean "platforms"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "dist")); err == nil {
		t.Error("a failed configuration left a dist folder")
	}
}

func TestBuildCrossPlatformsAndReleaseBinaries(t *testing.T) {
	dir := project(t, map[string]string{"scratchkit.yaml": `
platforms: [linux/amd64, linux/arm64, linux/arm/v7, darwin/arm64, windows/amd64]
builds:
  - name: hello
    main: .
    ldflags: ["-X main.version={{.Version}}"]
version: v9.9.9
`})
	mustRun(t, dir, nil, "verify")
	rec := record(t, dir)
	want := map[string]string{
		"linux/amd64": "dist/hello/linux_amd64/hello", "linux/arm64": "dist/hello/linux_arm64/hello",
		"linux/arm/v7": "dist/hello/linux_arm_v7/hello", "darwin/arm64": "dist/hello/darwin_arm64/hello",
		"windows/amd64": "dist/hello/windows_amd64/hello.exe",
	}
	if len(rec.Binaries) != len(want) {
		t.Fatalf("binaries: %+v", rec.Binaries)
	}
	for _, b := range rec.Binaries {
		if want[b.Platform.String()] != b.Path || !b.Verified {
			t.Errorf("%s: path %s verified %v", b.Platform, b.Path, b.Verified)
		}
	}
	if rec.Version != "v9.9.9" {
		t.Errorf("version %q", rec.Version)
	}
}

func TestVerifyFilesCatchesDynamicBinary(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		testenv.Missing(t, "gcc is not installed")
	}
	dir := project(t, nil)
	// A cgo build of the example asks for the dynamic loader.
	dyn := filepath.Join(dir, "dyn")
	cmd := exec.Command("go", "build", "-o", dyn, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cgo build: %v\n%s", err, out)
	}
	out, err := run(t, dir, nil, "verifyFiles", "dyn")
	if err == nil {
		t.Fatalf("verifyFiles passed a dynamic binary:\n%s", out)
	}
	for _, want := range []string{"ld-linux", "no such file or directory", "CGO_ENABLED=0"} {
		if !strings.Contains(out, want) {
			t.Errorf("diagnosis lacks %q:\n%s", want, out)
		}
	}
}

func TestCgoEnvironmentRefusedByBuild(t *testing.T) {
	dir := project(t, nil)
	out, err := run(t, dir, []string{"CGO_ENABLED=1"}, "build")
	if err == nil || !strings.Contains(out, "CGO_ENABLED=1") || !strings.Contains(out, "linkage") {
		t.Fatalf("CGO_ENABLED=1 in the environment: %v\n%s", err, out)
	}
}

func unmarshal(t *testing.T, data string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
}

// TestReleaseToAuthRegistry is the whole pipeline against a real registry with htpasswd auth:
// two platforms pushed, read back by skopeo, smoke-tested, signed, and verified by the cosign CLI.
func TestReleaseToAuthRegistry(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{User: "ci", Password: "s3cret-pw"})
	dockerConfig := reg.DockerConfig(t)
	testenv.Docker(t)
	cosign := testenv.Tool(t, "cosign")
	cosign3 := testenv.Tool(t, "cosign3")
	skopeo := testenv.Tool(t, "skopeo")
	dir := project(t, map[string]string{"scratchkit.yaml": `
platforms: [linux/amd64, linux/arm64]
builds:
  - name: hello
    main: .
    ldflags: ["-X main.version={{.Version}}"]
version: v1.0.0
image:
  tags: [v1.0.0, latest]
  args: ["-addr", ":8080"]
smoke:
  images:
    hello:
      exit: {args: ["-version"], output: "^hello v1.0.0"}
      http: {port: 8080, path: /healthz}
sign:
  recursive: true
`})
	// A CI checkout: the clone URL carries the job's token, which must reach no manifest.
	const token = "glcbt-64_SECRETTOKEN"
	gitInit(t, dir, "https://gitlab-ci-token:"+token+"@gitlab.example.com/group/project.git")
	repo := reg.Host + "/team"
	env := []string{"DOCKER_CONFIG=" + dockerConfig, "KO_DOCKER_REPO=" + repo, "COSIGN_PASSWORD=key-pw", "SOURCE_DATE_EPOCH=1700000000"}
	mustRun(t, dir, env, "keygen")
	out := mustRun(t, dir, env, "release")
	for _, want := range []string{"Smoke", "Sign", "Release v1.0.0", "signature", "attestation"} {
		if !strings.Contains(out, want) {
			t.Errorf("release output lacks %q", want)
		}
	}
	if strings.Contains(out, "key-pw") || strings.Contains(out, "s3cret-pw") {
		t.Error("a password appears in the output")
	}
	rec := record(t, dir)
	var img artifacts.Image
	for _, i := range rec.Images {
		if i.Destination == "registry" {
			img = i
		}
	}
	if img.Ref != repo+"/hello@"+img.Digest || len(img.Platforms) != 2 {
		t.Fatalf("registry image: %+v", img)
	}
	// skopeo reads the index by digest: two platforms.
	raw := testenv.Run(t, skopeo, "inspect", "--raw", "--tls-verify=false", "--authfile", filepath.Join(dockerConfig, "config.json"), "docker://"+img.Ref)
	var index struct {
		Manifests []struct {
			Platform struct{ Architecture string }
		}
	}
	unmarshal(t, raw, &index)
	if len(index.Manifests) != 2 {
		t.Errorf("index has %d manifests: %s", len(index.Manifests), raw)
	}
	if !strings.Contains(raw, `"org.opencontainers.image.source":"https://gitlab.example.com/group/project"`) {
		t.Errorf("the index does not name the source without credentials: %s", raw)
	}
	noSecretStored(t, reg.Dir, token)
	if data, _ := os.ReadFile(filepath.Join(dir, "dist", "artifacts.json")); strings.Contains(string(data), token) {
		t.Error("artifacts.json holds the clone URL's token")
	}
	// The tags point at the pushed digest.
	tagged := testenv.Run(t, skopeo, "inspect", "--tls-verify=false", "--authfile", filepath.Join(dockerConfig, "config.json"), "--format", "{{.Digest}}", "docker://"+repo+"/hello:v1.0.0")
	if strings.TrimSpace(tagged) != img.Digest {
		t.Errorf("tag v1.0.0 → %s, pushed %s", tagged, img.Digest)
	}
	// Smoke ran both platforms and both passed: the foreign one under this machine's
	// qemu-user-static, mounted into its container (the output says so).
	ran := 0
	for _, s := range rec.Smoke {
		if s.Passed && s.Ran && s.Runtime != "" {
			ran++
		}
	}
	if ran != 2 {
		t.Errorf("smoke runs %+v, want both platforms run and passed", rec.Smoke)
	}
	if !strings.Contains(out, "run under emulation") {
		t.Errorf("the release output does not say the foreign platform ran under emulation:\n%s", out)
	}
	// Signatures of the index and both platform manifests, SBOM and provenance attestations, and
	// signed checksums, in both formats (the default): cosign's tags and Sigstore bundles, which
	// this registry (no referrers API) lists under the fallback tag.
	byFormat := map[string][]artifacts.Signature{}
	for _, s := range append(append([]artifacts.Signature(nil), rec.Signatures...), rec.Attestations...) {
		byFormat[s.Format] = append(byFormat[s.Format], s)
		if s.Format == "bundle" && (s.FallbackTag == "" || !strings.HasPrefix(s.Ref, repo+"/hello@sha256:")) {
			t.Errorf("bundle recorded as %+v: want its referrer manifest and the fallback tag listing it", s)
		}
	}
	if len(rec.Signatures) != 6 || len(rec.Attestations) < 4 || len(byFormat["bundle"]) != len(byFormat["legacy"]) ||
		rec.Checksums == nil || rec.Checksums.Bundle != "dist/SHA256SUMS.sigstore.json" || rec.Checksums.Signature != "dist/SHA256SUMS.sig" {
		t.Fatalf("signatures %d, attestations %d, by format %v, checksums %+v", len(rec.Signatures), len(rec.Attestations), byFormat, rec.Checksums)
	}
	cosignEnv := append(os.Environ(), "DOCKER_CONFIG="+dockerConfig)
	cosignRun := func(bin string, args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, cosignEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
		}
	}
	// cosign v3 with its default flags and cosign v2.6.5 (which finds the bundles itself and,
	// offline, wants the trusted root Sign wrote) read the bundles.
	flags := func(bin string) []string {
		if bin == cosign {
			return []string{"--key", "cosign.pub", "--insecure-ignore-tlog", "--trusted-root", rec.TrustedRoot}
		}
		return []string{"--key", "cosign.pub", "--insecure-ignore-tlog"}
	}
	for _, bin := range []string{cosign, cosign3} {
		cosignRun(bin, append([]string{"verify"}, append(flags(bin), img.Ref)...)...)
		cosignRun(bin, append([]string{"verify-attestation"}, append(flags(bin), "--type", "spdxjson", img.Ref)...)...)
		cosignRun(bin, append([]string{"verify-attestation"}, append(flags(bin), "--type", "slsaprovenance1", img.Ref)...)...)
	}
	cosignRun(cosign, "verify-blob", "--key", "cosign.pub", "--insecure-ignore-tlog", "--signature", "dist/SHA256SUMS.sig", "dist/SHA256SUMS")
	cosignRun(cosign3, "verify-blob", "--key", "cosign.pub", "--insecure-ignore-tlog", "--bundle", "dist/SHA256SUMS.sigstore.json", "dist/SHA256SUMS")
	// Each platform manifest carries the SBOM and provenance of its own binary, the index an SBOM
	// naming every platform's binary and a provenance of the whole build; cosign v2 and v3 find
	// them in the bundles.
	attested := func(bin, typ, ref string) []map[string]any {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"verify-attestation"}, append(flags(bin), "--type", typ, ref)...)...)
		cmd.Dir, cmd.Env = dir, cosignEnv
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s verify-attestation --type %s %s: %v\n%s", filepath.Base(bin), typ, ref, err, stderr.String())
		}
		var preds []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var env struct{ Payload []byte }
			var st struct {
				Type      string `json:"_type"`
				Predicate map[string]any
			}
			if json.Unmarshal([]byte(line), &env) != nil || json.Unmarshal(env.Payload, &st) != nil || st.Type != "https://in-toto.io/Statement/v1" {
				t.Fatalf("%s printed no in-toto Statement v1: %s", filepath.Base(bin), line)
			}
			preds = append(preds, st.Predicate)
		}
		return preds
	}
	repoOf := strings.SplitN(img.Ref, "@", 2)[0]
	for _, bin := range []string{cosign, cosign3} {
		for _, m := range img.Manifests {
			arch := m.Platform.Arch
			for _, pred := range attested(bin, "spdxjson", repoOf+"@"+m.Digest) {
				sbom, _ := json.Marshal(pred)
				if !strings.Contains(string(sbom), m.Binary) || !strings.Contains(string(sbom), "GOARCH="+arch) {
					t.Errorf("%s: the SBOM attested at %s %s names neither its binary %s nor GOARCH=%s:\n%.600s", filepath.Base(bin), m.Platform, m.Digest, m.Binary, arch, sbom)
				}
				for _, other := range img.Manifests {
					if other.Binary != m.Binary && strings.Contains(string(sbom), other.Binary) {
						t.Errorf("%s: the SBOM attested at %s names the %s binary", filepath.Base(bin), m.Platform, other.Platform)
					}
				}
			}
			for _, pred := range attested(bin, "slsaprovenance1", repoOf+"@"+m.Digest) {
				var p struct {
					BuildDefinition struct {
						ExternalParameters struct {
							Config struct {
								Platform string
								Binary   struct{ SHA256 string }
								Settings map[string]string
							}
						}
					}
				}
				raw, _ := json.Marshal(pred)
				_ = json.Unmarshal(raw, &p)
				c := p.BuildDefinition.ExternalParameters.Config
				if c.Platform != m.Platform.String() || c.Binary.SHA256 != m.Binary || c.Settings["GOARCH"] != arch {
					t.Errorf("%s: the provenance attested at %s says platform %q, binary %q, GOARCH %q", filepath.Base(bin), m.Platform, c.Platform, c.Binary.SHA256, c.Settings["GOARCH"])
				}
			}
		}
		for _, pred := range attested(bin, "spdxjson", img.Ref) {
			sbom, _ := json.Marshal(pred)
			for _, m := range img.Manifests {
				if !strings.Contains(string(sbom), m.Binary) || !strings.Contains(string(sbom), strings.TrimPrefix(m.Digest, "sha256:")) {
					t.Errorf("%s: the index SBOM does not name the %s image and binary:\n%.600s", filepath.Base(bin), m.Platform, sbom)
				}
			}
		}
		for _, pred := range attested(bin, "slsaprovenance1", img.Ref) {
			raw, _ := json.Marshal(pred)
			var p struct {
				BuildDefinition struct {
					ExternalParameters struct {
						Config map[string]any
					}
				}
			}
			_ = json.Unmarshal(raw, &p)
			c := p.BuildDefinition.ExternalParameters.Config
			if builds, _ := c["builds"].([]any); len(builds) != len(img.Manifests) || c["settings"] != nil {
				t.Errorf("%s: the index provenance has builds %v and settings %v; want one build per platform, no settings of one", filepath.Base(bin), c["builds"], c["settings"])
			}
		}
	}
	platformSBOMs := 0
	for _, a := range rec.Attestations {
		if !a.Platform.IsZero() && a.PredicateType == "https://spdx.dev/Document" {
			platformSBOMs++
			if a.SBOM == "" || !strings.Contains(a.SBOM, strings.ReplaceAll(a.Platform.String(), "/", "-")) {
				t.Errorf("the %s SBOM attestation records SBOM %q", a.Platform, a.SBOM)
			}
		}
	}
	if platformSBOMs != 2*len(img.Manifests) {
		t.Errorf("%d platform SBOM attestations recorded, want %d (each platform, each format)", platformSBOMs, 2*len(img.Manifests))
	}

	vout := mustRun(t, dir, env, "verifySignatures")
	for _, want := range []string{"signature, bundle format", "signature, legacy format", "attestation spdxjson, bundle format", "SHA256SUMS signed, bundle format"} {
		if !strings.Contains(vout, want) {
			t.Errorf("verifySignatures does not say %q:\n%s", want, vout)
		}
	}

	// Wrong registry credentials: a clear sentence, the tag is not moved, and the SBOM that Sign
	// would attest is not replaced by the unpushed image's (the binary changes: a new version).
	sbomBefore, err := os.ReadFile(filepath.Join(dir, img.SBOM))
	if err != nil {
		t.Fatal(err)
	}
	bad := testenv.Registry{Host: reg.Host, User: "ci", Password: "wrong"}
	badEnv := append(append([]string(nil), env...), "DOCKER_CONFIG="+bad.DockerConfig(t), "SCRATCHKIT_VERSION=v2.0.0")
	out, err = run(t, dir, badEnv, "image")
	if err == nil || !strings.Contains(out, reg.Host) || !strings.Contains(strings.ToLower(out), "credentials") {
		t.Errorf("bad credentials: %v\n%s", err, out)
	}
	if sbomAfter, _ := os.ReadFile(filepath.Join(dir, img.SBOM)); string(sbomAfter) != string(sbomBefore) {
		t.Errorf("a failed push rewrote %s: it no longer describes the pushed %s", img.SBOM, img.Digest)
	}

	tagged = testenv.Run(t, skopeo, "inspect", "--tls-verify=false", "--authfile", filepath.Join(dockerConfig, "config.json"), "--format", "{{.Digest}}", "docker://"+repo+"/hello:latest")
	if strings.TrimSpace(tagged) != img.Digest {
		t.Errorf("a failed push moved :latest to %s", tagged)
	}
}

// TestSmokeCatchesScratchPitfalls images the example on scratch: the static checks find no CA
// roots and no zone data, and the run of -check tz fails with the diagnosis.
func TestSmokeCatchesScratchPitfalls(t *testing.T) {
	testenv.Docker(t)
	dir := project(t, map[string]string{"scratchkit.yaml": `
image:
  base: scratch
smoke:
  images:
    hello:
      exit: {args: ["-check", "tz"]}
`})
	out, err := run(t, dir, nil, "smoke")
	if err == nil {
		t.Fatalf("smoke passed an image on scratch that needs roots and zone data:\n%s", out)
	}
	for _, want := range []string{"ca-roots", "x509: certificate signed by unknown authority", "zoneinfo", "unknown time zone"} {
		if !strings.Contains(out, want) {
			t.Errorf("smoke output lacks %q:\n%s", want, out)
		}
	}
	rec := record(t, dir)
	if len(rec.Smoke) == 0 || rec.Smoke[0].Passed {
		t.Errorf("smoke record: %+v", rec.Smoke)
	}
}

// TestPipelineExample runs examples/pipeline: a team's magefile that runs its own tests, then
// pushes to two registries, smoke-tests and signs, through scratchkit's public API only.
func TestPipelineExample(t *testing.T) {
	testenv.Docker(t)
	cosign := testenv.Tool(t, "cosign")
	primary := testenv.StartRegistry(t, testenv.RegistryOptions{})
	mirror := testenv.StartRegistry(t, testenv.RegistryOptions{})
	dir := project(t, nil)
	pipeline := filepath.Join(t.TempDir(), "pipeline", "magefiles")
	copyMagefiles(t, "pipeline", pipeline)
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "NO_COLOR=1", "COSIGN_PASSWORD=pw", "KO_DOCKER_REPO=", "SCRATCHKIT_PLATFORMS=",
		"PRIMARY_REPO="+primary.Host+"/team", "MIRROR_REPO="+mirror.Host+"/mirror")
	mageIn := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(mage(t), append([]string{"-w", dir}, args...)...)
		cmd.Dir, cmd.Env = pipeline, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mage %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	mageIn("sk:keygen")
	mageIn("ship")
	rec := record(t, dir)
	var refs []string
	for _, img := range rec.Images {
		if img.Destination == "registry" {
			refs = append(refs, img.Ref)
		}
	}
	if len(refs) != 2 || strings.Split(refs[0], "@")[1] != strings.Split(refs[1], "@")[1] {
		t.Fatalf("want the same digest in two registries, got %v", refs)
	}
	for _, ref := range refs {
		// cosign v2.6.5 finds the bundles and, offline, checks them against the trusted root Sign wrote.
		cmd := exec.Command(cosign, "verify", "--key", "cosign.pub", "--insecure-ignore-tlog", "--trusted-root", rec.TrustedRoot, ref)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("cosign verify %s: %v\n%s", ref, err, out)
		}
	}
	if len(rec.Smoke) == 0 || !rec.Smoke[0].Passed {
		t.Errorf("smoke: %+v", rec.Smoke)
	}
}

// TestPerPlatformThenIndex builds each platform as its own runner would (image.per_platform), then
// joins the platform images into one tagged index with mage index, and signs it without rebuilding.
func TestPerPlatformThenIndex(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	skopeo := testenv.Tool(t, "skopeo")
	dir := project(t, nil)
	repo := reg.Host + "/team"
	var records []string
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		dist := "dist-" + strings.ReplaceAll(p, "/", "-")
		mustRun(t, dir, []string{"KO_DOCKER_REPO=" + repo, "SCRATCHKIT_IMAGE_PER_PLATFORM=true", "SCRATCHKIT_PLATFORMS=" + p, "SCRATCHKIT_DIST=" + dist}, "image")
		records = append(records, dist+"/artifacts.json")
		rec, err := artifacts.Load(filepath.Join(dir, dist))
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Images) != 1 || rec.Images[0].Destination != "registry-platform" || len(rec.Images[0].Tags) != 0 {
			t.Fatalf("%s: %+v", p, rec.Images)
		}
	}
	// No tag exists before the index is made.
	if out, err := testenv.Output(skopeo, "inspect", "--tls-verify=false", "docker://"+repo+"/hello:latest"); err == nil {
		t.Fatalf("a per-platform push created a tag:\n%s", out)
	}
	mustRun(t, dir, []string{"KO_DOCKER_REPO=" + repo}, "index", strings.Join(records, " "))
	rec := record(t, dir)
	if len(rec.Images) != 1 || len(rec.Images[0].Platforms) != 2 {
		t.Fatalf("index record: %+v", rec.Images)
	}
	raw := testenv.Run(t, skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+repo+"/hello:latest")
	var index struct {
		MediaType string
		Manifests []struct{ Platform struct{ Architecture string } }
	}
	unmarshal(t, raw, &index)
	if len(index.Manifests) != 2 || index.Manifests[0].Platform.Architecture != "amd64" || index.Manifests[1].Platform.Architecture != "arm64" {
		t.Errorf("index: %s", raw)
	}
	// Signing what the record holds does not build or push anything again.
	out := mustRun(t, dir, []string{"KO_DOCKER_REPO=" + repo, "COSIGN_PASSWORD=pw"}, "keygen", "signRecorded")
	if strings.Contains(out, "Build") {
		t.Errorf("signRecorded rebuilt:\n%s", out)
	}
	rec = record(t, dir)
	if len(rec.Signatures) != 2 || rec.Signatures[0].Subject != rec.Images[0].Ref || rec.Signatures[1].Subject != rec.Images[0].Ref {
		t.Errorf("signatures: %+v, want the index's in both formats", rec.Signatures)
	}
	// The platform SBOMs the platform runs wrote are attested at their platform manifests; the
	// index gets its own.
	sboms := map[string]string{}
	for _, a := range rec.Attestations {
		if a.PredicateType == "https://spdx.dev/Document" && a.Format == "legacy" {
			sboms[a.Platform.String()] = a.SBOM
		}
	}
	if sboms[""] != "dist/sbom/hello-index.spdx.json" || sboms["linux/amd64"] != "dist-linux-amd64/sbom/hello-linux-amd64.spdx.json" ||
		sboms["linux/arm64"] != "dist-linux-arm64/sbom/hello-linux-arm64.spdx.json" {
		t.Errorf("SBOM attestations: %v", sboms)
	}
}

// TestSmokeProbesForUnknownImage: probes written for an image name that does not exist are an
// error naming the key, not probes silently never run.
func TestSmokeProbesForUnknownImage(t *testing.T) {
	dir := project(t, map[string]string{"scratchkit.yaml": "smoke:\n  runtime: none\n  images:\n    helo:\n      exit: {args: [-version]}\n"})
	out, err := run(t, dir, nil, "smoke")
	if err == nil || !strings.Contains(out, "scratchkit.yaml:4: smoke.images.helo") || !strings.Contains(out, "hello") {
		t.Fatalf("unknown image in smoke.images: %v\n%s", err, out)
	}
}

// gitInit makes dir a git checkout with one commit and the given origin URL.
func gitInit(t *testing.T, dir, origin string) {
	t.Helper()
	for _, args := range [][]string{
		{"init", "-q"}, {"remote", "add", "origin", origin}, {"add", "-A"},
		{"-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-q", "-m", "init"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// noSecretStored fails t if any blob in a docker-registry's storage holds secret, as is or in
// the base64 payload of a DSSE envelope (attestations).
func noSecretStored(t *testing.T, storage, secret string) {
	t.Helper()
	blobs := 0
	err := filepath.WalkDir(storage, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "data" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		blobs++
		if strings.Contains(string(data), secret) {
			t.Errorf("registry blob %s holds the secret", p)
		}
		var env struct{ Payload []byte }
		if json.Unmarshal(data, &env) == nil && strings.Contains(string(env.Payload), secret) {
			t.Errorf("registry blob %s (a DSSE envelope) holds the secret in its payload", p)
		}
		return nil
	})
	if err != nil || blobs == 0 {
		t.Fatalf("read registry storage %s: %v (%d blobs)", storage, err, blobs)
	}
}

// TestSmokeFitsRealServer: a server that keeps state in its home directory fails smoke under the
// read-only root, the diagnosis naming the path and the setting; with the home directory as a
// tmpfs (and the environment and probes it needs) it passes. Of two platforms, the one this
// machine cannot run is recorded as not run, never as passed, and the output says so.
func TestSmokeFitsRealServer(t *testing.T) {
	testenv.Docker(t)
	server, err := os.ReadFile(filepath.Join("testdata", "homeserver", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	dir := project(t, map[string]string{"main.go": string(server), "scratchkit.yaml": `
platforms: [linux/amd64, linux/arm64]
builds:
  - name: hello
    main: .
image:
  args: ["-addr", ":8080"]
smoke:
  runtime: docker
  emulation: off
  env: [STATE_NAME=e2e]
  images:
    hello:
      http: {port: 8080, path: /healthz}
      probes:
        - http: {port: 8080, path: /healthz, status: 200, body: "^ok e2e\n$", host: hello.example}
`})
	out, err := run(t, dir, nil, "smoke")
	if err == nil {
		t.Fatalf("smoke passed a server that writes to its home directory under a read-only root:\n%s", out)
	}
	for _, want := range []string{"mkdir /home/nonroot/.local: read-only file system", "smoke.tmpfs: [/home/nonroot]"} {
		if !strings.Contains(out, want) {
			t.Errorf("smoke output lacks %q:\n%s", want, out)
		}
	}

	out = mustRun(t, dir, []string{"SCRATCHKIT_SMOKE_TMPFS=/home/nonroot"}, "smoke")
	for _, want := range []string{"writable tmpfs /home/nonroot (64.0 MiB)", "probe http probes[0]", "answered 200"} {
		if !strings.Contains(out, want) {
			t.Errorf("smoke output lacks %q:\n%s", want, out)
		}
	}
	host, foreign := "linux/"+runtime.GOARCH, "linux/arm64"
	if runtime.GOARCH == "arm64" {
		foreign = "linux/amd64"
	}
	rec := record(t, dir)
	seen := map[string]int{}
	for _, s := range rec.Smoke {
		seen[s.Platform.String()]++
		switch s.Platform.String() {
		case host:
			if !s.Ran || !s.Passed || s.Runtime != "docker" || len(s.Checks) > 0 {
				t.Errorf("host platform record: %+v, want ran and passed with docker", s)
			}
		case foreign:
			if qemuRegistered(strings.TrimPrefix(foreign, "linux/")) {
				continue
			}
			if s.Ran || s.Passed || s.Runtime != "" || !strings.Contains(s.Reason, "foreign platform") || len(s.Checks) > 0 {
				t.Errorf("foreign platform record: %+v, want ran false, passed false, the reason, no failed check", s)
			}
			if !strings.Contains(out, foreign+": NOT RUN, statically checked only") || !strings.Contains(out, foreign+" only statically checked, not run") {
				t.Errorf("the smoke output does not say %s was not run:\n%s", foreign, out)
			}
		default:
			t.Errorf("record of platform %s", s.Platform)
		}
	}
	// The layout's index has both platforms; the tarball holds the host's alone.
	if seen[host] == 0 || seen[foreign] != 1 {
		t.Errorf("smoke records per platform %v: %+v", seen, rec.Smoke)
	}
	data, err := os.ReadFile(filepath.Join(dir, "dist", "artifacts.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"ran": false`) {
		t.Errorf("artifacts.json has no \"ran\": false:\n%s", data)
	}
}

// qemuRegistered reports whether a qemu binfmt_misc handler runs arch's binaries on this machine,
// which lets smoke run that platform too.
func qemuRegistered(arch string) bool {
	name := map[string]string{"amd64": "qemu-x86_64", "arm64": "qemu-aarch64"}[arch]
	data, err := os.ReadFile("/proc/sys/fs/binfmt_misc/" + name)
	if err != nil {
		return false
	}
	enabled, fixed := false, false
	for _, l := range strings.Split(string(data), "\n") {
		enabled = enabled || l == "enabled"
		if f, ok := strings.CutPrefix(l, "flags: "); ok && strings.Contains(f, "F") {
			fixed = true
		}
	}
	return enabled && fixed
}

// secretFiles are files of each kind secret scanners name, which no build context may carry.
var secretFiles = []string{
	".env", "config/.env.production", "deploy/app.env", "certs/server.pem", "tls.crt", "store.p12", "release.jks",
	"id_rsa", ".ssh/id_ed25519", ".netrc", ".git-credentials", ".docker/config.json", ".aws/credentials",
	".config/gcloud/application_default_credentials.json", "gcp-service-account.json", ".azure/accessTokens.json",
	".kube/config", "deploy/kubeconfig", ".npmrc", ".pypirc", "infra/terraform.tfstate",
}

// TestDockerfileContextHoldsNoKey: mage dockerfile extends the project's .dockerignore so that the
// build context docker sends — built here by the real daemon from a FROM scratch Dockerfile that
// copies the whole context, which needs no pull — holds no key, no secret file of any kind, no dist
// and no .git, and still everything the build needs (an example env file among it); a signing key
// the file cannot keep out is refused before anything is written.
func TestDockerfileContextHoldsNoKey(t *testing.T) {
	docker := testenv.Docker(t)
	files := map[string]string{
		"scratchkit.yaml":              "dockerfile:\n  builder: golang:1.26.8-bookworm\nsign:\n  key: keys/release.pem\n",
		".dockerignore":                "node_modules\n",
		"cosign.key":                   "encrypted cosign private key",
		"cosign.pub":                   "public key",
		"keys/release.pem":             "a signing key by another name",
		"internal/tls/srv.key":         "a TLS key",
		"dist/hello/linux_amd64/hello": "a built binary",
		"dist/artifacts.json":          "{}",
		".env.example":                 "PORT=8080\n",
	}
	for _, f := range secretFiles {
		files[f] = "a secret"
	}
	dir := project(t, files)
	gitInit(t, dir, "https://example.com/hello.git")
	out := mustRun(t, dir, nil, "dockerfile")
	if !strings.Contains(out, "wrote .dockerignore") {
		t.Errorf("output does not say .dockerignore was written:\n%s", out)
	}
	ignore, err := os.ReadFile(filepath.Join(dir, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(ignore), "node_modules\n") {
		t.Errorf("the project's own .dockerignore lines are gone:\n%s", ignore)
	}

	// The context as docker sends it: the legacy builder reads .dockerignore like BuildKit.
	probe := filepath.Join(t.TempDir(), "Dockerfile")
	testenv.WriteFile(t, probe, "FROM scratch\nCOPY . /ctx/\n")
	tag := "scratchkit-e2e-context:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	cmd := exec.Command(docker, "build", "--quiet", "--file", probe, "--tag", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build of the context: %v\n%s", err, b)
	}
	t.Cleanup(func() { exec.Command(docker, "rmi", "--force", tag).Run() })
	saved := filepath.Join(t.TempDir(), "context.tar")
	testenv.Run(t, docker, "save", "--output", saved, tag)
	img, err := tarball.ImageFromPath(saved, nil)
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]bool{}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			sent[strings.TrimPrefix(strings.TrimSuffix(h.Name, "/"), "ctx/")] = true
		}
		rc.Close()
	}
	for _, need := range []string{"go.mod", "main.go", "scratchkit.yaml", "Dockerfile", "cosign.pub", ".env.example"} {
		if !sent[need] {
			t.Errorf("the build context lacks %s, which the build may need", need)
		}
	}
	for f := range sent {
		if strings.HasSuffix(f, ".key") || f == "keys/release.pem" || f == "dist" || strings.HasPrefix(f, "dist/") || f == ".git" || strings.HasPrefix(f, ".git/") || slices.Contains(secretFiles, f) {
			t.Errorf("the build context holds %s", f)
		}
	}

	// A key docker would read as a comment line cannot be ignored by name: refused, nothing written.
	testenv.WriteFile(t, filepath.Join(dir, "#release"), "a key with an awkward name")
	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), "dockerfile:\n  builder: golang:1.26.8-bookworm\nsign:\n  key: \"#release\"\n")
	before, _ := os.ReadFile(filepath.Join(dir, ".dockerignore"))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(filepath.Join(dir, "Dockerfile")))
	out, err = run(t, dir, nil, "dockerfile")
	if err == nil || !strings.Contains(out, "the signing key #release") || !strings.Contains(out, "nothing was written") {
		t.Errorf("a key the context cannot keep out: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, ".dockerignore")); string(after) != string(before) {
		t.Error("the refused run changed .dockerignore")
	}
	if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err == nil {
		t.Error("the refused run wrote a Dockerfile")
	}
}

// Forgetting -w .. runs scratchkit in the magefiles module, which has no main package: the error
// says to add -w .., not to configure builds there.
func TestForgottenWorkingDirectory(t *testing.T) {
	dir := project(t, nil)
	cmd := mageCommand(t, dir, nil, "build")
	cmd.Args = append([]string{cmd.Args[0]}, "build") // no -w ..
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "is a magefiles module") || !strings.Contains(string(out), "-w ..") || strings.Contains(string(out), "add builds:") {
		t.Errorf("mage build without -w ..: %v\n%s", err, out)
	}
}

// cgoLookup is a service whose C code looks a host up with getaddrinfo.
const cgoLookup = `package main

/*
#include <netdb.h>
static int lookup(const char *h) { struct addrinfo *r; return getaddrinfo(h, "80", 0, &r); }
*/
import "C"

import "fmt"

func main() { fmt.Println(C.lookup(C.CString("localhost"))) }
`

// A cgo-static build against glibc whose C code calls getaddrinfo: Build shows the linker's
// warning, and Verify fails the nss check naming the function, with the fix; the same service
// linked against musl passes.
func TestCgoStaticGlibcNSS(t *testing.T) {
	testenv.Tool(t, "gcc")
	testenv.Tool(t, "musl-gcc")
	if runtime.GOARCH != "amd64" {
		t.Skip("musl-gcc targets amd64 here")
	}
	dir := project(t, map[string]string{
		"main.go":         cgoLookup,
		"scratchkit.yaml": "builds:\n  - name: lookup\n    main: .\n    linkage: cgo-static\n    cc: gcc\n",
	})
	out, err := run(t, dir, nil, "verify")
	if err == nil || !strings.Contains(out, "warning: Using 'getaddrinfo' in statically linked applications requires at runtime the shared libraries") ||
		!strings.Contains(out, "FAIL nss") || !strings.Contains(out, "netgo,osusergo") {
		t.Errorf("glibc: %v\n%s", err, out)
	}
	if b := record(t, dir).Binaries[0]; strings.Join(b.GlibcRuntime, ",") != "getaddrinfo" {
		t.Errorf("recorded glibc_runtime %v, want getaddrinfo", b.GlibcRuntime)
	}
	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), "builds:\n  - name: lookup\n    main: .\n    linkage: cgo-static\n    cc: musl-gcc\n")
	if out, err := run(t, dir, nil, "verify"); err != nil || strings.Contains(out, "FAIL nss") {
		t.Errorf("musl: %v\n%s", err, out)
	}
}
