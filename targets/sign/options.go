package sign

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/scratchkit/scratchkit/internal/regtransport"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
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
)

// DefaultBuildType is the SLSA buildType of provenance that does not name its own.
const DefaultBuildType = "https://github.com/scratchkit/scratchkit/buildtypes/go-image@v1"

// Kinds of Signed and Verified entries.
const (
	KindSignature   = "signature"
	KindAttestation = "attestation"
)

const passwordEnvVariable = "COSIGN_PASSWORD"

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

	FulcioURL     string // default DefaultFulcioURL
	RekorURL      string // default DefaultRekorURL
	IdentityToken string // OIDC token for keyless; default SIGSTORE_ID_TOKEN or the CI provider's

	// Annotations are added to the "optional" section of every image signature payload
	// (`cosign sign -a key=value`).
	Annotations map[string]string

	// Keychain resolves registry credentials; nil means authn.DefaultKeychain (DOCKER_CONFIG).
	Keychain authn.Keychain
	// Insecure allows plain-HTTP registries other than localhost/127.0.0.1 (which are always
	// reached over HTTP).
	Insecure bool
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

	Keychain authn.Keychain
	Insecure bool
	Log      func(format string, args ...any)
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
	// Vulns are the vulnerability scans of its platforms, each attested about its platform
	// manifest (see VulnScan); none for no vuln attestations.
	Vulns []VulnScan
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
	Ref           string // repo:sha256-<hex>.sig or .att
	Digest        string // digest of the pushed .sig/.att manifest
}

// Verified is one signature or attestation that verified.
type Verified struct {
	Subject       string // repo@sha256:<hex>
	Kind          string // KindSignature or KindAttestation
	PredicateType string // for attestations
	Ref           string // where it was found: repo:sha256-<hex>.sig or .att
	Count         int    // how many signatures/attestations of this kind verified
}

// PasswordFromEnv returns a password function reading COSIGN_PASSWORD, as the cosign CLI does
// when it is not attached to a terminal. An unset variable is an error; set it to the empty
// string for a key without password.
func PasswordFromEnv() func() ([]byte, error) {
	return func() ([]byte, error) {
		p, ok := os.LookupEnv(passwordEnvVariable)
		if !ok {
			return nil, errors.New("COSIGN_PASSWORD is not set: set it to the password of the cosign key (empty for a key without password)")
		}
		return []byte(p), nil
	}
}

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

func nameOptions(insecure bool) []name.Option {
	return append(regtransport.NameOptions(insecure), name.StrictValidation)
}

func remoteOptions(ctx context.Context, kc authn.Keychain, insecure bool) []remote.Option {
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	return []remote.Option{
		remote.WithAuthFromKeychain(kc),
		remote.WithContext(ctx),
		remote.WithUserAgent("scratchkit-sign"),
		remote.WithTransport(regtransport.New(nil, insecure)),
	}
}

func ociOptions(ctx context.Context, kc authn.Keychain, insecure bool) []ociremote.Option {
	return []ociremote.Option{
		ociremote.WithRemoteOptions(remoteOptions(ctx, kc, insecure)...),
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
