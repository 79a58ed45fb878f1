package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/providers"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	rekor "github.com/sigstore/rekor/pkg/client"
	rekorclient "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
	"google.golang.org/protobuf/encoding/protojson"

	// Ambient OIDC identity for keyless signing: GitHub Actions, SIGSTORE_ID_TOKEN and a token
	// file (/var/run/sigstore/cosign/oidc-token). cosign's Google, Buildkite and SPIFFE providers
	// are left out: they would add Google's API client and other modules to every user's build.
	_ "github.com/sigstore/cosign/v2/pkg/providers/envvar"
	_ "github.com/sigstore/cosign/v2/pkg/providers/filesystem"
	_ "github.com/sigstore/cosign/v2/pkg/providers/github"
)

// signer signs payloads with a key (file/KMS) or an ephemeral key certified by Fulcio, and
// optionally records each signature in Rekor.
type signer struct {
	sv        signature.SignerVerifier
	cert      []byte // PEM leaf certificate (keyless)
	rekor     *rekorclient.Rekor
	rekorURL  string
	fulcioURL string
	isKeyless bool
	logf      func(format string, args ...any)
}

func newSigner(ctx context.Context, opts *Options) (*signer, error) {
	s := &signer{
		rekorURL:  orDefault(opts.RekorURL, DefaultRekorURL),
		fulcioURL: orDefault(opts.FulcioURL, DefaultFulcioURL),
		logf:      opts.logf,
	}
	if opts.Keyless {
		if opts.Key != "" {
			return nil, fmt.Errorf("both a signing key (%s) and keyless signing are configured: choose one", opts.Key)
		}
		if err := s.keyless(ctx, opts); err != nil {
			return nil, err
		}
	} else {
		sv, err := loadSigner(ctx, opts)
		if err != nil {
			return nil, err
		}
		s.sv = sv
		if opts.PublicKey != "" {
			if err := checkPair(ctx, sv, opts.Key, opts.PublicKey); err != nil {
				return nil, err
			}
		}
	}
	if opts.TLog || opts.Keyless {
		rc, err := rekor.GetRekorClient(s.rekorURL, rekor.WithUserAgent("scratchkit-sign"), rekor.WithRetryCount(1))
		if err != nil {
			return nil, fmt.Errorf("transparency log %s: %w", s.rekorURL, err)
		}
		s.rekor = rc
	}
	return s, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// networkError says plainly which services keyless signing or TLog needs.
func (s *signer) networkError(step string, err error) error {
	if s.isKeyless {
		return fmt.Errorf("keyless signing needs %s and %s: %s: %w", s.fulcioURL, s.rekorURL, step, err)
	}
	return fmt.Errorf("transparency log upload (sign.tlog) needs %s: %s: %w", s.rekorURL, step, err)
}

// keyless generates an ephemeral key and obtains a Fulcio certificate for the OIDC identity.
func (s *signer) keyless(ctx context.Context, opts *Options) error {
	s.isKeyless = true
	token := opts.IdentityToken
	if token == "" {
		if !providers.Enabled(ctx) {
			return fmt.Errorf("keyless signing needs an OIDC identity token: set SIGSTORE_ID_TOKEN, or run in GitHub Actions with `permissions: id-token: write` (it also needs %s and %s)", s.fulcioURL, s.rekorURL)
		}
		t, err := providers.Provide(ctx, "sigstore")
		if err != nil {
			return fmt.Errorf("keyless signing: get the CI's OIDC identity token: %w", err)
		}
		token = t
	}
	priv, err := cosign.GeneratePrivateKey()
	if err != nil {
		return fmt.Errorf("keyless signing: generate ephemeral key: %w", err)
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return fmt.Errorf("keyless signing: %w", err)
	}
	s.sv = sv
	fulcio := sign.NewFulcio(&sign.FulcioOptions{BaseURL: s.fulcioURL, Timeout: 30 * time.Second, Retries: 1})
	der, err := fulcio.GetCertificate(ctx, &keypair{sv: sv}, &sign.CertificateProviderOptions{IDToken: token})
	if err != nil {
		return s.networkError("get a signing certificate from Fulcio", err)
	}
	s.cert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return nil
}

// verifierPEM is what Rekor records as the verifier: the certificate, or the public key.
func (s *signer) verifierPEM() ([]byte, error) {
	if s.cert != nil {
		return s.cert, nil
	}
	return publicKeyPEM(s.sv)
}

// staticOptions are the annotations every legacy signature layer carries: the certificate and
// the Rekor bundle.
func (s *signer) staticOptions(entry *models.LogEntryAnon) []static.Option {
	var o []static.Option
	if s.cert != nil {
		o = append(o, static.WithCertChain(s.cert, nil))
	}
	if entry != nil {
		o = append(o, static.WithBundle(cbundle.EntryToBundle(entry)))
	}
	return o
}

// signPayload signs payload (hashed with SHA-256) and, with TLog, records it in Rekor as a
// hashedrekord entry. It returns the raw signature and the Rekor entry (nil without TLog).
func (s *signer) signPayload(ctx context.Context, payload []byte) ([]byte, *models.LogEntryAnon, error) {
	sig, err := s.sv.SignMessage(bytes.NewReader(payload), sigopts.WithContext(ctx))
	if err != nil {
		return nil, nil, fmt.Errorf("sign: %w", err)
	}
	if s.rekor == nil {
		return sig, nil, nil
	}
	vpem, err := s.verifierPEM()
	if err != nil {
		return nil, nil, err
	}
	h := sha256.New()
	h.Write(payload)
	entry, err := cosign.TLogUpload(ctx, s.rekor, sig, h, vpem)
	if err != nil {
		return nil, nil, s.networkError("upload the signature to Rekor", err)
	}
	s.logEntry(entry)
	return sig, entry, nil
}

// signDSSE wraps statement in a DSSE envelope signed for the in-toto payload type and, with
// TLog, records it in Rekor as a dsse entry. It returns the envelope (JSON) and the Rekor entry
// (nil without TLog).
func (s *signer) signDSSE(ctx context.Context, statement []byte) ([]byte, *models.LogEntryAnon, error) {
	env, err := dsseSign(ctx, s.sv, statement)
	if err != nil {
		return nil, nil, err
	}
	if s.rekor == nil {
		return env, nil, nil
	}
	vpem, err := s.verifierPEM()
	if err != nil {
		return nil, nil, err
	}
	entry, err := cosign.TLogUploadDSSEEnvelope(ctx, s.rekor, env, vpem)
	if err != nil {
		return nil, nil, s.networkError("upload the attestation to Rekor", err)
	}
	s.logEntry(entry)
	return env, entry, nil
}

// dsseBundle is the Sigstore bundle (v0.3, JSON) of a DSSE envelope env over statement, with the
// key's hint or the Fulcio certificate, and the Rekor entry when there is one: what
// `cosign attest --new-bundle-format` attaches.
func (s *signer) dsseBundle(statement, env []byte, entry *models.LogEntryAnon) ([]byte, error) {
	pub, err := s.sv.PublicKey()
	if err != nil {
		return nil, err
	}
	vpem, err := s.verifierPEM()
	if err != nil {
		return nil, err
	}
	b, err := cbundle.MakeNewBundle(pub, entry, statement, env, vpem, nil)
	if err != nil {
		return nil, fmt.Errorf("make Sigstore bundle: %w", err)
	}
	return b, nil
}

// blobBundle is the Sigstore bundle (v0.3, JSON) of a signature sig over a blob whose SHA-256
// is digest: what `cosign sign-blob --new-bundle-format --bundle` writes.
func (s *signer) blobBundle(digest, sig []byte, entry *models.LogEntryAnon) ([]byte, error) {
	var hint string
	var rawCert []byte
	if s.cert != nil {
		certs, err := cryptoutils.UnmarshalCertificatesFromPEM(s.cert)
		if err != nil || len(certs) == 0 {
			return nil, fmt.Errorf("make Sigstore bundle: read the signing certificate: %w", err)
		}
		rawCert = certs[0].Raw
	} else {
		pub, err := s.sv.PublicKey()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("make Sigstore bundle: %w", err)
		}
		h := sha256.Sum256(der) // the key hint, as cosign computes it
		hint = base64.StdEncoding.EncodeToString(h[:])
	}
	pb, err := cbundle.MakeProtobufBundle(hint, rawCert, entry, nil)
	if err != nil {
		return nil, fmt.Errorf("make Sigstore bundle: %w", err)
	}
	pb.Content = &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
		MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: digest},
		Signature:     sig,
	}}
	b, err := protojson.Marshal(pb)
	if err != nil {
		return nil, fmt.Errorf("make Sigstore bundle: %w", err)
	}
	return b, nil
}

func (s *signer) logEntry(e *models.LogEntryAnon) {
	if e != nil && e.LogIndex != nil {
		s.logf("transparency log entry %d on %s", *e.LogIndex, s.rekorURL)
	}
}

func b64(sig []byte) string { return base64.StdEncoding.EncodeToString(sig) }

// keypair adapts a sigstore SignerVerifier to the sigstore-go Keypair that its Fulcio client
// uses for the proof of possession.
type keypair struct{ sv signature.SignerVerifier }

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	return protocommon.HashAlgorithm_SHA2_256
}

func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
}

func (k *keypair) GetHint() []byte { return nil }

func (k *keypair) GetKeyAlgorithm() string { return "ECDSA" }

func (k *keypair) GetPublicKey() crypto.PublicKey {
	pub, err := k.sv.PublicKey()
	if err != nil {
		return nil
	}
	return pub
}

func (k *keypair) GetPublicKeyPem() (string, error) {
	pub, err := k.sv.PublicKey()
	if err != nil {
		return "", err
	}
	b, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	return string(b), err
}

func (k *keypair) SignData(ctx context.Context, data []byte) ([]byte, []byte, error) {
	if k.sv == nil {
		return nil, nil, errors.New("no key")
	}
	sig, err := k.sv.SignMessage(bytes.NewReader(data), sigopts.WithContext(ctx))
	if err != nil {
		return nil, nil, err
	}
	d := sha256.Sum256(data)
	return sig, d[:], nil
}

var _ sign.Keypair = (*keypair)(nil)
