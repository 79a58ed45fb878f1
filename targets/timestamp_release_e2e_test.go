package targets_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// TestReleaseWithTimestampAuthority signs a release with a key and trusted time from a real
// sigstore timestamp-authority on 127.0.0.1 (sign.timestamp), against the trusted root a
// private Sigstore hands out (sign.trusted_root, a file in the project): Sign copies it to
// dist/trusted_root.json, verifySignatures requires the timestamps, and the commands of
// docs/sign.md's section run as printed with cosign v3 and v2.6.
func TestReleaseWithTimestampAuthority(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	cosign := testenv.Tool(t, "cosign")
	cosign3 := testenv.Tool(t, "cosign3")
	tsa := testenv.StartTSA(t)
	root, err := os.ReadFile(testenv.TrustedRoot{TSAs: []*testenv.TSA{tsa}}.Write(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := project(t, map[string]string{
		"sigstore/trusted_root.json": string(root),
		"scratchkit.yaml": `
platforms: [linux/amd64]
verify:
  vulncheck: off
smoke:
  runtime: none
sign:
  attest: [sbom, provenance]
  timestamp: ` + tsa.URL + `
  trusted_root: sigstore/trusted_root.json
`})
	env := []string{"DOCKER_CONFIG=" + reg.DockerConfig(t), "KO_DOCKER_REPO=" + reg.Host + "/team", "COSIGN_PASSWORD=pw"}
	mustRun(t, dir, env, "keygen")
	mustRun(t, dir, env, "release")
	rec := record(t, dir)
	if rec.TrustedRoot != "dist/trusted_root.json" {
		t.Fatalf("artifacts.json trusted_root = %q, want dist/trusted_root.json", rec.TrustedRoot)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "dist", "trusted_root.json")); !bytes.Equal(got, root) {
		t.Errorf("dist/trusted_root.json is not a copy of sign.trusted_root:\n%s", got)
	}
	mustRun(t, dir, env, "verifySignatures")

	index := ""
	for _, img := range rec.Images {
		if img.Destination == "registry" {
			index = img.Ref
		}
	}
	docs := docCommands(t, "## Trusted time: `sign.timestamp`")
	clis := map[string][]string{"cosign v3 and v2.6 alike": {cosign3, cosign}, "cosign v2.6's verify-blob": {cosign}}
	ran := 0
	for group, lines := range docs {
		for prefix, bins := range clis {
			if !strings.HasPrefix(group, prefix) {
				continue
			}
			for _, bin := range bins {
				for _, line := range lines {
					runDocCommand(t, bin, dir, env, line, index, "")
					ran++
				}
			}
		}
	}
	if ran != 3*2+1 {
		t.Errorf("ran %d of the docs' commands, want 7: docs/sign.md's section changed (%v)", ran, docs)
	}

	// A trusted root that names no timestamp authority: verifySignatures refuses, saying why.
	testenv.WriteFile(t, filepath.Join(dir, "sigstore", "trusted_root.json"), `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)
	out, err := run(t, dir, env, "verifySignatures")
	if err == nil || !strings.Contains(out, "threshold not met for verified signed timestamps") {
		t.Errorf("verifySignatures against a root naming no timestamp authority: %v\n%s", err, out)
	}
}
