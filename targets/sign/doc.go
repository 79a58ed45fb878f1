// Package sign signs and verifies what scratchkit built, with sigstore/cosign v2 as a library.
//
// It is the engine behind the Sign, VerifySignatures and Keygen targets and the only scratchkit
// package that links cosign: a team that does not sign does not import it and does not pay for
// cosign's ~1000 packages at every `mage` invocation.
//
// What it produces is what the cosign CLI produces, so every cosign and policy-controller version
// reads it:
//
//   - Image signatures in cosign's classic layout: a "simple signing" payload naming the exact
//     manifest digest, stored as a layer of the image at repo:sha256-<hex>.sig. SignImages signs
//     only digests (repo@sha256:…), never tags: a tag can be repointed between push and sign.
//     With Options.Recursive every platform manifest of an index is signed as well.
//   - In-toto attestations (DSSE envelopes) at repo:sha256-<hex>.att: the SPDX SBOM
//     (predicate type https://spdx.dev/Document, cosign's "spdxjson") and a SLSA provenance v1
//     statement (https://slsa.dev/provenance/v1, cosign's "slsaprovenance1").
//   - Blob signatures like `cosign sign-blob`: the base64 ECDSA signature of a file, used for
//     dist/SHA256SUMS (see WriteChecksums), checked by `cosign verify-blob --key cosign.pub
//     --signature SHA256SUMS.sig SHA256SUMS`.
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
