package targets_test

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// TestReleaseAttestsVulns is `mage release` of the example for two platforms against a real
// registry and a local database: each platform's manifest carries a vuln attestation of its own
// binary's check, which the cosign CLI verifies with --type vuln and mage verifySignatures
// checks; sign.attest asking for vuln where Verify recorded no check fails naming it.
func TestReleaseAttestsVulns(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	cosign := testenv.Tool(t, "cosign")
	dir := project(t, map[string]string{"scratchkit.yaml": `
platforms: [linux/amd64, linux/arm64]
smoke:
  runtime: none
`})
	repo := reg.Host + "/team"
	env := []string{"DOCKER_CONFIG=" + reg.DockerConfig(t), "KO_DOCKER_REPO=" + repo, "COSIGN_PASSWORD=pw", "SCRATCHKIT_VERIFY_VULNDB=" + helloVulnDB(t)}
	mustRun(t, dir, env, "keygen")
	out := mustRun(t, dir, env, "release")
	if !strings.Contains(out, "attestation vuln") {
		t.Errorf("release output lists no vuln attestation:\n%s", out)
	}
	rec := record(t, dir)
	var manifests []struct{ ref, platform string }
	for _, img := range rec.Images {
		if img.Destination == "registry" {
			for _, m := range img.Manifests {
				manifests = append(manifests, struct{ ref, platform string }{repo + "/hello@" + m.Digest, m.Platform})
			}
		}
	}
	if len(manifests) != 2 {
		t.Fatalf("registry image manifests: %+v", rec.Images)
	}
	for _, m := range manifests {
		recorded := false
		for _, a := range rec.Attestations {
			recorded = recorded || (a.Subject == m.ref && a.PredicateType == "https://cosign.sigstore.dev/attestation/vuln/v1")
		}
		if !recorded {
			t.Errorf("no vuln attestation of %s (%s) in artifacts.json: %+v", m.ref, m.platform, rec.Attestations)
		}
		cmd := testenv.Run(t, cosign, "verify-attestation", "--key", filepath.Join(dir, "cosign.pub"), "--insecure-ignore-tlog", "--allow-insecure-registry", "--type", "vuln", m.ref)
		pred := string(testenv.Predicate(t, cmd, "https://cosign.sigstore.dev/attestation/vuln/v1"))
		for _, want := range []string{`"platform":"` + m.platform + `"`, `"version":"2026-03-31T00:00:00Z"`, `"GO-2099-0101"`, `"net/http.Server.ListenAndServe"`, `"GO-2099-0102"`, `"uri":"pkg:golang/golang.org/x/vuln@`} {
			if !strings.Contains(pred, want) {
				t.Errorf("%s (%s): the vuln predicate lacks %s:\n%s", m.ref, m.platform, want, pred)
			}
		}
	}
	if out := mustRun(t, dir, env, "verifySignatures"); !strings.Contains(out, "vuln") {
		t.Errorf("verifySignatures checked no vuln attestation:\n%s", out)
	}

	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), "platforms: [linux/amd64]\nverify:\n  vulncheck: off\nsmoke:\n  runtime: none\nsign:\n  attest: [sbom, vuln]\n")
	out, err := run(t, dir, env, "sign")
	if err == nil || !strings.Contains(out, "scratchkit.yaml:7: sign.attest lists vuln, but hello (linux/"+runtime.GOARCH+") has no vulnerability check to attest: verify.vulncheck is off for it") {
		t.Errorf("sign.attest vuln without a check: %v\n%s", err, out)
	}
}
