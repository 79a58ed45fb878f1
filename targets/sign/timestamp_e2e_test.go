package sign

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/regtransport"
	"github.com/scratchkit/scratchkit/internal/testenv"
)

// Key-based signing with trusted time: every bundle carries an RFC 3161 timestamp from a real
// sigstore timestamp-authority on 127.0.0.1, which cosign v3 and v2.6 and VerifyImages check
// against a trusted root naming that authority; a tampered timestamp, another authority's root
// and a bundle without a timestamp are refused.
func TestE2EKeyBasedWithTimestampAuthority(t *testing.T) {
	e := setupE2E(t)
	tsa := testenv.StartTSA(t)
	trustedRoot := testenv.TrustedRoot{TSAs: []*testenv.TSA{tsa}}.Write(t)
	ctx := context.Background()
	d, sub := e.helloIndex(t)
	var logs bytes.Buffer
	opts := e.keyOpts(&logs)
	opts.TimestampURL = tsa.URL
	if opts.NeedsTrustedRoot() {
		t.Error("NeedsTrustedRoot with a timestamp authority: the key-only root names none, the deployment's is needed")
	}
	if _, err := SignImages(ctx, opts, []Subject{sub}); err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(t.TempDir(), "SHA256SUMS")
	if err := os.WriteFile(blob, []byte("0123  hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bs, err := SignBlob(ctx, opts, blob)
	if err != nil {
		t.Fatal(err)
	}

	// Every bundle carries one timestamp, from that authority.
	found, err := listBundles(d, ociOptions(ctx, nil, false, regtransport.Timeouts{}))
	if err != nil || len(found) != 3 {
		t.Fatalf("%d bundles on the index, want a signature and two attestations: %v", len(found), err)
	}
	for _, f := range found {
		if ts := f.bundle.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps(); len(ts) != 1 {
			t.Errorf("bundle %s carries %d RFC 3161 timestamps, want 1", f.ref, len(ts))
		}
	}

	// The CLIs, as docs/sign.md prints them.
	for _, c := range []cliVerifier{{"cosign v3", e.cosign3, nil}, {"cosign v2.6", e.cosign, nil}} {
		flags := []string{"--key", e.pub, "--insecure-ignore-tlog", "--use-signed-timestamps", "--trusted-root", trustedRoot}
		if _, all, err := c.run(append(append([]string{"verify"}, flags...), d.String())...); err != nil {
			t.Errorf("%s verify --use-signed-timestamps: %v\n%s", c.name, err, all)
		}
		for _, typ := range []string{"spdxjson", "slsaprovenance1"} {
			if _, all, err := c.run(append(append([]string{"verify-attestation"}, flags...), "--type", typ, d.String())...); err != nil {
				t.Errorf("%s verify-attestation --type %s --use-signed-timestamps: %v\n%s", c.name, typ, err, all)
			}
		}
		blobFlags := flags
		if c.bin == e.cosign {
			blobFlags = append([]string{"--new-bundle-format"}, flags...)
		}
		if _, all, err := c.run(append(append([]string{"verify-blob"}, blobFlags...), "--bundle", bs.Bundle, blob)...); err != nil {
			t.Errorf("%s verify-blob --use-signed-timestamps: %v\n%s", c.name, err, all)
		}
	}

	// VerifyImages and VerifyBlobBundleWith check it too.
	vo := VerifyOptions{PublicKey: e.pub, Format: FormatBundle, TrustedRoot: trustedRoot, Timestamps: true}
	if _, err := VerifyImages(ctx, vo, []Subject{sub}); err != nil {
		t.Fatalf("VerifyImages with the TSA's trusted root: %v", err)
	}
	if err := VerifyBlobBundleWith(ctx, vo, blob, bs.Bundle); err != nil {
		t.Fatalf("VerifyBlobBundleWith with the TSA's trusted root: %v", err)
	}

	// Another authority's root: the timestamp does not verify.
	otherRoot := testenv.TrustedRoot{TSAs: []*testenv.TSA{forgedTSA(t, tsa.URL)}}.Write(t)
	other := vo
	other.TrustedRoot = otherRoot
	if _, err := VerifyImages(ctx, other, []Subject{sub}); err == nil || !strings.Contains(err.Error(), "timestamp") {
		t.Errorf("VerifyImages with another authority's root: %v, want a timestamp failure", err)
	}
	err = VerifyBlobBundleWith(ctx, other, blob, bs.Bundle)
	t.Logf("another authority's root: %v", err)
	if err == nil || !strings.Contains(err.Error(), "unable to verify signed timestamps") || !strings.Contains(err.Error(), "does the trusted root "+otherRoot+" name that timestamp authority?") {
		t.Errorf("VerifyBlobBundleWith with another authority's root: %v, want the timestamp hint", err)
	}
	if _, all, err := cli(e.cosign3, "verify-blob", "--key", e.pub, "--insecure-ignore-tlog", "--use-signed-timestamps", "--trusted-root", otherRoot, "--bundle", bs.Bundle, blob); err == nil {
		t.Errorf("cosign v3 accepted a timestamp against another authority's root:\n%s", all)
	}

	// A tampered timestamp.
	tampered := tamperTimestamp(t, bs.Bundle)
	err = VerifyBlobBundleWith(ctx, vo, blob, tampered)
	t.Logf("a tampered timestamp: %v", err)
	if err == nil || !strings.Contains(err.Error(), "unable to verify signed timestamps") || !strings.Contains(err.Error(), "verification failure") {
		t.Errorf("VerifyBlobBundleWith accepted a tampered timestamp: %v", err)
	}
	if _, all, err := cli(e.cosign3, "verify-blob", "--key", e.pub, "--insecure-ignore-tlog", "--use-signed-timestamps", "--trusted-root", trustedRoot, "--bundle", tampered, blob); err == nil {
		t.Errorf("cosign v3 accepted a tampered timestamp:\n%s", all)
	}

	// A bundle signed without a timestamp, where one is required.
	plain := e.keyOpts(nil)
	plain.Format = FormatBundle
	blob2 := filepath.Join(t.TempDir(), "SHA256SUMS")
	if err := os.WriteFile(blob2, []byte("0123  hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bs2, err := SignBlob(ctx, plain, blob2)
	if err != nil {
		t.Fatal(err)
	}
	err = VerifyBlobBundleWith(ctx, vo, blob2, bs2.Bundle)
	t.Logf("no timestamp: %v", err)
	if err == nil || !strings.Contains(err.Error(), "threshold not met for verified signed timestamps: 0 < 1") {
		t.Errorf("VerifyBlobBundleWith accepted a bundle without a timestamp: %v", err)
	}
	// The same bundle without the requirement, and the timestamped one, verify with the key alone.
	if err := VerifyBlobBundleWith(ctx, VerifyOptions{PublicKey: e.pub}, blob2, bs2.Bundle); err != nil {
		t.Errorf("key alone: %v", err)
	}
	if err := VerifyBlobBundleWith(ctx, VerifyOptions{PublicKey: e.pub}, blob, bs.Bundle); err != nil {
		t.Errorf("a timestamped bundle with the key alone: %v", err)
	}

	// An authority that does not answer: the error names it and the key.
	down := e.keyOpts(nil)
	down.TimestampURL = "http://127.0.0.1:1/api/v1/timestamp"
	_, err = SignBlob(ctx, down, blob2)
	t.Logf("an authority that does not answer: %v", err)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1/api/v1/timestamp (sign.timestamp)") {
		t.Errorf("SignBlob with an unreachable authority: %v", err)
	}
}

// forgedTSA is a timestamp authority of the test's own making, with tsa's URL: its chain is not
// the one that signed anything.
func forgedTSA(t *testing.T, url string) *testenv.TSA {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test TSA Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	rootCert, _ := x509.ParseCertificate(rootDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test TSA Timestamping"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, rootCert, &leafKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return &testenv.TSA{URL: url, Chain: []*x509.Certificate{leaf, rootCert}}
}

// tamperTimestamp writes a copy of the bundle at path whose RFC 3161 timestamp has one byte of
// its signature changed.
func tamperTimestamp(t *testing.T, path string) string {
	t.Helper()
	return editBundle(t, path, func(b map[string]any) {
		ts := b["verificationMaterial"].(map[string]any)["timestampVerificationData"].(map[string]any)["rfc3161Timestamps"].([]any)[0].(map[string]any)
		raw, err := base64.StdEncoding.DecodeString(ts["signedTimestamp"].(string))
		if err != nil {
			t.Fatal(err)
		}
		raw[len(raw)-3] ^= 0x01 // inside the signature, the DER's last field
		ts["signedTimestamp"] = base64.StdEncoding.EncodeToString(raw)
	})
}
