package sign

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	cremote "github.com/sigstore/cosign/v2/pkg/cosign/remote"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/oci/walk"
	"github.com/sigstore/cosign/v2/pkg/types"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"
)

// ErrNoImages is returned by SignImages and VerifyImages when there is nothing to sign.
var ErrNoImages = errors.New("no images: artifacts.json lists no image pushed to a registry (run the Image target with a registry destination first)")

// SignImages signs every subject's image digest (and, with Recursive, each manifest of an index)
// and attaches its SBOM and SLSA provenance as in-toto attestations, and each platform's
// vulnerability scan to that platform's manifest, in cosign's classic layout.
//
// Everything that can fail before a push (key, password, SBOM, provenance, the image's presence
// in the registry) is checked first. The result lists a subject's signature and attestations
// only once all of them were pushed: when a push fails, SignImages returns what was completed
// for earlier subjects and an error, and nothing of the failing subject is reported as signed.
// Re-signing is idempotent: an identical key-based signature is not added twice, and an
// attestation replaces the previous one of the same predicate type.
func SignImages(ctx context.Context, opts Options, subjects []Subject) ([]Signed, error) {
	if len(subjects) == 0 {
		return nil, ErrNoImages
	}
	digests := make([]name.Digest, len(subjects))
	for i, sub := range subjects {
		d, err := parseDigest(sub.Ref, opts.Insecure)
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", label(sub), err)
		}
		digests[i] = d
	}
	s, err := newSigner(ctx, &opts)
	if err != nil {
		return nil, err
	}
	var out []Signed
	for i, sub := range subjects {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		signed, err := signSubject(ctx, &opts, s, sub, digests[i])
		if err != nil {
			return out, fmt.Errorf("sign %s: %w", label(sub), err)
		}
		out = append(out, signed...)
	}
	return out, nil
}

// registryHint says what to check when the registry turned the request down for lack of
// credentials or permission.
func registryHint(err error) string {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized:
			return " (check the registry credentials: docker login, or the config.json in DOCKER_CONFIG)"
		case http.StatusForbidden:
			return " (the registry account lacks permission for this repository)"
		}
	}
	return ""
}

func label(sub Subject) string {
	if sub.Name != "" && sub.Name != sub.Ref {
		return fmt.Sprintf("%s (%s)", sub.Name, sub.Ref)
	}
	return sub.Ref
}

// entity is one manifest to sign and its remote view.
type entity struct {
	digest name.Digest
	se     oci.SignedEntity
}

// fetchEntities returns the image at d and, if recursive, every manifest under it.
func fetchEntities(ctx context.Context, d name.Digest, recursive bool, ropts []ociremote.Option) ([]entity, error) {
	se, err := ociremote.SignedEntity(d, ropts...)
	if err != nil {
		var nf *ociremote.EntityNotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("%s is not in the registry: only what Image pushed can be signed (was it pushed, and to this registry?)", d)
		}
		return nil, fmt.Errorf("read %s from the registry: %w%s", d, err, registryHint(err))
	}
	if !recursive {
		return []entity{{digest: d, se: se}}, nil
	}
	var out []entity
	seen := map[string]bool{}
	err = walk.SignedEntity(ctx, se, func(_ context.Context, e oci.SignedEntity) error {
		dg, ok := e.(interface{ Digest() (v1.Hash, error) })
		if !ok {
			return fmt.Errorf("manifest under %s has no digest", d)
		}
		h, err := dg.Digest()
		if err != nil {
			return err
		}
		if seen[h.String()] {
			return nil
		}
		seen[h.String()] = true
		out = append(out, entity{digest: d.Context().Digest(h.String()), se: e})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk the manifests of %s: %w", d, err)
	}
	return out, nil
}

func signSubject(ctx context.Context, opts *Options, s *signer, sub Subject, d name.Digest) ([]Signed, error) {
	// Statements first: a bad SBOM or provenance fails before anything is signed or pushed.
	var stmts []statement
	if sub.SBOM != "" {
		st, err := sbomStatement(d, sub.SBOM)
		if err != nil {
			return nil, err
		}
		stmts = append(stmts, st)
	}
	if sub.Provenance != nil {
		st, err := provenanceStatement(d, sub.Provenance)
		if err != nil {
			return nil, err
		}
		stmts = append(stmts, st)
	}
	// The vuln statements about the platform manifests; one about d itself (a single-platform
	// image) joins d's attestations.
	vstmts, err := vulnStatements(d, sub.Vulns)
	if err != nil {
		return nil, err
	}
	var platformStmts []vulnStatement
	for _, v := range vstmts {
		if v.digest == d {
			stmts = append(stmts, v.statement)
		} else {
			platformStmts = append(platformStmts, v)
		}
	}
	ropts := ociOptions(ctx, opts.Keychain, opts.Insecure)
	ents, err := fetchEntities(ctx, d, opts.Recursive, ropts)
	if err != nil {
		return nil, err
	}
	var ann map[string]any
	if len(opts.Annotations) > 0 {
		ann = make(map[string]any, len(opts.Annotations))
		for k, v := range opts.Annotations {
			ann[k] = v
		}
	}
	dd := cremote.NewDupeDetector(s.sv)

	// Sign everything in memory.
	signedEnts := make([]oci.SignedEntity, len(ents))
	for i, e := range ents {
		payload, err := (&sigpayload.Cosign{Image: e.digest, Annotations: ann}).MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("signature payload for %s: %w", e.digest, err)
		}
		raw, bundle, err := s.signPayload(ctx, payload)
		if err != nil {
			return nil, err
		}
		sig, err := static.NewSignature(payload, b64(raw), s.staticOptions(bundle)...)
		if err != nil {
			return nil, err
		}
		se, err := mutate.AttachSignatureToEntity(e.se, sig, mutate.WithDupeDetector(dd))
		if err != nil {
			return nil, fmt.Errorf("attach signature to %s: %w", e.digest, err)
		}
		signedEnts[i] = se
	}
	attSE := ents[0].se
	for _, st := range stmts {
		env, bundle, err := s.signDSSE(ctx, st.payload)
		if err != nil {
			return nil, err
		}
		o := append(s.staticOptions(bundle),
			static.WithLayerMediaType(types.DssePayloadType),
			static.WithAnnotations(map[string]string{"predicateType": st.predicateType}))
		att, err := static.NewAttestation(env, o...)
		if err != nil {
			return nil, err
		}
		attSE, err = mutate.AttachAttestationToEntity(attSE, att,
			mutate.WithDupeDetector(dd), mutate.WithReplaceOp(replaceOp(st.predicateType)))
		if err != nil {
			return nil, fmt.Errorf("attach %s attestation to %s: %w", st.predicateType, d, err)
		}
	}

	// Push; report only when all of this subject's pushes succeeded.
	var out []Signed
	for i, e := range ents {
		tag, err := ociremote.SignatureTag(e.digest, ropts...)
		if err != nil {
			return nil, err
		}
		if err := ociremote.WriteSignatures(e.digest.Repository, signedEnts[i], ropts...); err != nil {
			return nil, fmt.Errorf("the registry refused the signature push to %s (does this account have push access to %s?): %w%s", tag, e.digest.Repository, err, registryHint(err))
		}
		sigs, err := signedEnts[i].Signatures()
		if err != nil {
			return nil, err
		}
		h, err := sigs.Digest()
		if err != nil {
			return nil, err
		}
		opts.logf("signed %s -> %s", e.digest, tag)
		out = append(out, Signed{Subject: e.digest.String(), Kind: KindSignature, Ref: tag.String(), Digest: h.String()})
	}
	if len(stmts) > 0 {
		tag, err := ociremote.AttestationTag(d, ropts...)
		if err != nil {
			return nil, err
		}
		if err := ociremote.WriteAttestations(d.Repository, attSE, ropts...); err != nil {
			return nil, fmt.Errorf("the registry refused the attestation push to %s (does this account have push access to %s?): %w%s", tag, d.Repository, err, registryHint(err))
		}
		atts, err := attSE.Attestations()
		if err != nil {
			return nil, err
		}
		h, err := atts.Digest()
		if err != nil {
			return nil, err
		}
		for _, st := range stmts {
			opts.logf("attested %s (%s) -> %s", d, st.predicateType, tag)
			out = append(out, Signed{Subject: d.String(), Kind: KindAttestation, PredicateType: st.predicateType, Ref: tag.String(), Digest: h.String()})
		}
	}
	vs, err := pushVulnAttestations(ctx, opts, s, platformStmts)
	if err != nil {
		return nil, err
	}
	return append(out, vs...), nil
}

// replaceOp drops earlier attestations of the same predicate type when a new one is attached
// (what `cosign attest --replace` does), so re-signing does not pile attestations up. Layers it
// cannot read are kept.
type replaceOp string

func (r replaceOp) Replace(sigs oci.Signatures, att oci.Signature) (oci.Signatures, error) {
	existing, err := sigs.Get()
	if err != nil {
		return nil, err
	}
	keep := []oci.Signature{att}
	for _, e := range existing {
		if pt, err := predicateTypeOf(e); err == nil && pt == string(r) {
			continue
		}
		keep = append(keep, e)
	}
	return attestationList{Signatures: sigs, list: keep}, nil
}

type attestationList struct {
	oci.Signatures
	list []oci.Signature
}

func (a attestationList) Get() ([]oci.Signature, error) { return a.list, nil }
