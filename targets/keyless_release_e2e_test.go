package targets_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// TestReleaseKeylessLocalSigstore signs a release keyless against a local Sigstore (Fulcio
// trusting a GitHub-Actions-like OIDC issuer, Rekor v2, a timestamp authority) named by the
// deployment's signing config and trusted root (sign.signing_config, sign.trusted_root), with
// the token in SIGSTORE_ID_TOKEN; verifySignatures checks the signer's identity and issuer, the
// commands of docs/sign.md's section run as printed with cosign v3 and v2.6, and the token
// appears in no output and no file of the release.
func TestReleaseKeylessLocalSigstore(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	cosign := testenv.Tool(t, "cosign")
	cosign3 := testenv.Tool(t, "cosign3")
	gh := testenv.StartOIDCIssuer(t, testenv.IssuerGitHub)
	fulcio := testenv.StartFulcio(t, gh)
	rekor := testenv.StartRekor(t)
	tsa := testenv.StartTSA(t)
	root, err := os.ReadFile(testenv.TrustedRoot{Fulcios: []*testenv.Fulcio{fulcio}, Rekors: []*testenv.Rekor{rekor}, TSAs: []*testenv.TSA{tsa}}.Write(t))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := os.ReadFile(testenv.SigningConfig{Fulcio: fulcio, Issuer: gh, Rekor: rekor, TSA: tsa}.Write(t))
	if err != nil {
		t.Fatal(err)
	}
	const identity = "https://github.com/acme/hello/.github/workflows/release.yml@refs/heads/main" // as docs/sign.md prints it
	if gh.Identity() != identity {
		t.Fatalf("the test issuer's identity is %s, docs/sign.md's %s", gh.Identity(), identity)
	}
	dir := project(t, map[string]string{
		"sigstore/trusted_root.json":   string(root),
		"sigstore/signing_config.json": string(sc),
		"scratchkit.yaml": `
platforms: [linux/amd64]
verify:
  vulncheck: off
smoke:
  runtime: none
sign:
  keyless: true
  format: bundle
  attest: [sbom, provenance]
  signing_config: sigstore/signing_config.json
  trusted_root: sigstore/trusted_root.json
  identity: ` + identity + `
  oidc_issuer: ` + gh.URL + `
`})
	token := gh.Token(t, nil)
	env := []string{"DOCKER_CONFIG=" + reg.DockerConfig(t), "KO_DOCKER_REPO=" + reg.Host + "/team", "SIGSTORE_ID_TOKEN=" + token}
	// The machine's HOME: a fresh one would make the engine and the go build cache cold.
	out := mustRun(t, dir, env, "release")
	if !strings.Contains(out, "Rekor v2 "+rekor.URL) {
		t.Errorf("Sign does not say it used the signing config's Rekor v2:\n%s", out)
	}
	rec := record(t, dir)
	if rec.TrustedRoot != "dist/trusted_root.json" || len(rec.Signatures) == 0 || rec.Checksums == nil || rec.Checksums.Bundle == "" {
		t.Fatalf("artifacts.json: trusted_root %q, %d signatures, checksums %+v", rec.TrustedRoot, len(rec.Signatures), rec.Checksums)
	}
	out += mustRun(t, dir, env, "verifySignatures")

	// The token: in no output, in no file of the release.
	if strings.Contains(out, token) {
		t.Error("the identity token appears in the output")
	}
	_ = filepath.WalkDir(filepath.Join(dir, "dist"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if data, _ := os.ReadFile(p); bytes.Contains(data, []byte(token)) {
				t.Errorf("the identity token is in %s", p)
			}
		}
		return nil
	})

	// Another identity: verifySignatures refuses, naming the one it wanted.
	other := append(append([]string(nil), env...), "SCRATCHKIT_SIGN_IDENTITY=https://github.com/acme/hello/.github/workflows/other.yml@refs/heads/main")
	if out, err := run(t, dir, other, "verifySignatures"); err == nil || !strings.Contains(out, "verifies as signed by identity https://github.com/acme/hello/.github/workflows/other.yml@refs/heads/main") {
		t.Errorf("verifySignatures with another identity: %v\n%s", err, out)
	}

	index := ""
	for _, img := range rec.Images {
		if img.Destination == "registry" {
			index = img.Ref
		}
	}
	docs := docCommands(t, "## Keyless against a private Sigstore: `sign.signing_config`")
	lines := docs["cosign v3 and v2.6 alike, keyless against a private Sigstore"]
	if len(lines) != 4 || len(docs) != 1 {
		t.Fatalf("docs/sign.md's keyless section changed: %v", docs)
	}
	for _, bin := range []string{cosign3, cosign} {
		for _, line := range lines {
			// The test's issuer stands in for GitHub's, as the docs say.
			runDocCommand(t, bin, dir, env, strings.Replace(line, "https://token.actions.githubusercontent.com", gh.URL, 1), index, "")
		}
	}
}
