package sign

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/scratchkit/scratchkit/internal/regtransport"
	"github.com/scratchkit/scratchkit/targets/sign/keyfile"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
)

// Public Sigstore instances used for keyless signing and TLog uploads when Options leaves the
// URLs empty.
const (
	DefaultFulcioURL = "https://fulcio.sigstore.dev"
	DefaultRekorURL  = "https://rekor.sigstore.dev"
)

// Predicate types of the attestations SignImages attaches.
const (
	PredicateSPDX  = "https://spdx.dev/Document"      // cosign --type spdxjson
	PredicateSLSA1 = "https://slsa.dev/provenance/v1" // cosign --type slsaprovenance1
	// PredicateCosignSign is the predicate type of an image signature in a Sigstore bundle: an
	// in-toto statement whose subject is the signed digest, as `cosign sign --new-bundle-format`
	// (and cosign v3 by default) writes it.
	PredicateCosignSign = "https://sigstore.dev/cosign/sign/v1"
)

// Format is how signatures and attestations are stored.
type Format string

// Formats. The zero value means FormatBoth when signing.
const (
	// FormatBundle stores each signature and attestation as a Sigstore bundle (media type
	// application/vnd.dev.sigstore.bundle.v0.3+json) attached to the image digest as an OCI 1.1
	// referrer (through the registry's referrers API, or the referrers tag schema
	// repo:sha256-<hex> where the registry lacks it), and signs blobs into <file>.sigstore.json.
	// cosign v3 reads it by default, cosign v2.6 with --new-bundle-format.
	FormatBundle Format = "bundle"
	// FormatLegacy stores them in cosign's classic tag layout (repo:sha256-<hex>.sig and .att)
	// and signs blobs into a detached base64 <file>.sig: what every cosign version reads.
	FormatLegacy Format = "legacy"
	// FormatBoth writes both, so verifiers old and new find what they look for.
	FormatBoth Format = "both"
)

// Formats lists the formats, for validation and messages.
var Formats = []Format{FormatBundle, FormatLegacy, FormatBoth}

// bundle reports whether f writes (or requires) Sigstore bundles; the zero value does.
func (f Format) bundle() bool { return f == FormatBundle || f == FormatBoth || f == "" }

// legacy reports whether f writes (or requires) cosign's classic layout; the zero value does.
func (f Format) legacy() bool { return f == FormatLegacy || f == FormatBoth || f == "" }

func (f Format) check() error {
	if f == "" || slices.Contains(Formats, f) {
		return nil
	}
	return fmt.Errorf("signature format %q: want one of bundle, legacy, both", string(f))
}

// DefaultBuildType is the SLSA buildType of provenance that does not name its own.
const DefaultBuildType = "https://github.com/scratchkit/scratchkit/buildtypes/go-image@v1"

// Kinds of Signed and Verified entries.
const (
	KindSignature   = "signature"
	KindAttestation = "attestation"
)

const passwordEnvVariable = keyfile.PasswordEnv

// Options configures signing. The zero value is not usable: set Key, or Keyless.
type Options struct {
	// Key is a cosign private key reference: a file path, env://VAR, or a KMS URI
	// (awskms://, gcpkms://, azurekms://, hashivault://, k8s://) resolved by cosign.
	Key string
	// Password returns the password of an encrypted key file (see PasswordFromEnv). It is never
	// logged. Nil means an empty password.
	Password func() ([]byte, error)
	// PublicKey, if set, is the public key that will be used to verify (file, env://VAR or KMS
	// URI). Signing refuses to start when it does not belong to Key, so a mismatched pair is
	// caught before anything is pushed.
	PublicKey string

	// Keyless signs with an ephemeral key and a Fulcio certificate for IdentityToken (or the
	// ambient CI identity). It implies TLog.
	Keyless bool
	// TLog uploads every signature and attestation to Rekor (RekorURL). Off by default.
	TLog bool
	// Recursive also signs every manifest of an image index, not only the index.
	Recursive bool
	// Format is how signatures and attestations are stored: FormatBundle, FormatLegacy or
	// FormatBoth. Empty means FormatBoth.
	Format Format

	FulcioURL     string // default DefaultFulcioURL
	RekorURL      string // default DefaultRekorURL
	IdentityToken string // OIDC token for keyless; default SIGSTORE_ID_TOKEN or the CI provider's
	// TimestampURL is an RFC 3161 timestamp authority (e.g. a Sigstore timestamp-authority's
	// https://tsa.example/api/v1/timestamp): every Sigstore bundle then carries a signed timestamp
	// of its signature from it, the trusted time a key-based signature otherwise lacks. The
	// legacy layout carries none. Empty: no timestamp.
	TimestampURL string
	// SigningConfig is a Sigstore signing config (a file or an http(s) URL,
	// application/vnd.dev.sigstore.signingconfig.v0.2+json) naming a Sigstore deployment's
	// services: Sign takes Fulcio, Rekor (and its API version: a Rekor v2 is spoken to as one)
	// and, when TimestampURL is empty, the timestamp authority from it, instead of FulcioURL and
	// RekorURL. Empty: FulcioURL, RekorURL (Rekor v1) and TimestampURL.
	SigningConfig string

	// Annotations are added to the "optional" section of every image signature payload
	// (`cosign sign -a key=value`).
	Annotations map[string]string

	// Keychain resolves registry credentials; nil means authn.DefaultKeychain (DOCKER_CONFIG).
	Keychain authn.Keychain
	// Insecure allows plain-HTTP registries other than localhost/127.0.0.1 (which are always
	// reached over HTTP).
	Insecure bool
	// ResponseTimeout and RequestTimeout bound each registry request (see
	// regtransport.Timeouts); zero takes the defaults, 60s and 30m.
	ResponseTimeout, RequestTimeout time.Duration
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

// VerifyOptions configures VerifyImages.
type VerifyOptions struct {
	// PublicKey is a cosign public key reference: a file path, env://VAR or KMS URI.
	PublicKey string
	// Recursive also requires a valid signature on every manifest of an image index.
	Recursive bool
	// SkipLayers skips downloading config and layer blobs to check them against their digests.
	// Manifests are always checked.
	SkipLayers bool
	// TLog requires each signature to carry a Rekor inclusion bundle verified against the
	// public Sigstore log keys (network). Off by default, like signing.
	TLog bool
	// Format is what must be there: FormatBundle requires Sigstore bundles, FormatLegacy
	// cosign's classic layout, FormatBoth both. Empty accepts either: whatever of the two an image
	// has is checked, and at least one must be there.
	Format Format
	// TrustedRoot is a Sigstore trusted root (a file path or an http(s) URL) that bundles are
	// checked against: the timestamp authorities, certificate authorities and transparency logs
	// of a private Sigstore deployment. Empty: with TLog or Timestamps, Sigstore's public trusted
	// root (from its TUF repository, network); else none, the key alone.
	TrustedRoot string
	// Timestamps requires each Sigstore bundle to carry an RFC 3161 timestamp that verifies
	// against TrustedRoot's timestamp authorities (what Options.TimestampURL adds). The legacy
	// layout carries none and is checked without.
	Timestamps bool

	// Keyless signatures (no PublicKey) verify against TrustedRoot's certificate authorities and
	// must name the signer: the certificate's identity (its subject alternative name, e.g. a
	// GitHub Actions workflow https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main),
	// exactly or by a regular expression, and the OIDC issuer that vouched for it, exactly or by
	// a regular expression; one of each is required. Certificates carry their SCTs unless the
	// trusted root names no certificate transparency log (a private Fulcio without one).
	Identity, IdentityRegexp     string
	OIDCIssuer, OIDCIssuerRegexp string

	Keychain authn.Keychain
	Insecure bool
	// ResponseTimeout and RequestTimeout bound each registry request, as in Options.
	ResponseTimeout, RequestTimeout time.Duration
	Log                             func(format string, args ...any)
}

// Subject is one image as it was pushed.
type Subject struct {
	// Name is a label for messages (e.g. the binary or image name).
	Name string
	// Ref is the pushed image exactly: repo@sha256:<hex>. Tags are refused.
	Ref string
	// Tags are the tags the image was pushed under (repo:tag). Signing ignores them;
	// verification fails when one no longer names Ref's digest.
	Tags []string
	// SBOM is the path of the SPDX JSON document Image wrote; empty for none.
	SBOM string
	// Provenance describes the build for a SLSA provenance v1 attestation; nil for none.
	Provenance *Provenance
	// Vuln is the vulnerability scan of the binary in the image at Ref, attested there with
	// cosign's vuln predicate; for an index, set it on each of Manifests instead. Nil for none.
	Vuln *VulnScan
	// Manifests are platform manifests of the index Ref, each with the SBOM and provenance of its
	// own binary, attested at its own digest (and, with Options.Recursive, signed there like every
	// manifest of the index). Each Ref must be a manifest of the index; Tags and Manifests of a
	// manifest are ignored.
	Manifests []Subject
}

// Provenance is the plain data of a SLSA provenance v1 statement.
type Provenance struct {
	BuilderID  string         // runDetails.builder.id, e.g. the CI workflow URI
	BuildType  string         // default DefaultBuildType
	Parameters map[string]any // externalParameters.config: the resolved build configuration
	SourceRepo string         // e.g. git+https://github.com/org/repo
	SourceRef  string         // e.g. refs/heads/main; optional
	Commit     string         // source commit (git SHA-1 or SHA-256)
	GoVersion  string         // e.g. go1.26.0
	Deps       []Dependency   // resolved module dependencies (from the binary's build info)
	// InvocationID identifies this run (e.g. the CI run URL); optional.
	InvocationID string
	StartedOn    time.Time // optional
	FinishedOn   time.Time // optional
}

// Dependency is one resolved Go module.
type Dependency struct {
	Path    string // module path
	Version string // module version
	Sum     string // go.sum hash, "h1:…"; optional
}

// Signed is one signature or attestation pushed to the registry.
type Signed struct {
	Subject       string // the signed image, repo@sha256:<hex>
	Kind          string // KindSignature or KindAttestation
	PredicateType string // for attestations
	Format        Format // FormatBundle or FormatLegacy
	// Ref is where it lives: legacy, the tag repo:sha256-<hex>.sig or .att; a bundle, the
	// referrer manifest repo@sha256:<hex> that holds it.
	Ref string
	// Digest is the digest of the pushed .sig/.att or referrer manifest.
	Digest string
	// FallbackTag is, for a bundle on a registry without the OCI 1.1 referrers API, the tag of
	// the index that lists it (the referrers tag schema, repo:sha256-<subject hex>); empty
	// when the registry's referrers API lists it.
	FallbackTag string
}

// Verified is one signature or attestation that verified.
type Verified struct {
	Subject       string // repo@sha256:<hex>
	Kind          string // KindSignature or KindAttestation
	PredicateType string // for attestations
	Format        Format // FormatBundle or FormatLegacy: what was checked
	// Ref is where it was found: legacy, repo:sha256-<hex>.sig or .att; a bundle, the referrer
	// manifest repo@sha256:<hex> (the first, when several verified).
	Ref   string
	Count int // how many signatures/attestations of this kind and format verified
}

// PasswordFromEnv returns a password function reading COSIGN_PASSWORD, as the cosign CLI does
// when it is not attached to a terminal. An unset variable is an error; set it to the empty
// string for a key without password.
func PasswordFromEnv() func() ([]byte, error) { return keyfile.PasswordFromEnv }

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

func (o *VerifyOptions) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

func (o *Options) timeouts() regtransport.Timeouts {
	return regtransport.Timeouts{Response: o.ResponseTimeout, Request: o.RequestTimeout}
}

func (o *VerifyOptions) timeouts() regtransport.Timeouts {
	return regtransport.Timeouts{Response: o.ResponseTimeout, Request: o.RequestTimeout}
}

func nameOptions(insecure bool) []name.Option {
	return append(regtransport.NameOptions(insecure), name.StrictValidation)
}

func remoteOptions(ctx context.Context, kc authn.Keychain, insecure bool, t regtransport.Timeouts) []remote.Option {
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	return []remote.Option{
		remote.WithAuthFromKeychain(kc),
		remote.WithContext(ctx),
		remote.WithUserAgent("scratchkit-sign"),
		remote.WithTransport(regtransport.New(nil, insecure, regtransport.WithTimeouts(t))),
	}
}

func ociOptions(ctx context.Context, kc authn.Keychain, insecure bool, t regtransport.Timeouts) []ociremote.Option {
	return []ociremote.Option{
		ociremote.WithRemoteOptions(remoteOptions(ctx, kc, insecure, t)...),
		ociremote.WithNameOptions(nameOptions(insecure)...),
	}
}

// parseDigest parses a subject reference and refuses anything but repo@sha256:<hex>.
func parseDigest(ref string, insecure bool) (name.Digest, error) {
	if ref == "" {
		return name.Digest{}, errors.New("empty image reference: Sign needs the repo@sha256:… that Image pushed")
	}
	r, err := name.ParseReference(ref, nameOptions(insecure)...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("parse image reference %q: %w", ref, err)
	}
	d, ok := r.(name.Digest)
	if !ok {
		return name.Digest{}, fmt.Errorf("%s is a tag, not a digest: only the exact digest Image pushed (repo@sha256:…) is signed or verified, since a tag can be repointed", ref)
	}
	if !strings.HasPrefix(d.DigestStr(), "sha256:") {
		return name.Digest{}, fmt.Errorf("%s: only sha256 digests are supported", ref)
	}
	return d, nil
}
