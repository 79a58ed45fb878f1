package sign

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeSigningConfig writes a signing config naming a Rekor v1 and a newer Rekor v2, a Fulcio
// and a timestamp authority.
func writeSigningConfig(t *testing.T) string {
	t.Helper()
	const sc = `{
  "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
  "caUrls": [{"url": "https://fulcio.example", "majorApiVersion": 1, "validFor": {"start": "2025-01-01T00:00:00Z"}, "operator": "example"}],
  "rekorTlogUrls": [
    {"url": "https://rekor-v1.example", "majorApiVersion": 1, "validFor": {"start": "2024-01-01T00:00:00Z"}, "operator": "example"},
    {"url": "https://rekor-v2.example", "majorApiVersion": 2, "validFor": {"start": "2025-06-01T00:00:00Z"}, "operator": "example"}
  ],
  "rekorTlogConfig": {"selector": "ANY"},
  "tsaUrls": [{"url": "https://tsa.example/api/v1/timestamp", "majorApiVersion": 1, "validFor": {"start": "2025-01-01T00:00:00Z"}, "operator": "example"}],
  "tsaConfig": {"selector": "ANY"}
}`
	p := filepath.Join(t.TempDir(), "signing_config.json")
	if err := os.WriteFile(p, []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadSigningConfig(t *testing.T) {
	p := writeSigningConfig(t)
	s, err := ReadSigningConfig(context.Background(), p, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := Services{FulcioURL: "https://fulcio.example", RekorURL: "https://rekor-v2.example", RekorVersion: 2, TimestampURL: "https://tsa.example/api/v1/timestamp"}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	// Before the Rekor v2 was valid, the Rekor v1.
	s, err = ReadSigningConfig(context.Background(), p, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || s.RekorURL != "https://rekor-v1.example" || s.RekorVersion != 1 {
		t.Errorf("early 2025: %+v, %v", s, err)
	}
	// From a URL, as a deployment publishes it; its credentials stay out of errors.
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/signing_config.json" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	if s, err := ReadSigningConfig(context.Background(), srv.URL+"/signing_config.json", time.Now()); err != nil || s.RekorVersion != 2 {
		t.Errorf("from a URL: %+v, %v", s, err)
	}
	_, err = ReadSigningConfig(context.Background(), strings.Replace(srv.URL, "http://", "http://user:s3cret@", 1)+"/missing.json?token=s3cret", time.Now())
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "404") {
		t.Errorf("a missing URL: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(bad, KeyOnlyTrustedRoot, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSigningConfig(context.Background(), bad, time.Now()); err == nil || !strings.Contains(err.Error(), "is not a Sigstore signing config") {
		t.Errorf("a trusted root as signing config: %v", err)
	}
	if _, err := ReadSigningConfig(context.Background(), filepath.Join(t.TempDir(), "none.json"), time.Now()); err == nil || !strings.Contains(err.Error(), "read the signing config") {
		t.Errorf("a missing signing config: %v", err)
	}
}

// A Rekor v2 from the signing config with the legacy layout is refused before anything is
// signed or any token is asked for.
func TestSigningConfigRekorV2NeedsBundles(t *testing.T) {
	t.Setenv("SIGSTORE_ID_TOKEN", "")
	p := writeSigningConfig(t)
	for _, f := range []Format{"", FormatBoth, FormatLegacy} {
		_, err := newSigner(context.Background(), &Options{Keyless: true, SigningConfig: p, Format: f})
		if err == nil || !strings.Contains(err.Error(), "is a Rekor v2") || !strings.Contains(err.Error(), "set sign.format: bundle") {
			t.Errorf("format %q: %v", f, err)
		}
	}
	o := Options{Keyless: true, SigningConfig: p, Format: FormatBundle}
	if o.NeedsTrustedRoot() {
		t.Error("NeedsTrustedRoot keyless")
	}
	o = Options{Key: "cosign.key", SigningConfig: p, Format: FormatBundle}
	if o.NeedsTrustedRoot() {
		t.Error("NeedsTrustedRoot with a signing config: the deployment's trusted root is needed, not the key-only one")
	}
}

func TestKeylessIdentities(t *testing.T) {
	for _, c := range []struct {
		opts VerifyOptions
		want string // in the error; empty for none
	}{
		{VerifyOptions{}, "no public key and no signer identity"},
		{VerifyOptions{Identity: "https://github.com/a/b/.github/workflows/r.yml@refs/heads/main"}, "set sign.oidc_issuer"},
		{VerifyOptions{OIDCIssuer: "https://token.actions.githubusercontent.com"}, "set sign.identity"},
		{VerifyOptions{Identity: "x", IdentityRegexp: "x", OIDCIssuer: "y"}, "both sign.identity and sign.identity_regexp"},
		{VerifyOptions{Identity: "x", OIDCIssuer: "y", OIDCIssuerRegexp: "y"}, "both sign.oidc_issuer and sign.oidc_issuer_regexp"},
		{VerifyOptions{IdentityRegexp: "(", OIDCIssuer: "y"}, "sign.identity_regexp: error parsing regexp"},
		{VerifyOptions{Identity: "x", OIDCIssuer: "y"}, ""},
		{VerifyOptions{IdentityRegexp: "^https://github.com/a/", OIDCIssuerRegexp: "^https://"}, ""},
	} {
		ids, err := c.opts.identities()
		switch {
		case c.want == "" && (err != nil || len(ids) != 1):
			t.Errorf("%+v: %v", c.opts, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v, want %q", c.opts, err, c.want)
		}
	}
	o := VerifyOptions{IdentityRegexp: "^https://", OIDCIssuer: "https://gitlab.com"}
	if got := o.signer(); got != "identity ~^https:// of issuer https://gitlab.com" {
		t.Errorf("signer() = %q", got)
	}
}
