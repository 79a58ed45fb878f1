package testenv

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// The local Sigstore answers: the OIDC issuer's discovery, JWKS and token endpoint; Fulcio
// certifies the GitHub-like and GitLab-like identities; Rekor v2 logs a signature; and a
// bundle made against them verifies with sigstore-go against the trusted root the tests write,
// naming the identity and the issuer.
func TestLocalSigstore(t *testing.T) {
	gh := StartOIDCIssuer(t, IssuerGitHub)
	gl := StartOIDCIssuer(t, IssuerGitLab)

	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	body, err := get(gh.URL + "/.well-known/openid-configuration")
	if err != nil || json.Unmarshal(body, &disc) != nil || disc.Issuer != gh.URL {
		t.Fatalf("discovery: %v %s", err, body)
	}
	if body, err := get(disc.JWKSURI); err != nil || !strings.Contains(string(body), `"ES256"`) {
		t.Fatalf("jwks: %v %s", err, body)
	}
	if _, err := get(gh.URL + "/token"); err == nil {
		t.Error("the token endpoint answered without the request token")
	}
	req, _ := http.NewRequest("GET", gh.URL+"/token?audience=sigstore", nil)
	req.Header.Set("Authorization", "Bearer "+gh.RequestToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("token endpoint: %v %v", err, resp)
	}
	resp.Body.Close()

	fulcio := StartFulcio(t, gh, gl)
	rekor := StartRekor(t)
	tsa := StartTSA(t)
	trusted := TrustedRoot{Fulcios: []*Fulcio{fulcio}, Rekors: []*Rekor{rekor}, TSAs: []*TSA{tsa}}.Write(t)
	if p := (SigningConfig{Fulcio: fulcio, Issuer: gh, Rekor: rekor, TSA: tsa}).Write(t); p == "" {
		t.Fatal("no signing config")
	}
	tr, err := root.NewTrustedRootFromPath(trusted)
	if err != nil {
		t.Fatal(err)
	}

	for _, iss := range []*OIDCIssuer{gh, gl} {
		kp, err := sign.NewEphemeralKeypair(nil)
		if err != nil {
			t.Fatal(err)
		}
		bo := sign.BundleOptions{
			Context:             context.Background(),
			CertificateProvider: sign.NewFulcio(&sign.FulcioOptions{BaseURL: fulcio.URL}),
			CertificateProviderOptions: &sign.CertificateProviderOptions{
				IDToken: iss.Token(t, nil),
			},
			TransparencyLogs:     []sign.Transparency{sign.NewRekor(&sign.RekorOptions{BaseURL: rekor.URL, Version: 2})},
			TimestampAuthorities: []*sign.TimestampAuthority{sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: tsa.URL})},
		}
		pb, err := sign.Bundle(&sign.PlainData{Data: []byte("hello " + iss.Kind)}, kp, bo)
		if err != nil {
			t.Fatalf("%s: sign against the local Sigstore: %v", iss.Kind, err)
		}
		leaf, err := x509.ParseCertificate(pb.GetVerificationMaterial().GetCertificate().GetRawBytes())
		if err != nil {
			t.Fatal(err)
		}
		if len(leaf.URIs) != 1 || leaf.URIs[0].String() != iss.Identity() {
			t.Errorf("%s: certificate names %v, want %s", iss.Kind, leaf.URIs, iss.Identity())
		}
		if n := len(pb.GetVerificationMaterial().GetTlogEntries()); n != 1 {
			t.Fatalf("%s: %d log entries", iss.Kind, n)
		}
		v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithSignedTimestamps(1))
		if err != nil {
			t.Fatal(err)
		}
		id, err := verify.NewShortCertificateIdentity(iss.URL, "", iss.Identity(), "")
		if err != nil {
			t.Fatal(err)
		}
		b := mustBundle(t, pb)
		if _, err := v.Verify(b, verify.NewPolicy(verify.WithArtifact(strings.NewReader("hello "+iss.Kind)), verify.WithCertificateIdentity(id))); err != nil {
			t.Errorf("%s: verify: %v", iss.Kind, err)
		}
	}
}

func mustBundle(t *testing.T, pb *protobundle.Bundle) *bundle.Bundle {
	t.Helper()
	b, err := bundle.NewBundle(pb)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
