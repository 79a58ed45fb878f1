package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/regtransport"
	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/platform"
	"google.golang.org/protobuf/encoding/protojson"
)

// localSigstore is a private Sigstore deployment the test runs: a GitHub-Actions-like and a
// GitLab-like OIDC issuer, Fulcio trusting both, Rekor v2, a timestamp authority, and the
// trusted root and signing config describing them.
type localSigstore struct {
	gh, gl        *testenv.OIDCIssuer
	fulcio        *testenv.Fulcio
	rekor         *testenv.Rekor
	tsa           *testenv.TSA
	trustedRoot   string
	signingConfig string
}

func startLocalSigstore(t *testing.T) *localSigstore {
	t.Helper()
	s := &localSigstore{gh: testenv.StartOIDCIssuer(t, testenv.IssuerGitHub), gl: testenv.StartOIDCIssuer(t, testenv.IssuerGitLab)}
	s.fulcio = testenv.StartFulcio(t, s.gh, s.gl)
	s.rekor = testenv.StartRekor(t)
	s.tsa = testenv.StartTSA(t)
	s.trustedRoot = testenv.TrustedRoot{Fulcios: []*testenv.Fulcio{s.fulcio}, Rekors: []*testenv.Rekor{s.rekor}, TSAs: []*testenv.TSA{s.tsa}}.Write(t)
	s.signingConfig = testenv.SigningConfig{Fulcio: s.fulcio, Issuer: s.gh, Rekor: s.rekor, TSA: s.tsa}.Write(t)
	return s
}

// Keyless signing against a real local Sigstore (Fulcio, Rekor v2, timestamp authority, an OIDC
// issuer of GitHub-Actions-like identities) and a real registry: images are signed and attested
// (SBOM, provenance, vuln) and SHA256SUMS signed, with the token from SIGSTORE_ID_TOKEN and
// from the GitHub Actions token endpoint; cosign v3 and v2.6 verify every one with
// --certificate-identity/--certificate-oidc-issuer and the test's trusted root, and so does
// VerifyImages; another identity, another issuer, a removed or altered log entry, a signature
// without trusted time and a tampered statement are refused.
func TestE2EKeylessLocalSigstore(t *testing.T) {
	e := setupE2E(t)
	s := startLocalSigstore(t)
	ctx := context.Background()
	token := s.gh.Token(t, nil)
	t.Setenv("SIGSTORE_ID_TOKEN", token)

	d, sub := e.helloIndex(t)
	idx := manifestOfIndex(t, d)
	started := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	for i, m := range idx.Manifests {
		p := []string{"linux/amd64", "linux/arm64"}[i]
		sub.Manifests = append(sub.Manifests, Subject{Name: "hello " + p, Ref: d.Context().Digest(m.Digest.String()).String(),
			Vuln: &VulnScan{Platform: platform.MustParse(p), Scanner: "golang.org/x/vuln", ScannerVersion: "v1.9.0",
				DB: "file:///srv/vulndb", DBVersion: "2026-03-31T00:00:00Z", Started: started, Finished: started.Add(time.Second),
				Result: map[string]any{"findings": []any{}}}})
	}
	platformRef := sub.Manifests[0].Ref

	var logs bytes.Buffer
	opts := Options{Keyless: true, SigningConfig: s.signingConfig, Format: FormatBundle,
		Log: func(f string, a ...any) { logs.WriteString(strings.TrimSpace(fmt.Sprintf(f, a...)) + "\n") }}
	signed, err := SignImages(ctx, opts, []Subject{sub})
	if err != nil {
		t.Fatalf("keyless SignImages: %v\n%s", err, logs.String())
	}
	if len(signed) != 1+2+len(idx.Manifests) {
		t.Errorf("signed %d, want the index's signature, SBOM and provenance and each platform's vuln: %+v", len(signed), signed)
	}
	dir := t.TempDir()
	blob := filepath.Join(dir, "SHA256SUMS")
	if err := os.WriteFile(blob, []byte("0123  hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bs, err := SignBlob(ctx, opts, blob)
	if err != nil {
		t.Fatalf("keyless SignBlob: %v", err)
	}
	t.Logf("signing log:\n%s", logs.String())
	if !strings.Contains(logs.String(), "Rekor v2 "+s.rekor.URL) {
		t.Errorf("the log does not say the signing config's Rekor v2 was used:\n%s", logs.String())
	}

	// The token is nowhere: not in what was printed, not in a bundle.
	bundleJSON, _ := os.ReadFile(bs.Bundle)
	found, err := listBundles(d, ociOptions(ctx, nil, false, regtransport.Timeouts{}))
	if err != nil || len(found) != 3 {
		t.Fatalf("%d bundles on the index, want 3: %v", len(found), err)
	}
	for _, f := range found {
		j, _ := protojson.Marshal(f.bundle)
		bundleJSON = append(bundleJSON, j...)
		if f.bundle.GetVerificationMaterial().GetCertificate() == nil || len(f.bundle.GetVerificationMaterial().GetTlogEntries()) != 1 ||
			len(f.bundle.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()) != 1 {
			t.Errorf("bundle %s: want a certificate, a log entry and a timestamp", f.ref)
		}
	}
	if strings.Contains(logs.String(), token) || bytes.Contains(bundleJSON, []byte(token)) {
		t.Error("the identity token leaked into the log or a bundle")
	}

	// The CLIs, as docs/sign.md prints them.
	id := []string{"--certificate-identity", s.gh.Identity(), "--certificate-oidc-issuer", s.gh.URL, "--trusted-root", s.trustedRoot, "--insecure-ignore-sct", "--use-signed-timestamps"}
	for _, c := range []cliVerifier{{"cosign v3", e.cosign3, nil}, {"cosign v2.6", e.cosign, nil}} {
		if _, all, err := c.run(append(append([]string{"verify"}, id...), d.String())...); err != nil {
			t.Errorf("%s verify keyless: %v\n%s", c.name, err, all)
		}
		for _, typ := range []string{"spdxjson", "slsaprovenance1"} {
			if _, all, err := c.run(append(append([]string{"verify-attestation"}, id...), "--type", typ, d.String())...); err != nil {
				t.Errorf("%s verify-attestation --type %s keyless: %v\n%s", c.name, typ, err, all)
			}
		}
		if _, all, err := c.run(append(append([]string{"verify-attestation"}, id...), "--type", "vuln", platformRef)...); err != nil {
			t.Errorf("%s verify-attestation --type vuln keyless: %v\n%s", c.name, err, all)
		}
		blobFlags := id
		if c.bin == e.cosign {
			blobFlags = append([]string{"--new-bundle-format"}, id...)
		}
		if _, all, err := c.run(append(append([]string{"verify-blob"}, blobFlags...), "--bundle", bs.Bundle, blob)...); err != nil {
			t.Errorf("%s verify-blob keyless: %v\n%s", c.name, err, all)
		}
		// Another identity, another issuer.
		other := []string{"--certificate-identity", "https://github.com/acme/hello/.github/workflows/other.yml@refs/heads/main", "--certificate-oidc-issuer", s.gh.URL, "--trusted-root", s.trustedRoot, "--insecure-ignore-sct", "--use-signed-timestamps"}
		if _, all, err := c.run(append(append([]string{"verify"}, other...), d.String())...); err == nil {
			t.Errorf("%s verify accepted another identity:\n%s", c.name, all)
		}
		otherIssuer := []string{"--certificate-identity", s.gh.Identity(), "--certificate-oidc-issuer", s.gl.URL, "--trusted-root", s.trustedRoot, "--insecure-ignore-sct", "--use-signed-timestamps"}
		if _, all, err := c.run(append(append([]string{"verify"}, otherIssuer...), d.String())...); err == nil {
			t.Errorf("%s verify accepted another issuer:\n%s", c.name, all)
		}
	}

	// VerifyImages and VerifyBlobBundleWith, by identity and issuer, exactly and by regexp.
	vo := VerifyOptions{Format: FormatBundle, TrustedRoot: s.trustedRoot, Identity: s.gh.Identity(), OIDCIssuer: s.gh.URL}
	if _, err := VerifyImages(ctx, vo, []Subject{sub}); err != nil {
		t.Fatalf("VerifyImages keyless: %v", err)
	}
	if err := VerifyBlobBundleWith(ctx, vo, blob, bs.Bundle); err != nil {
		t.Fatalf("VerifyBlobBundleWith keyless: %v", err)
	}
	re := VerifyOptions{Format: FormatBundle, TrustedRoot: s.trustedRoot, IdentityRegexp: `^https://github\.com/acme/hello/`, OIDCIssuerRegexp: `^http://127\.0\.0\.1:`}
	if _, err := VerifyImages(ctx, re, []Subject{sub}); err != nil {
		t.Errorf("VerifyImages keyless by regexp: %v", err)
	}

	otherID := vo
	otherID.Identity = "https://github.com/acme/hello/.github/workflows/other.yml@refs/heads/main"
	_, err = VerifyImages(ctx, otherID, []Subject{sub})
	t.Logf("another identity: %v", err)
	if err == nil || !strings.Contains(err.Error(), "verifies as signed by identity "+otherID.Identity) || !strings.Contains(err.Error(), "check sign.identity and sign.oidc_issuer") {
		t.Errorf("VerifyImages with another identity: %v", err)
	}
	otherIss := vo
	otherIss.OIDCIssuer = s.gl.URL
	err = VerifyBlobBundleWith(ctx, otherIss, blob, bs.Bundle)
	t.Logf("another issuer: %v", err)
	if err == nil || !strings.Contains(err.Error(), "of issuer "+s.gl.URL) || !strings.Contains(err.Error(), "check sign.identity and sign.oidc_issuer") {
		t.Errorf("VerifyBlobBundleWith with another issuer: %v", err)
	}
	if _, err := VerifyImages(ctx, VerifyOptions{TrustedRoot: s.trustedRoot, Identity: s.gh.Identity()}, []Subject{sub}); err == nil || !strings.Contains(err.Error(), "sign.oidc_issuer") {
		t.Errorf("VerifyImages without an issuer: %v", err)
	}

	// A bundle whose log entry was removed, or altered.
	removed := editBundle(t, bs.Bundle, func(b map[string]any) {
		delete(b["verificationMaterial"].(map[string]any), "tlogEntries")
	})
	err = VerifyBlobBundleWith(ctx, vo, blob, removed)
	t.Logf("log entry removed: %v", err)
	if err == nil || !strings.Contains(err.Error(), "not enough verified log entries from transparency log: 0 < 1") {
		t.Errorf("VerifyBlobBundleWith accepted a bundle without its log entry: %v", err)
	}
	altered := editBundle(t, bs.Bundle, func(b map[string]any) {
		e := b["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any)
		// Another position in the log: the inclusion proof no longer leads to the checkpoint.
		p := e["inclusionProof"].(map[string]any)
		var n int
		if _, err := fmt.Sscan(p["logIndex"].(string), &n); err != nil {
			t.Fatal(err)
		}
		p["logIndex"], e["logIndex"] = fmt.Sprint(n^1), fmt.Sprint(n^1)
	})
	err = VerifyBlobBundleWith(ctx, vo, blob, altered)
	t.Logf("log entry altered: %v", err)
	if err == nil || !strings.Contains(err.Error(), "verifying log entry") {
		t.Errorf("VerifyBlobBundleWith accepted an altered log entry: %v", err)
	}
	for _, p := range []string{removed, altered} {
		if _, all, err := cli(e.cosign3, append(append([]string{"verify-blob"}, id...), "--bundle", p, blob)...); err == nil {
			t.Errorf("cosign v3 accepted %s:\n%s", p, all)
		}
	}

	// A tampered statement: the SBOM attestation's payload changed after signing.
	for _, f := range found {
		st, err := f.statement()
		if err != nil || st.PredicateType != PredicateSPDX {
			continue
		}
		env := f.bundle.GetDsseEnvelope()
		env.Payload = bytes.Replace(env.GetPayload(), []byte(`"predicateType"`), []byte(`"tampered":1,"predicateType"`), 1)
		bco, err := bundleCheckOpts(ctx, nil, &vo)
		if err != nil {
			t.Fatal(err)
		}
		err = verifyBundle(ctx, bco, d, f.bundle)
		t.Logf("a tampered statement: %v", err)
		if err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Errorf("a tampered SBOM statement verified: %v", err)
		}
	}

	// The CI's token source: GitHub Actions' token endpoint, no SIGSTORE_ID_TOKEN.
	os.Unsetenv("SIGSTORE_ID_TOKEN")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", s.gh.URL+"/token?api-version=2.0")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", s.gh.RequestToken)
	blob2 := filepath.Join(t.TempDir(), "SHA256SUMS")
	if err := os.WriteFile(blob2, []byte("4567  hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bs2, err := SignBlob(ctx, Options{Keyless: true, SigningConfig: s.signingConfig, Format: FormatBundle}, blob2)
	if err != nil {
		t.Fatalf("keyless SignBlob with GitHub Actions' token endpoint: %v", err)
	}
	if err := VerifyBlobBundleWith(ctx, vo, blob2, bs2.Bundle); err != nil {
		t.Errorf("VerifyBlobBundleWith (GitHub Actions' token endpoint): %v", err)
	}
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "")
	os.Unsetenv("ACTIONS_ID_TOKEN_REQUEST_URL")

	// A GitLab CI identity: the pipeline definition, vouched for by the GitLab-like issuer.
	t.Setenv("SIGSTORE_ID_TOKEN", s.gl.Token(t, nil))
	blobGL := filepath.Join(t.TempDir(), "SHA256SUMS")
	if err := os.WriteFile(blobGL, []byte("cdef  hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bsGL, err := SignBlob(ctx, Options{Keyless: true, SigningConfig: s.signingConfig, Format: FormatBundle}, blobGL)
	if err != nil {
		t.Fatalf("keyless SignBlob as GitLab CI: %v", err)
	}
	glID := []string{"--certificate-identity", "https://gitlab.com/acme/hello//.gitlab-ci.yml@refs/heads/main", "--certificate-oidc-issuer", s.gl.URL, "--trusted-root", s.trustedRoot, "--insecure-ignore-sct", "--use-signed-timestamps"}
	for _, bin := range []string{e.cosign3, e.cosign} {
		if _, all, err := cli(bin, append(append([]string{"verify-blob"}, glID...), "--bundle", bsGL.Bundle, blobGL)...); err != nil {
			t.Errorf("%s verify-blob, GitLab CI identity: %v\n%s", bin, err, all)
		}
	}
	if err := VerifyBlobBundleWith(ctx, VerifyOptions{TrustedRoot: s.trustedRoot, Identity: s.gl.Identity(), OIDCIssuer: s.gl.URL}, blobGL, bsGL.Bundle); err != nil {
		t.Errorf("VerifyBlobBundleWith, GitLab CI identity: %v", err)
	}
	if err := VerifyBlobBundleWith(ctx, vo, blobGL, bsGL.Bundle); err == nil {
		t.Error("a GitLab CI signature verified as the GitHub workflow's")
	}

	// No trusted time: a keyless certificate is valid for minutes, and a Rekor v2 entry says
	// nothing of when; without a signed timestamp nothing shows the signature was made then.
	t.Setenv("SIGSTORE_ID_TOKEN", s.gh.Token(t, nil))
	noTSA := testenv.SigningConfig{Fulcio: s.fulcio, Issuer: s.gh, Rekor: s.rekor}.Write(t)
	blob3 := filepath.Join(t.TempDir(), "SHA256SUMS")
	if err := os.WriteFile(blob3, []byte("89ab  hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bs3, err := SignBlob(ctx, Options{Keyless: true, SigningConfig: noTSA, Format: FormatBundle}, blob3)
	if err != nil {
		t.Fatal(err)
	}
	err = VerifyBlobBundleWith(ctx, vo, blob3, bs3.Bundle)
	t.Logf("no timestamp: %v", err)
	if err == nil || !strings.Contains(err.Error(), "threshold not met for verified signed timestamps: 0 < 1") || !strings.Contains(err.Error(), "valid for minutes") {
		t.Errorf("VerifyBlobBundleWith accepted a keyless bundle without trusted time: %v", err)
	}
	if _, all, err := cli(e.cosign3, append(append([]string{"verify-blob"}, id...), "--bundle", bs3.Bundle, blob3)...); err == nil {
		t.Errorf("cosign v3 accepted a keyless bundle without trusted time:\n%s", all)
	}

	// Rekor v2 entries cannot go into cosign's legacy layout.
	if _, err := SignBlob(ctx, Options{Keyless: true, SigningConfig: s.signingConfig, Format: FormatBoth}, blob3); err == nil || !strings.Contains(err.Error(), "set sign.format: bundle") {
		t.Errorf("keyless with Rekor v2 and sign.format both: %v", err)
	}
}

// editBundle writes a copy of the bundle at path, changed by edit.
func editBundle(t *testing.T, path string, edit func(map[string]any)) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	edit(b)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "edited.sigstore.json")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
