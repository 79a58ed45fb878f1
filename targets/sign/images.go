package sign

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	cremote "github.com/sigstore/cosign/v3/pkg/cosign/remote"
	"github.com/sigstore/cosign/v3/pkg/oci"
	"github.com/sigstore/cosign/v3/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	"github.com/sigstore/cosign/v3/pkg/oci/walk"
	"github.com/sigstore/cosign/v3/pkg/types"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/scratchkit/scratchkit/internal/redact"
)

// ErrNoImages is returned by SignImages and VerifyImages when there is nothing to sign.
var ErrNoImages = errors.New("no images: artifacts.json lists no image pushed to a registry (run the Image target with a registry destination first)")

// SignImages signs every subject's image digest (and, with Recursive, each manifest of an index)
// and attaches its SBOM and SLSA provenance as in-toto attestations, in the formats
// Options.Format asks for: cosign's classic layout, Sigstore bundles attached as OCI referrers,
// or both (the default).
//
// Everything that can fail before a push (key, password, SBOM, provenance, the image's presence
// in the registry) is checked first. The result lists a subject's signatures and attestations
// only once all of them were pushed: when a push fails, SignImages returns what was completed
// for earlier subjects and an error, and nothing of the failing subject is reported as signed.
// Re-signing is idempotent: an identical key-based legacy signature is not added twice, a legacy
// attestation replaces the previous one of the same predicate type, and a bundle identical to one
// already attached (same statement, same key, no transparency log) is reused, not pushed again.
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
	if err := opts.Format.check(); err != nil {
		return nil, err
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
			// A registry's upload URL in the error would show the upload's state token.
			return out, fmt.Errorf("sign %s: %w", label(sub), redact.Error(err))
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

// target is one manifest to sign or attest, and what signing it produced before the pushes.
type target struct {
	digest name.Digest
	se     oci.SignedEntity // the remote entity; with the legacy signature attached once signed
	attSE  oci.SignedEntity // the remote entity with the legacy attestations attached
	sign   bool             // sign the manifest itself
	stmts  []statement      // attest these statements about it

	bundles  []pendingBundle
	existing []foundBundle // bundles already attached, listed once (nil: not listed yet)
	listed   bool
}

// pendingBundle is a Sigstore bundle made for a target, to push or, when an identical one is
// already attached, to reuse.
type pendingBundle struct {
	kind          string
	predicateType string
	data          []byte
	reuse         *foundBundle
}

// signSubject signs one subject: its image and, where asked, the manifests under it, with their
// statements; it reports what it pushed only once every push succeeded.
func signSubject(ctx context.Context, opts *Options, s *signer, sub Subject, d name.Digest) ([]Signed, error) {
	// Statements first: a bad SBOM or provenance fails before anything is signed or pushed.
	stmts, err := statementsFor(d, sub)
	if err != nil {
		return nil, err
	}
	manifests, err := manifestStatements(sub.Manifests, opts.Insecure)
	if err != nil {
		return nil, err
	}
	ropts := ociOptions(ctx, opts.Keychain, opts.Insecure, opts.timeouts())
	rops := remoteOptions(ctx, opts.Keychain, opts.Insecure, opts.timeouts())
	ents, err := fetchEntities(ctx, d, opts.Recursive || len(manifests) > 0, ropts)
	if err != nil {
		return nil, err
	}
	targets, err := targetsOf(d, ents, stmts, manifests, opts.Recursive)
	if err != nil {
		return nil, err
	}

	// Sign everything in memory.
	for _, t := range targets {
		if err := s.signTarget(ctx, opts, t, ropts); err != nil {
			return nil, err
		}
	}

	// Push; report only when all of this subject's pushes succeeded.
	var out []Signed
	for _, t := range targets {
		got, err := pushLegacy(opts, t, ropts)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	for _, t := range targets {
		got, err := pushBundles(opts, t, ropts, rops)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// manifestStatements are the statements of each platform manifest of a subject, by digest.
func manifestStatements(manifests []Subject, insecure bool) (map[string][]statement, error) {
	out := map[string][]statement{}
	for _, m := range manifests {
		md, err := parseDigest(m.Ref, insecure)
		if err != nil {
			return nil, fmt.Errorf("platform manifest %s: %w", label(m), err)
		}
		st, err := statementsFor(md, m)
		if err != nil {
			return nil, fmt.Errorf("platform manifest %s: %w", label(m), err)
		}
		out[md.String()] = st
	}
	return out, nil
}

// targetsOf picks, of the entities fetched for the subject d (d first), those to sign or
// attest: d with the subject's statements, every manifest when recursive, and each platform
// manifest with its statements, which must all be among the entities.
func targetsOf(d name.Digest, ents []entity, stmts []statement, manifests map[string][]statement, recursive bool) ([]*target, error) {
	targets := make([]*target, 0, len(ents))
	for i, e := range ents {
		t := &target{digest: e.digest, se: e.se, attSE: e.se, sign: i == 0 || recursive}
		if i == 0 {
			t.stmts = stmts
		} else if st, ok := manifests[e.digest.String()]; ok {
			t.stmts = st
			delete(manifests, e.digest.String())
		}
		if t.sign || len(t.stmts) > 0 {
			targets = append(targets, t)
		}
	}
	if len(manifests) > 0 {
		return nil, fmt.Errorf("%s is not a manifest of the index %s: a platform's attestations go on the platform manifests the index lists", slices.Sorted(maps.Keys(manifests))[0], d)
	}
	return targets, nil
}

// pushBundles pushes t's bundles, or finds where an identical one already is, and reports each.
func pushBundles(opts *Options, t *target, ropts []ociremote.Option, rops []remote.Option) ([]Signed, error) {
	var out []Signed
	for _, b := range t.bundles {
		var home bundleHome
		var err error
		if b.reuse != nil {
			home, err = homeOf(t.digest, b.reuse.ref, rops)
		} else {
			home, err = pushBundle(t.digest, b.data, b.predicateType, ropts, rops)
		}
		if err != nil {
			return nil, err
		}
		what := "bundle"
		if b.kind == KindAttestation {
			what = PredicateName(b.predicateType) + ", bundle"
		}
		opts.logf("%s %s (%s) -> %s", verb(b.kind, b.reuse != nil), t.digest, what, home.where())
		sd := Signed{Subject: t.digest.String(), Kind: b.kind, Format: FormatBundle,
			Ref: home.ref.String(), Digest: home.ref.DigestStr(), FallbackTag: home.fallbackTag}
		if b.kind == KindAttestation {
			sd.PredicateType = b.predicateType
		}
		out = append(out, sd)
	}
	return out, nil
}

// statementsFor are the attestations of one image: its SBOM and its provenance, if any.
func statementsFor(d name.Digest, sub Subject) ([]statement, error) {
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
	if sub.Vuln != nil {
		st, err := vulnStatement(d, sub.Vuln)
		if err != nil {
			return nil, err
		}
		stmts = append(stmts, st)
	}
	return stmts, nil
}

// signTarget signs t's manifest and its statements in every format asked for, attaching the
// legacy ones to t's entities and keeping the bundles in t.bundles.
func (s *signer) signTarget(ctx context.Context, opts *Options, t *target, ropts []ociremote.Option) error {
	var ann map[string]any
	if len(opts.Annotations) > 0 {
		ann = make(map[string]any, len(opts.Annotations))
		for k, v := range opts.Annotations {
			ann[k] = v
		}
	}
	dd := cremote.NewDupeDetector(s.sv)
	if t.sign && opts.Format.legacy() {
		payload, err := (&sigpayload.Cosign{Image: t.digest, Annotations: ann}).MarshalJSON()
		if err != nil {
			return fmt.Errorf("signature payload for %s: %w", t.digest, err)
		}
		x, err := s.signPayload(ctx, payload)
		if err != nil {
			return err
		}
		sig, err := static.NewSignature(payload, b64(x.signature()), s.staticOptions(x)...)
		if err != nil {
			return err
		}
		if t.se, err = mutate.AttachSignatureToEntity(t.se, sig, mutate.WithDupeDetector(dd)); err != nil {
			return fmt.Errorf("attach signature to %s: %w", t.digest, err)
		}
	}
	if t.sign && opts.Format.bundle() {
		st, err := signatureStatement(t.digest, ann)
		if err != nil {
			return fmt.Errorf("signature of %s: %w", t.digest, err)
		}
		if err := s.addBundle(ctx, opts, t, KindSignature, st, nil, ropts); err != nil {
			return err
		}
	}
	for _, st := range t.stmts {
		x, err := s.signDSSE(ctx, st.payload)
		if err != nil {
			return err
		}
		if opts.Format.legacy() {
			env, err := x.envelope()
			if err != nil {
				return err
			}
			o := append(s.staticOptions(x),
				static.WithLayerMediaType(types.DssePayloadType),
				static.WithAnnotations(map[string]string{"predicateType": st.predicateType}))
			att, err := static.NewAttestation(env, o...)
			if err != nil {
				return err
			}
			t.attSE, err = mutate.AttachAttestationToEntity(t.attSE, att,
				mutate.WithDupeDetector(dd), mutate.WithReplaceOp(replaceOp(st.predicateType)))
			if err != nil {
				return fmt.Errorf("attach %s attestation to %s: %w", st.predicateType, t.digest, err)
			}
		}
		if opts.Format.bundle() {
			// The same envelope, and the same Rekor entry, in a bundle.
			if err := s.addBundle(ctx, opts, t, KindAttestation, st, &x, ropts); err != nil {
				return err
			}
		}
	}
	return nil
}

// addBundle makes the bundle of statement st about t (signing it unless signed is given) and
// queues it, or queues the reuse of an identical bundle already attached to t: signed with this
// key and saying the same, it would only pile up. Keyless and transparency-logged signatures
// are always new (each carries its own certificate or log entry).
func (s *signer) addBundle(ctx context.Context, opts *Options, t *target, kind string, st statement, signed *sealed, ropts []ociremote.Option) error {
	if s.cert == nil && s.tlog == nil {
		if !t.listed {
			found, err := listBundles(t.digest, ropts)
			if err != nil {
				return err
			}
			t.existing, t.listed = found, true
		}
		for i := range t.existing {
			f := &t.existing[i]
			env := f.bundle.GetDsseEnvelope()
			if env == nil || !sameStatement(env.GetPayload(), st.payload) || !keySigned(ctx, s.sv, f.bundle) {
				continue
			}
			t.bundles = append(t.bundles, pendingBundle{kind: kind, predicateType: st.predicateType, reuse: f})
			return nil
		}
	}
	if signed == nil {
		x, err := s.signDSSE(ctx, st.payload)
		if err != nil {
			return err
		}
		signed = &x
	}
	b, err := signed.json()
	if err != nil {
		return err
	}
	t.bundles = append(t.bundles, pendingBundle{kind: kind, predicateType: st.predicateType, data: b})
	return nil
}

// pushLegacy pushes t's signature and attestations in cosign's classic layout.
func pushLegacy(opts *Options, t *target, ropts []ociremote.Option) ([]Signed, error) {
	if !opts.Format.legacy() {
		return nil, nil
	}
	var out []Signed
	if t.sign {
		tag, h, err := pushLegacyTag(t.digest, t.se, KindSignature, ropts)
		if err != nil {
			return nil, err
		}
		opts.logf("signed %s -> %s", t.digest, tag)
		out = append(out, Signed{Subject: t.digest.String(), Kind: KindSignature, Format: FormatLegacy, Ref: tag.String(), Digest: h.String()})
	}
	if len(t.stmts) > 0 {
		tag, h, err := pushLegacyTag(t.digest, t.attSE, KindAttestation, ropts)
		if err != nil {
			return nil, err
		}
		for _, st := range t.stmts {
			opts.logf("attested %s (%s) -> %s", t.digest, PredicateName(st.predicateType), tag)
			out = append(out, Signed{Subject: t.digest.String(), Kind: KindAttestation, PredicateType: st.predicateType, Format: FormatLegacy, Ref: tag.String(), Digest: h.String()})
		}
	}
	return out, nil
}

// pushLegacyTag writes the signatures or the attestations (kind) attached to se, the entity of
// d, to their tag in cosign's classic layout, and returns the tag and the digest of what it
// now holds.
func pushLegacyTag(d name.Digest, se oci.SignedEntity, kind string, ropts []ociremote.Option) (name.Tag, v1.Hash, error) {
	tagOf, write, attached := ociremote.SignatureTag, ociremote.WriteSignatures, se.Signatures
	if kind == KindAttestation {
		tagOf, write, attached = ociremote.AttestationTag, ociremote.WriteAttestations, se.Attestations
	}
	tag, err := tagOf(d, ropts...)
	if err != nil {
		return name.Tag{}, v1.Hash{}, err
	}
	if err := write(d.Repository, se, ropts...); err != nil {
		return name.Tag{}, v1.Hash{}, fmt.Errorf("the registry refused the %s push to %s (does this account have push access to %s?): %w%s", kind, tag, d.Repository, err, registryHint(err))
	}
	sigs, err := attached()
	if err != nil {
		return name.Tag{}, v1.Hash{}, err
	}
	h, err := sigs.Digest()
	if err != nil {
		return name.Tag{}, v1.Hash{}, err
	}
	return tag, h, nil
}

func verb(kind string, reused bool) string {
	switch {
	case reused && kind == KindSignature:
		return "already signed"
	case reused:
		return "already attested"
	case kind == KindSignature:
		return "signed"
	}
	return "attested"
}

// where says where a bundle went, for logs and reports.
func (h bundleHome) where() string {
	if h.fallbackTag != "" {
		return h.ref.String() + ", listed by the referrers tag " + h.fallbackTag
	}
	return h.ref.String() + ", listed by the registry's referrers API"
}

// PredicateName is cosign's --type name of a predicate type ("signature" for a signature in a
// bundle), or the type itself.
func PredicateName(t string) string {
	switch t {
	case PredicateSPDX:
		return "spdxjson"
	case PredicateSLSA1:
		return "slsaprovenance1"
	case PredicateVuln:
		return "vuln"
	case PredicateCosignSign:
		return "signature"
	}
	return t
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
