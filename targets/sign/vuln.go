package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/cosign/attestation"
	cremote "github.com/sigstore/cosign/v2/pkg/cosign/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/types"
)

// PredicateVuln is cosign's vulnerability scan predicate (`cosign attest --type vuln`).
const PredicateVuln = attestation.CosignVulnProvenanceV01

// VulnScan is the vulnerability scan of the binary in one platform of an image, attested about
// that platform's manifest with cosign's vuln predicate.
type VulnScan struct {
	// Digest is the platform's manifest, sha256:<hex>, in the subject's repository; for a
	// single-platform image, the subject's own digest.
	Digest string
	// Platform is the platform, e.g. linux/amd64 (predicate invocation.parameters.platform).
	Platform string
	// Scanner and ScannerVersion name the scanner (predicate scanner.uri, as a package URL,
	// and scanner.version), e.g. golang.org/x/vuln and v1.9.0.
	Scanner, ScannerVersion string
	// DB is the vulnerability database's URL and DBVersion its version, e.g. its modified time
	// (predicate scanner.db).
	DB, DBVersion string
	// Result is what the scan found (predicate scanner.result), any value that marshals to JSON.
	Result any
	// Started and Finished bound the scan (predicate metadata).
	Started, Finished time.Time
}

// vulnStatement is the vuln statement about one platform manifest.
type vulnStatement struct {
	digest name.Digest
	statement
}

// vulnStatements builds the statements of a subject's scans, before anything is pushed.
func vulnStatements(d name.Digest, scans []VulnScan) ([]vulnStatement, error) {
	var out []vulnStatement
	for _, v := range scans {
		pd, err := name.NewDigest(d.Context().String()+"@"+v.Digest, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("vulnerability scan of %s: platform digest %q: %w", v.Platform, v.Digest, err)
		}
		pred := attestation.CosignVulnPredicate{
			Invocation: attestation.Invocation{
				Parameters: map[string]string{"platform": v.Platform},
				BuilderID:  "https://github.com/scratchkit/scratchkit",
			},
			Scanner: attestation.Scanner{
				URI: "pkg:golang/" + v.Scanner + "@" + v.ScannerVersion, Version: v.ScannerVersion,
				DB: attestation.DB{URI: v.DB, Version: v.DBVersion}, Result: v.Result,
			},
			Metadata: attestation.Metadata{ScanStartedOn: v.Started.UTC(), ScanFinishedOn: v.Finished.UTC()},
		}
		raw, err := json.Marshal(pred)
		if err != nil {
			return nil, fmt.Errorf("vulnerability scan of %s: %w", v.Platform, err)
		}
		st, err := attestation.GenerateStatement(attestation.GenerateOpts{
			Predicate: bytes.NewReader(raw), Type: "vuln",
			Digest: pd.DigestStr()[len("sha256:"):], Repo: pd.Repository.String(),
		})
		if err != nil {
			return nil, fmt.Errorf("vulnerability scan of %s: %w", v.Platform, err)
		}
		b, err := json.Marshal(st)
		if err != nil {
			return nil, err
		}
		out = append(out, vulnStatement{digest: pd, statement: statement{predicateType: PredicateVuln, payload: b}})
	}
	return out, nil
}

// pushVulnAttestations signs each statement and attaches it to its platform manifest (replacing
// an earlier vuln attestation there), in cosign's classic layout repo:sha256-<hex>.att.
func pushVulnAttestations(ctx context.Context, opts *Options, s *signer, stmts []vulnStatement) ([]Signed, error) {
	ropts := ociOptions(ctx, opts.Keychain, opts.Insecure)
	dd := cremote.NewDupeDetector(s.sv)
	var out []Signed
	for _, st := range stmts {
		se, err := ociremote.SignedEntity(st.digest, ropts...)
		if err != nil {
			return nil, fmt.Errorf("read %s from the registry: %w%s", st.digest, err, registryHint(err))
		}
		env, bundle, err := s.signDSSE(ctx, st.payload)
		if err != nil {
			return nil, err
		}
		att, err := static.NewAttestation(env, append(s.staticOptions(bundle),
			static.WithLayerMediaType(types.DssePayloadType),
			static.WithAnnotations(map[string]string{"predicateType": st.predicateType}))...)
		if err != nil {
			return nil, err
		}
		se, err = mutate.AttachAttestationToEntity(se, att, mutate.WithDupeDetector(dd), mutate.WithReplaceOp(replaceOp(st.predicateType)))
		if err != nil {
			return nil, fmt.Errorf("attach the vuln attestation to %s: %w", st.digest, err)
		}
		tag, err := ociremote.AttestationTag(st.digest, ropts...)
		if err != nil {
			return nil, err
		}
		if err := ociremote.WriteAttestations(st.digest.Repository, se, ropts...); err != nil {
			return nil, fmt.Errorf("the registry refused the attestation push to %s (does this account have push access to %s?): %w%s", tag, st.digest.Repository, err, registryHint(err))
		}
		atts, err := se.Attestations()
		if err != nil {
			return nil, err
		}
		h, err := atts.Digest()
		if err != nil {
			return nil, err
		}
		opts.logf("attested %s (%s) -> %s", st.digest, st.predicateType, tag)
		out = append(out, Signed{Subject: st.digest.String(), Kind: KindAttestation, PredicateType: st.predicateType, Ref: tag.String(), Digest: h.String()})
	}
	return out, nil
}

// verifyVulns checks that each scan of sub has a vuln attestation on its platform manifest that
// verifies with the key, names that manifest, and carries the scan's database version.
func verifyVulns(ctx context.Context, opts *VerifyOptions, co *cosign.CheckOpts, sub Subject) ([]Verified, error) {
	var out []Verified
	for _, v := range sub.Vulns {
		d, err := parseDigest(strings.SplitN(sub.Ref, "@", 2)[0]+"@"+v.Digest, opts.Insecure)
		if err != nil {
			return nil, err
		}
		aco := *co
		aco.ClaimVerifier = cosign.IntotoSubjectClaimVerifier
		atts, _, err := cosign.VerifyImageAttestations(ctx, d, &aco)
		if err != nil {
			return nil, diagnoseAttestations(d, co.SigVerifier, opts.PublicKey, co.RegistryClientOpts, err)
		}
		tag, _ := ociremote.AttestationTag(d, co.RegistryClientOpts...)
		var dbVersions []string
		n := 0
		for _, a := range atts {
			st, err := statementOf(a)
			if err != nil || st.PredicateType != PredicateVuln || !st.names(d) {
				continue
			}
			var p attestation.CosignVulnPredicate
			if json.Unmarshal(st.Predicate, &p) != nil {
				continue
			}
			if p.Scanner.DB.Version == v.DBVersion {
				n++
			} else {
				dbVersions = append(dbVersions, p.Scanner.DB.Version)
			}
		}
		if n == 0 {
			if len(dbVersions) > 0 {
				return nil, fmt.Errorf("the vuln attestation of %s (%s, at %s) is of a scan against database version %s, but the recorded scan is against %s: run Sign again", d, v.Platform, tag, strings.Join(dbVersions, ", "), v.DBVersion)
			}
			return nil, fmt.Errorf("no vuln attestation of %s (%s) verifies with public key %s (at %s): run Sign", d, v.Platform, opts.PublicKey, tag)
		}
		opts.logf("verified %s attestation of %s (%s)", PredicateVuln, d, v.Platform)
		out = append(out, Verified{Subject: d.String(), Kind: KindAttestation, PredicateType: PredicateVuln, Ref: tag.String(), Count: n})
	}
	return out, nil
}
