package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Kinds of OIDC issuer the tests run: the claims of their ID tokens look like those of GitHub
// Actions and of GitLab CI, which Fulcio maps onto a certificate's identity and extensions.
const (
	IssuerGitHub = "github"
	IssuerGitLab = "gitlab"
)

// OIDCIssuer is a small OpenID Connect issuer on 127.0.0.1: it serves its discovery document
// (/.well-known/openid-configuration), its signing key (JWKS) and ID tokens signed with it
// (ES256) whose claims look like a CI job's, of GitHub Actions or GitLab CI (Kind). Its token
// endpoint answers like GitHub Actions' (ACTIONS_ID_TOKEN_REQUEST_URL, with
// ACTIONS_ID_TOKEN_REQUEST_TOKEN as the bearer token and ?audience=…): {"value": "<token>"}.
type OIDCIssuer struct {
	// URL is the issuer: the tokens' iss, http://127.0.0.1:PORT.
	URL string
	// Kind is IssuerGitHub or IssuerGitLab.
	Kind string
	// RequestToken is the bearer token the token endpoint wants.
	RequestToken string

	key     *ecdsa.PrivateKey
	kid     string
	handler http.Handler
}

// StartOIDCIssuer starts an issuer of kind for the duration of t.
func StartOIDCIssuer(t testing.TB, kind string) *OIDCIssuer {
	t.Helper()
	if kind != IssuerGitHub && kind != IssuerGitLab {
		t.Fatalf("OIDC issuer kind %q: want %s or %s", kind, IssuerGitHub, IssuerGitLab)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	kid := sha256.Sum256(append(key.X.Bytes(), key.Y.Bytes()...))
	o := &OIDCIssuer{URL: "http://" + l.Addr().String(), Kind: kind, RequestToken: randomHex(t, 16),
		key: key, kid: fmt.Sprintf("%x", kid[:8])}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		serveJSON(w, map[string]any{
			"issuer":                                o.URL,
			"jwks_uri":                              o.URL + "/.well-known/jwks",
			"token_endpoint":                        o.URL + "/token",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"ES256"},
			"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nbf"},
		})
	})
	mux.HandleFunc("GET /.well-known/jwks", func(w http.ResponseWriter, r *http.Request) {
		size := (key.Curve.Params().BitSize + 7) / 8
		serveJSON(w, map[string]any{"keys": []map[string]string{{
			"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": o.kid,
			"x": b64url(key.X.FillBytes(make([]byte, size))),
			"y": b64url(key.Y.FillBytes(make([]byte, size))),
		}}})
	})
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		// GitHub's runner toolkit and cosign write the scheme as "bearer".
		if scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " "); !strings.EqualFold(scheme, "bearer") || tok != o.RequestToken {
			http.Error(w, "bad request token", http.StatusUnauthorized)
			return
		}
		aud := r.URL.Query().Get("audience")
		if aud == "" {
			aud = "sigstore"
		}
		tok, err := o.sign(o.claims(aud, time.Now(), 10*time.Minute, nil))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		serveJSON(w, map[string]string{"value": tok})
	})
	o.handler = mux
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return o
}

// Token is an ID token for audience sigstore, valid for ten minutes from now, with the
// default claims of the issuer's kind and then those of override (a nil value drops a claim).
func (o *OIDCIssuer) Token(t testing.TB, override map[string]any) string {
	t.Helper()
	tok, err := o.sign(o.claims("sigstore", time.Now(), 10*time.Minute, override))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TokenAt is Token issued at iat and valid for ttl.
func (o *OIDCIssuer) TokenAt(t testing.TB, iat time.Time, ttl time.Duration, override map[string]any) string {
	t.Helper()
	tok, err := o.sign(o.claims("sigstore", iat, ttl, override))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Identity is the identity Fulcio certifies for the default claims: the subject alternative
// name of the certificate, what `cosign verify --certificate-identity` names. For GitHub, the
// workflow that ran (https://github.com/<job_workflow_ref>); for GitLab, the pipeline
// definition (https://<ci_config_ref_uri>).
func (o *OIDCIssuer) Identity() string {
	c := o.claims("sigstore", time.Now(), time.Minute, nil)
	if o.Kind == IssuerGitHub {
		return "https://github.com/" + c["job_workflow_ref"].(string)
	}
	return "https://" + c["ci_config_ref_uri"].(string)
}

// claims are a CI job's, as GitHub Actions or GitLab CI would put them in an ID token for
// acme/hello's release on main.
func (o *OIDCIssuer) claims(aud string, iat time.Time, ttl time.Duration, override map[string]any) map[string]any {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	c := map[string]any{"iss": o.URL, "aud": aud, "iat": iat.Unix(), "nbf": iat.Add(-5 * time.Second).Unix(), "exp": iat.Add(ttl).Unix(), "jti": fmt.Sprintf("%d", iat.UnixNano())}
	switch o.Kind {
	case IssuerGitHub:
		maps.Copy(c, map[string]any{
			"sub":                   "repo:acme/hello:ref:refs/heads/main",
			"repository":            "acme/hello",
			"repository_id":         "100001",
			"repository_owner":      "acme",
			"repository_owner_id":   "200002",
			"repository_visibility": "public",
			"ref":                   "refs/heads/main",
			"ref_type":              "branch",
			"sha":                   sha,
			"workflow":              "release",
			"workflow_ref":          "acme/hello/.github/workflows/release.yml@refs/heads/main",
			"workflow_sha":          sha,
			"job_workflow_ref":      "acme/hello/.github/workflows/release.yml@refs/heads/main",
			"job_workflow_sha":      sha,
			"event_name":            "push",
			"run_id":                "3000003",
			"run_number":            "7",
			"run_attempt":           "1",
			"runner_environment":    "github-hosted",
			"actor":                 "octocat",
			"actor_id":              "400004",
		})
	case IssuerGitLab:
		maps.Copy(c, map[string]any{
			"sub":                "project_path:acme/hello:ref_type:branch:ref:main",
			"namespace_id":       "100001",
			"namespace_path":     "acme",
			"project_id":         "200002",
			"project_path":       "acme/hello",
			"project_visibility": "public",
			"user_login":         "octocat",
			"pipeline_id":        "3000003",
			"pipeline_source":    "push",
			"job_id":             "4000004",
			"ref":                "main",
			"ref_type":           "branch",
			"ref_protected":      "true",
			"sha":                sha,
			"ci_config_ref_uri":  "gitlab.com/acme/hello//.gitlab-ci.yml@refs/heads/main",
			"ci_config_sha":      sha,
			"runner_environment": "gitlab-hosted",
		})
	}
	for k, v := range override {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign makes a compact JWS (ES256) of claims.
func (o *OIDCIssuer) sign(claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": o.kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64url(header) + "." + b64url(payload)
	h := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, o.key, h[:])
	if err != nil {
		return "", err
	}
	sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	return input + "." + b64url(sig), nil
}

// serveIn serves the issuer also inside ns, at the same host:port, so that a service confined
// there (Fulcio) finds it at its URL.
func (o *OIDCIssuer) serveIn(t testing.TB, ns *namespace) {
	t.Helper()
	ns.serve(t, strings.TrimPrefix(o.URL, "http://"), o.handler)
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func serveJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}
