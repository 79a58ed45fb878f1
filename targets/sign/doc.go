// Package sign signs and verifies what scratchkit built, with sigstore/cosign v3 as a library.
//
// It is the engine behind the Sign, VerifySignatures and Keygen targets and the only scratchkit
// package that links cosign: a team that does not sign does not import it and does not pay for
// cosign's ~1000 packages at every `mage` invocation.
//
// What it produces is what the cosign CLI produces, in the formats Options.Format asks for
// (both by default), so that cosign v3, older cosign versions and policy-controller all read it:
//
//   - Image signatures. Only digests (repo@sha256:…) are signed, never tags: a tag can be
//     repointed between push and sign. With Options.Recursive every platform manifest of an index
//     is signed as well. FormatLegacy: cosign's classic layout, a "simple signing" payload naming
//     the exact manifest digest, stored as a layer of the image at repo:sha256-<hex>.sig.
//     FormatBundle: a Sigstore bundle (v0.3) of an in-toto statement whose subject is the digest
//     (predicate https://sigstore.dev/cosign/sign/v1), attached to the digest as an OCI 1.1
//     referrer, as `cosign sign --new-bundle-format` and cosign v3 write it.
//   - Attestations: in-toto Statement v1 in DSSE envelopes about the image (and, for an index,
//     about each platform manifest listed in Subject.Manifests, with that platform's own SBOM and
//     provenance), the SPDX SBOM
//     (predicate type https://spdx.dev/Document, cosign's "spdxjson") and a SLSA provenance v1
//     (https://slsa.dev/provenance/v1, cosign's "slsaprovenance1"): at repo:sha256-<hex>.att
//     (FormatLegacy), and each in a Sigstore bundle attached as a referrer (FormatBundle).
//   - Blob signatures like `cosign sign-blob`, used for dist/SHA256SUMS (see WriteChecksums):
//     the Sigstore bundle FILE.sigstore.json (FormatBundle) and the base64 signature FILE.sig
//     (FormatLegacy).
//
// Referrers are written with cosign's own writer: through the registry's OCI 1.1 referrers API,
// or, on a registry without one (Docker's distribution 2.x), by the referrers tag schema, an
// index at repo:sha256-<hex> listing them. Signed records which was used (Signed.FallbackTag).
//
// # Keys
//
// Key-based signing takes a cosign key reference (Options.Key): a file written by GenerateKeyPair
// or `cosign generate-key-pair`, env://VAR holding the PEM, or a KMS URI (awskms://, gcpkms://,
// azurekms://, hashivault://) resolved by cosign itself. KMS providers are registered by import,
// so a magefile that signs with KMS adds e.g.
//
//	import _ "github.com/sigstore/sigstore/pkg/signature/kms/aws"
//
// scratchkit does not link the cloud SDKs for every user. The key password comes from
// Options.Password (PasswordFromEnv reads COSIGN_PASSWORD); it is never logged or put in an error.
//
// # Offline by default
//
// Nothing leaves the machine except the registry pushes unless Options.TLog is set. With TLog the
// signature, the public key (or, keyless, the certificate with the signer's identity) and the
// signed digest are uploaded to the public Rekor transparency log: anyone can then see that the
// artifact was signed, and when, and verifiers need not trust the registry's copy alone; in
// exchange the upload needs the network and publishes those facts forever. Without TLog,
// verifiers must skip the log check (`cosign verify --insecure-ignore-tlog`), and trust rests on
// the public key alone.
//
// Keyless signing (Options.Keyless) uses an ephemeral key and a short-lived Fulcio certificate
// bound to the CI job's OIDC identity (SIGSTORE_ID_TOKEN, or the GitHub Actions ambient token).
// It always uploads to Rekor, since a short-lived certificate can only be checked against the
// log's timestamp. It needs the network, so it is opt-in.
package sign
