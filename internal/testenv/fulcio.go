package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// Fulcio is a running Fulcio with an ephemeral certificate authority (made when it starts) and
// no certificate transparency log: it certifies the identities of the OIDC issuers it was
// started with. Certificates it issues carry no SCT, so verifiers skip that check
// (cosign --insecure-ignore-sct; a trusted root naming no CT log).
type Fulcio struct {
	// URL is its API, http://127.0.0.1:PORT (sign.fulcio_url).
	URL string
	// Chain is its certificate chain, root last, as its trust bundle serves it.
	Chain []*x509.Certificate
	// Issuers are the OIDC issuers it trusts.
	Issuers []*OIDCIssuer
}

// ciProviders are the claim mappings of the tests' Fulcio, by issuer kind: the certificate's
// subject alternative name and a few of Sigstore's CI extensions, from the token's claims.
var ciProviders = map[string]map[string]any{
	IssuerGitHub: {
		"DefaultTemplateValues":          map[string]string{"url": "https://github.com"},
		"SubjectAlternativeNameTemplate": "{{ .url }}/{{ .job_workflow_ref }}",
		"ExtensionTemplates": map[string]string{
			"GithubWorkflowTrigger":    "event_name",
			"GithubWorkflowSHA":        "sha",
			"GithubWorkflowName":       "workflow",
			"GithubWorkflowRepository": "repository",
			"GithubWorkflowRef":        "ref",
			"BuildSignerURI":           "{{ .url }}/{{ .job_workflow_ref }}",
			"BuildSignerDigest":        "job_workflow_sha",
			"RunnerEnvironment":        "runner_environment",
			"SourceRepositoryURI":      "{{ .url }}/{{ .repository }}",
			"SourceRepositoryDigest":   "sha",
			"SourceRepositoryRef":      "ref",
			"BuildConfigURI":           "{{ .url }}/{{ .workflow_ref }}",
			"BuildTrigger":             "event_name",
			"RunInvocationURI":         "{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}",
		},
	},
	IssuerGitLab: {
		"DefaultTemplateValues":          map[string]string{"url": "https://gitlab.com"},
		"SubjectAlternativeNameTemplate": "https://{{ .ci_config_ref_uri }}",
		"ExtensionTemplates": map[string]string{
			"BuildSignerURI":         "https://{{ .ci_config_ref_uri }}",
			"BuildSignerDigest":      "ci_config_sha",
			"RunnerEnvironment":      "runner_environment",
			"SourceRepositoryURI":    "{{ .url }}/{{ .project_path }}",
			"SourceRepositoryDigest": "sha",
			"BuildTrigger":           "pipeline_source",
			"RunInvocationURI":       "{{ .url }}/{{ .project_path }}/-/jobs/{{ .job_id }}",
		},
	},
}

// StartFulcio starts Fulcio for the duration of t, trusting issuers (started first: Fulcio
// reads each one's discovery document when it starts). It runs in a network namespace of its
// own: its metrics port (:2112, every interface) and its legacy gRPC socket (an abstract unix
// socket of a fixed name) stay there; the issuers are served in it too, at their own URLs, and
// a forwarder on 127.0.0.1 reaches its HTTP API. It needs root.
func StartFulcio(t testing.TB, issuers ...*OIDCIssuer) *Fulcio {
	t.Helper()
	if len(issuers) == 0 {
		t.Fatal("StartFulcio: no OIDC issuer to trust")
	}
	bin := Tool(t, "fulcio")
	dir := t.TempDir()
	oidc := map[string]any{}
	meta := map[string]any{}
	for _, o := range issuers {
		provider := o.Kind + "-ci"
		oidc[o.URL] = map[string]any{"IssuerURL": o.URL, "ClientID": "sigstore", "Type": "ci-provider", "CIProvider": provider}
		meta[provider] = ciProviders[o.Kind]
	}
	cfg, err := json.Marshal(map[string]any{"OIDCIssuers": oidc, "CIIssuerMetadata": meta})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "fulcio-config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, "fulcio")
	for _, o := range issuers {
		o.serveIn(t, ns)
	}
	logs := ns.start(t, "fulcio", bin, "serve", "--config-path", cfgPath,
		"--ca", "ephemeralca", "--ct-log-url", "",
		"--host", "127.0.0.1", "--port", "5555", "--grpc-host", "127.0.0.1", "--grpc-port", "5554",
		"--log_type", "prod")
	f := &Fulcio{URL: "http://" + ns.forward(t, "127.0.0.1:5555"), Issuers: issuers}
	var body []byte
	waitFor(t, "fulcio", logs, func() bool {
		body, err = get(f.URL + "/api/v2/trustBundle")
		return err == nil
	})
	var tb struct {
		Chains []struct {
			Certificates []string `json:"certificates"`
		} `json:"chains"`
	}
	if err := json.Unmarshal(body, &tb); err != nil || len(tb.Chains) == 0 {
		t.Fatalf("fulcio's trust bundle: %v\n%s", err, body)
	}
	for _, p := range tb.Chains[0].Certificates {
		block, _ := pem.Decode([]byte(p))
		if block == nil {
			t.Fatalf("fulcio's trust bundle holds no PEM certificate:\n%s", body)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("fulcio's trust bundle: %v", err)
		}
		f.Chain = append(f.Chain, c)
	}
	return f
}

// Authority is the Fulcio CA as a trusted root names it.
func (f *Fulcio) Authority() root.CertificateAuthority {
	n := len(f.Chain)
	return &root.FulcioCertificateAuthority{
		Root: f.Chain[n-1], Intermediates: f.Chain[:n-1],
		ValidityPeriodStart: f.Chain[n-1].NotBefore, URI: f.URL,
	}
}

// Rekor is a running Rekor v2 (rekor-tiles) on local files: a transparency log whose entries
// carry an inclusion proof and a signed checkpoint, but no integrated time.
type Rekor struct {
	// URL is its API, http://127.0.0.1:PORT (sign.rekor_url): the checkpoint origin a verifier
	// checks is its host name, 127.0.0.1.
	URL string
	// Key is the log's signing key (ECDSA P-256).
	Key *ecdsa.PrivateKey
	// Dir is its storage directory: the tiles and checkpoint.
	Dir string
	// Started is when it started, the start of its validity in a trusted root.
	Started time.Time
}

// StartRekor starts rekor-server (POSIX storage) for the duration of t, in a network
// namespace of its own (its HTTP, gRPC and metrics ports are fixed defaults) behind a
// forwarder on 127.0.0.1. It needs root.
func StartRekor(t testing.TB) *Rekor {
	t.Helper()
	bin := Tool(t, "rekor-server")
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "rekor-key.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "log")
	if err := os.Mkdir(storage, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Rekor{Key: key, Dir: storage, Started: time.Now().Add(-time.Minute)}
	ns := newNamespace(t, "rekor-server")
	logs := ns.start(t, "rekor-server", bin, "serve",
		"--hostname", "127.0.0.1", "--storage-dir", storage, "--signer-filepath", keyPath,
		"--http-address", "127.0.0.1", "--http-port", "3000", "--grpc-address", "127.0.0.1", "--grpc-port", "3001",
		"--http-metrics-port", "2112", "--checkpoint-interval", "1s", "--batch-max-age", "100ms")
	r.URL = "http://" + ns.forward(t, "127.0.0.1:3000")
	waitFor(t, "rekor-server", logs, func() bool {
		_, err := get(r.URL + "/healthz")
		return err == nil
	})
	return r
}

// LogID is the log's ID: the SHA-256 of its public key (PKIX, DER).
func (r *Rekor) LogID() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&r.Key.PublicKey)
	h := sha256.Sum256(der)
	return h[:]
}
