package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/scratchkit/scratchkit/internal/defaults"
	"github.com/scratchkit/scratchkit/internal/redact"

	"github.com/sigstore/cosign/v3/pkg/cosign"
	cbundle "github.com/sigstore/cosign/v3/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	"github.com/sigstore/cosign/v3/pkg/providers"
	"github.com/sigstore/cosign/v3/pkg/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
	"google.golang.org/protobuf/encoding/protojson"

	// Ambient OIDC identity for keyless signing: GitHub Actions, SIGSTORE_ID_TOKEN and a token
	// file (/var/run/sigstore/cosign/oidc-token). cosign's Google, Buildkite and SPIFFE providers
	// are left out: they would add Google's API client and other modules to every user's build.
	_ "github.com/sigstore/cosign/v3/pkg/providers/envvar"
	_ "github.com/sigstore/cosign/v3/pkg/providers/filesystem"
	_ "github.com/sigstore/cosign/v3/pkg/providers/github"
)

// signer signs payloads with a key (file/KMS) or an ephemeral key certified by Fulcio, and
// optionally records each signature in Rekor. Every signature is made by sigstore-go's
// sign.Bundle, cosign v3's own signing path: the Sigstore bundle it returns holds the signature
// (or DSSE envelope), the certificate or key hint and the log entry, and the legacy layouts are
// derived from it (see sealed).
type signer struct {
	sv        signature.SignerVerifier
	kp        *keypair
	cert      []byte // PEM leaf certificate (keyless)
	tlog      sign.Transparency
	tsa       *sign.TimestampAuthority
	tsaURL    string
	rekorURL  string
	fulcioURL string
	// rekorVersion is the Rekor API version: 1, or 2 (from a signing config).
	rekorVersion uint32
	isKeyless    bool
	logf         func(format string, args ...any)
}

func newSigner(ctx context.Context, opts *Options) (*signer, error) {
	s := &signer{
		rekorURL:     defaults.String(opts.RekorURL, DefaultRekorURL),
		fulcioURL:    defaults.String(opts.FulcioURL, DefaultFulcioURL),
		rekorVersion: 1,
		logf:         opts.logf,
	}
	tsaURL := opts.TimestampURL
	if opts.SigningConfig != "" {
		svc, err := ReadSigningConfig(ctx, opts.SigningConfig, time.Now())
		if err != nil {
			return nil, err
		}
		if svc.FulcioURL != "" {
			s.fulcioURL = svc.FulcioURL
		}
		if svc.RekorURL != "" {
			s.rekorURL, s.rekorVersion = svc.RekorURL, svc.RekorVersion
		}
		if tsaURL == "" {
			tsaURL = svc.TimestampURL
		}
		opts.logf("signing config %s: Fulcio %s, Rekor v%d %s, timestamp authority %s", shownRef(opts.SigningConfig),
			redact.URL(s.fulcioURL), s.rekorVersion, redact.URL(s.rekorURL), defaults.String(redact.URL(tsaURL), "none"))
	}
	if (opts.TLog || opts.Keyless) && s.rekorVersion == 2 && opts.Format.legacy() {
		return nil, fmt.Errorf("the transparency log %s is a Rekor v2 (signing config %s): its entries carry no signed entry timestamp, which cosign's legacy layout needs, so only Sigstore bundles can hold them: set sign.format: bundle (cosign v3, and v2.6.3 and later, read them)", redact.URL(s.rekorURL), shownRef(opts.SigningConfig))
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
		if opts.PublicKey != "" {
			if err := checkPair(ctx, sv, opts.Key, opts.PublicKey); err != nil {
				return nil, err
			}
		}
		if s.kp, err = newKeypair(sv, true); err != nil {
			return nil, err
		}
		s.sv = sv
	}
	if opts.TLog || opts.Keyless {
		s.tlog = sign.NewRekor(&sign.RekorOptions{BaseURL: s.rekorURL, Timeout: 30 * time.Second, Retries: 1, Version: s.rekorVersion})
	}
	if tsaURL != "" {
		u, err := url.Parse(tsaURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("timestamp authority (sign.timestamp) %q: want an http(s) URL of an RFC 3161 endpoint, e.g. https://timestamp.sigstore.dev/api/v1/timestamp", redact.Text(tsaURL))
		}
		s.tsaURL = redact.URL(tsaURL)
		s.tsa = sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: tsaURL, Timeout: 30 * time.Second, Retries: 1})
	}
	return s, nil
}

// networkError says plainly which services keyless signing or TLog needs.
func (s *signer) networkError(step string, err error) error {
	if s.isKeyless {
		return fmt.Errorf("keyless signing needs %s and %s: %s: %w", s.fulcioURL, s.rekorURL, step, err)
	}
	return fmt.Errorf("transparency log upload (sign.tlog) needs %s: %s: %w", s.rekorURL, step, err)
}

// keyless generates an ephemeral key and obtains a Fulcio certificate for the OIDC identity,
// once: every signature of the run is made under it.
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
	if s.kp, err = newKeypair(sv, false); err != nil {
		return fmt.Errorf("keyless signing: %w", err)
	}
	s.sv = sv
	fulcio := sign.NewFulcio(&sign.FulcioOptions{BaseURL: s.fulcioURL, Timeout: 30 * time.Second, Retries: 1})
	der, err := fulcio.GetCertificate(ctx, s.kp, &sign.CertificateProviderOptions{IDToken: token})
	if err != nil {
		return s.networkError("get a signing certificate from Fulcio", err)
	}
	s.cert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return nil
}

// seal signs content (a payload, or an in-toto statement in a DSSE envelope) and, with TLog,
// records it in Rekor: a hashedrekord entry for a payload, a dsse entry for an envelope.
func (s *signer) seal(ctx context.Context, content sign.Content) (sealed, error) {
	bo := sign.BundleOptions{Context: ctx}
	if s.cert != nil {
		block, _ := pem.Decode(s.cert)
		bo.CertificateProvider = fixedCertificate(block.Bytes)
	}
	if s.tlog != nil {
		bo.TransparencyLogs = []sign.Transparency{s.tlog}
	}
	if s.tsa != nil {
		bo.TimestampAuthorities = []*sign.TimestampAuthority{s.tsa}
	}
	pb, err := sign.Bundle(content, s.kp, bo)
	if err != nil {
		if s.tlog != nil {
			step := "sign and record the signature in Rekor"
			if s.tsa != nil {
				step += " and timestamp it at " + s.tsaURL + " (sign.timestamp)"
			}
			return sealed{}, s.networkError(step, err)
		}
		if s.tsa != nil {
			return sealed{}, fmt.Errorf("sign: get an RFC 3161 timestamp from %s (sign.timestamp): %w; check that the URL is the authority's timestamp endpoint and that it answers, or unset sign.timestamp", s.tsaURL, err)
		}
		return sealed{}, fmt.Errorf("sign: %w", err)
	}
	x := sealed{pb: pb}
	if e := x.entry(); e != nil {
		s.logf("transparency log entry %d on %s", e.GetLogIndex(), s.rekorURL)
	}
	return x, nil
}

// signPayload signs payload as a message (hashed with SHA-256).
func (s *signer) signPayload(ctx context.Context, payload []byte) (sealed, error) {
	return s.seal(ctx, &sign.PlainData{Data: payload})
}

// signDSSE wraps an in-toto statement in a DSSE envelope and signs it.
func (s *signer) signDSSE(ctx context.Context, statement []byte) (sealed, error) {
	return s.seal(ctx, &sign.DSSEData{Data: statement, PayloadType: types.IntotoPayloadType})
}

// staticOptions are the annotations a legacy signature or attestation layer carries: the
// certificate and the Rekor bundle of x's log entry.
func (s *signer) staticOptions(x sealed) []static.Option {
	var o []static.Option
	if s.cert != nil {
		o = append(o, static.WithCertChain(s.cert, nil))
	}
	if rb := x.rekorBundle(); rb != nil {
		o = append(o, static.WithBundle(rb))
	}
	return o
}

// sealed is one signature as sigstore-go made it: a Sigstore bundle (v0.3). The Sigstore bundle
// format stores it as it is; the legacy layouts take its parts.
type sealed struct{ pb *protobundle.Bundle }

// signature is the raw signature of a message.
func (x sealed) signature() []byte { return x.pb.GetMessageSignature().GetSignature() }

// envelope is the DSSE envelope in JSON, as cosign's legacy attestation layer holds it.
func (x sealed) envelope() ([]byte, error) {
	e := x.pb.GetDsseEnvelope()
	if e == nil {
		return nil, errors.New("the bundle holds no DSSE envelope")
	}
	type sig struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	}
	out := struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []sig  `json:"signatures"`
	}{PayloadType: e.GetPayloadType(), Payload: base64.StdEncoding.EncodeToString(e.GetPayload())}
	for _, s := range e.GetSignatures() {
		out.Signatures = append(out.Signatures, sig{KeyID: s.GetKeyid(), Sig: base64.StdEncoding.EncodeToString(s.GetSig())})
	}
	return json.Marshal(out)
}

// entry is the transparency log entry, nil without TLog.
func (x sealed) entry() *protorekor.TransparencyLogEntry {
	if es := x.pb.GetVerificationMaterial().GetTlogEntries(); len(es) > 0 {
		return es[0]
	}
	return nil
}

// rekorBundle is the log entry in cosign's older form (the dev.sigstore.cosign/bundle
// annotation, a sign-blob .bundle file): Rekor's signed entry timestamp over the entry's body,
// integrated time, index and log ID. Nil without an entry.
func (x sealed) rekorBundle() *cbundle.RekorBundle {
	e := x.entry()
	if e == nil || e.GetInclusionPromise() == nil {
		return nil
	}
	return &cbundle.RekorBundle{
		SignedEntryTimestamp: e.GetInclusionPromise().GetSignedEntryTimestamp(),
		Payload: cbundle.RekorPayload{
			Body:           base64.StdEncoding.EncodeToString(e.GetCanonicalizedBody()),
			IntegratedTime: e.GetIntegratedTime(),
			LogIndex:       e.GetLogIndex(),
			LogID:          hex.EncodeToString(e.GetLogId().GetKeyId()),
		},
	}
}

// json is the bundle as the Sigstore bundle format stores it.
func (x sealed) json() ([]byte, error) {
	b, err := protojson.Marshal(x.pb)
	if err != nil {
		return nil, fmt.Errorf("make Sigstore bundle: %w", err)
	}
	return b, nil
}

func b64(sig []byte) string { return base64.StdEncoding.EncodeToString(sig) }

// fixedCertificate is the certificate keyless signing obtained once, handed to sign.Bundle for
// every signature of the run.
type fixedCertificate []byte

func (c fixedCertificate) GetCertificate(context.Context, sign.Keypair, *sign.CertificateProviderOptions) ([]byte, error) {
	return c, nil
}

// keypair adapts a sigstore SignerVerifier to the sigstore-go Keypair that sign.Bundle and its
// Fulcio client sign with.
type keypair struct {
	sv   signature.SignerVerifier
	pem  string
	hint []byte
}

// newKeypair reads sv's public key once; withHint sets the key hint a bundle signed with a key
// names (base64 of the SHA-256 of the key's PKIX form, as cosign computes it).
func newKeypair(sv signature.SignerVerifier, withHint bool) (*keypair, error) {
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("read the public key: %w", err)
	}
	p, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("read the public key: %w", err)
	}
	k := &keypair{sv: sv, pem: string(p)}
	if withHint {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("read the public key: %w", err)
		}
		h := sha256.Sum256(der)
		k.hint = []byte(base64.StdEncoding.EncodeToString(h[:]))
	}
	return k, nil
}

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	return protocommon.HashAlgorithm_SHA2_256
}

func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
}

func (k *keypair) GetHint() []byte { return k.hint }

func (k *keypair) GetKeyAlgorithm() string { return "ECDSA" }

func (k *keypair) GetPublicKey() crypto.PublicKey {
	pub, err := k.sv.PublicKey()
	if err != nil {
		return nil
	}
	return pub
}

func (k *keypair) GetPublicKeyPem() (string, error) { return k.pem, nil }

func (k *keypair) SignData(ctx context.Context, data []byte) ([]byte, []byte, error) {
	sig, err := k.sv.SignMessage(bytes.NewReader(data), sigopts.WithContext(ctx))
	if err != nil {
		return nil, nil, err
	}
	d := sha256.Sum256(data)
	return sig, d[:], nil
}

var _ sign.Keypair = (*keypair)(nil)
