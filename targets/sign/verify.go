package sign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/cosign/v3/pkg/cosign/attestation"
	"github.com/sigstore/cosign/v3/pkg/oci"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/scratchkit/scratchkit/internal/redact"
)

// VerifyImages verifies what SignImages produced for each subject, with the public key, in
// each format VerifyOptions.Format asks for (empty: whichever of the two the image has):
//
//   - every tag in Subject.Tags still names the signed digest (else: repointed tag);
//   - the manifest, and unless SkipLayers every config and layer blob, match their digests
//     (else: tampered manifest or layer);
//   - at least one signature verifies with the key and names the exact digest (else: wrong key,
//     or a signature copied from another image), for each manifest of an index too with
//     Recursive: a simple-signing payload at repo:sha256-<hex>.sig (legacy), a Sigstore bundle
//     among the digest's OCI referrers (bundle);
//   - with Subject.SBOM, an spdxjson attestation verifies, names the digest, and carries that
//     SBOM; with Subject.Provenance, a SLSA provenance v1 attestation verifies, names the digest
//     and, when Provenance.Commit is set, that commit;
//   - each of Subject.Manifests is a manifest of the index and has its own attestations, checked
//     the same way at its own digest (another platform's SBOM there fails).
//
// Every subject is checked; the returned error joins one message per failed subject, each
// saying which check failed. Each Verified says which format it checked.
func VerifyImages(ctx context.Context, opts VerifyOptions, subjects []Subject) ([]Verified, error) {
	if len(subjects) == 0 {
		return nil, ErrNoImages
	}
	if err := opts.Format.check(); err != nil {
		return nil, err
	}
	var v signature.Verifier
	var err error
	if opts.keyless() {
		if _, err := opts.identities(); err != nil {
			return nil, err
		}
	} else if v, err = loadVerifier(ctx, opts.PublicKey); err != nil {
		return nil, err
	}
	ropts := ociOptions(ctx, opts.Keychain, opts.Insecure, opts.timeouts())
	vc := &verifier{opts: &opts, ropts: ropts, v: v, co: &cosign.CheckOpts{
		SigVerifier:        v,
		IgnoreTlog:         !opts.TLog,
		ClaimVerifier:      cosign.SimpleClaimVerifier,
		RegistryClientOpts: ropts,
	}}
	if opts.keyless() {
		// The legacy layout, keyless: the certificate and the log entry's signed entry timestamp
		// in the signature's annotations, checked against the same trusted root as bundles.
		bco, err := bundleCheckOpts(ctx, nil, &opts)
		if err != nil {
			return nil, err
		}
		vc.co.Identities, vc.co.TrustedMaterial, vc.co.IgnoreSCT, vc.co.IgnoreTlog = bco.Identities, bco.TrustedMaterial, bco.IgnoreSCT, false
	} else if opts.TLog {
		vc.co.RekorPubKeys, err = cosign.GetRekorPubs(ctx)
		if err != nil {
			return nil, fmt.Errorf("checking transparency log entries needs Rekor's public key (from the Sigstore TUF repository, network, or SIGSTORE_REKOR_PUBLIC_KEY): %w", err)
		}
	}
	var out []Verified
	var errs []error
	for _, sub := range subjects {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		got, err := vc.subject(ctx, sub)
		if err != nil {
			errs = append(errs, fmt.Errorf("verify %s: %w", label(sub), redact.Error(err)))
			continue
		}
		out = append(out, got...)
	}
	return out, errors.Join(errs...)
}

// verifier holds what every subject's verification shares.
type verifier struct {
	opts  *VerifyOptions
	ropts []ociremote.Option
	v     signature.Verifier
	co    *cosign.CheckOpts // legacy layout
	bco   *cosign.CheckOpts // bundles, made when first needed
}

func (vc *verifier) subject(ctx context.Context, sub Subject) ([]Verified, error) {
	opts := vc.opts
	d, err := parseDigest(sub.Ref, opts.Insecure)
	if err != nil {
		return nil, err
	}
	ropts := remoteOptions(ctx, opts.Keychain, opts.Insecure, opts.timeouts())
	for _, t := range sub.Tags {
		if err := checkTag(t, d, opts.Insecure, ropts); err != nil {
			return nil, err
		}
	}
	children, err := checkContent(d, !opts.SkipLayers, ropts)
	if err != nil {
		return nil, err
	}
	digests := []name.Digest{d}
	if opts.Recursive {
		digests = append(digests, children...)
	}
	bundles := map[string][]foundBundle{}
	bundlesOf := func(dg name.Digest) ([]foundBundle, error) {
		if b, ok := bundles[dg.String()]; ok {
			return b, nil
		}
		b, err := listBundles(dg, vc.ropts)
		bundles[dg.String()] = b
		return b, err
	}
	formats, err := vc.formats(d, bundlesOf)
	if err != nil {
		return nil, err
	}
	// The index (or image) with the signatures, then each platform manifest's attestations.
	type part struct {
		d      name.Digest
		signed []name.Digest
		sub    Subject
	}
	parts := []part{{d, digests, sub}}
	for _, m := range sub.Manifests {
		md, err := parseDigest(m.Ref, opts.Insecure)
		if err != nil {
			return nil, fmt.Errorf("platform manifest %s: %w", label(m), err)
		}
		if !slices.ContainsFunc(children, func(c name.Digest) bool { return c.String() == md.String() }) {
			return nil, fmt.Errorf("%s is not a manifest of the index %s", md, d)
		}
		parts = append(parts, part{md, nil, m})
	}
	var out []Verified
	for _, p := range parts {
		want := attestationsOf(p.sub)
		for _, f := range formats {
			var got []Verified
			var err error
			if f == FormatBundle {
				got, err = vc.bundles(ctx, p.d, p.signed, want, p.sub, bundlesOf)
			} else {
				got, err = vc.legacy(ctx, p.d, p.signed, want, p.sub)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, got...)
		}
	}
	return out, nil
}

// attestationsOf are the predicate types a subject's attestations must have.
func attestationsOf(sub Subject) []string {
	var want []string
	if sub.SBOM != "" {
		want = append(want, PredicateSPDX)
	}
	if sub.Provenance != nil {
		want = append(want, PredicateSLSA1)
	}
	if sub.Vuln != nil {
		want = append(want, PredicateVuln)
	}
	return want
}

// formats are the formats to check for the image d: those asked for, or those it has.
func (vc *verifier) formats(d name.Digest, bundlesOf func(name.Digest) ([]foundBundle, error)) ([]Format, error) {
	switch vc.opts.Format {
	case FormatBundle:
		return []Format{FormatBundle}, nil
	case FormatLegacy:
		return []Format{FormatLegacy}, nil
	case FormatBoth:
		return []Format{FormatBundle, FormatLegacy}, nil
	}
	var out []Format
	found, err := bundlesOf(d)
	if err != nil {
		return nil, err
	}
	if len(found) > 0 {
		out = append(out, FormatBundle)
	}
	tag, err := ociremote.SignatureTag(d, vc.ropts...)
	if err != nil {
		return nil, err
	}
	if list, err := legacyList(d, tag, "signatures", vc.ropts); err != nil {
		return nil, err
	} else if len(list) > 0 {
		out = append(out, FormatLegacy)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s is not signed: no Sigstore bundle among its referrers and no signature at %s (run Sign)", d, tag)
	}
	return out, nil
}

// legacy checks the signatures of digests and the attestations of d in cosign's classic layout.
func (vc *verifier) legacy(ctx context.Context, d name.Digest, digests []name.Digest, want []string, sub Subject) ([]Verified, error) {
	co := vc.co
	var out []Verified
	for _, dg := range digests {
		sigs, _, err := cosign.VerifyImageSignatures(ctx, dg, co)
		if err != nil {
			if vc.v == nil {
				return nil, fmt.Errorf("no legacy signature of %s verifies as signed by %s: %w", dg, vc.opts.signer(), err)
			}
			return nil, diagnoseSignatures(dg, co.SigVerifier, vc.opts.PublicKey, co.RegistryClientOpts, err)
		}
		tag, _ := ociremote.SignatureTag(dg, co.RegistryClientOpts...)
		vc.opts.logf("verified %d signature(s) of %s at %s", len(sigs), dg, tag)
		out = append(out, Verified{Subject: dg.String(), Kind: KindSignature, Format: FormatLegacy, Ref: tag.String(), Count: len(sigs)})
	}
	if len(want) == 0 {
		return out, nil
	}
	aco := *co
	aco.ClaimVerifier = cosign.IntotoSubjectClaimVerifier
	atts, _, err := cosign.VerifyImageAttestations(ctx, d, &aco)
	if err != nil {
		if vc.v == nil {
			return nil, fmt.Errorf("no legacy attestation of %s verifies as signed by %s: %w", d, vc.opts.signer(), err)
		}
		return nil, diagnoseAttestations(d, co.SigVerifier, vc.opts.PublicKey, co.RegistryClientOpts, err)
	}
	tag, _ := ociremote.AttestationTag(d, co.RegistryClientOpts...)
	for _, pt := range want {
		var stmts []inTotoStatement
		for _, a := range atts {
			st, err := statementOf(a)
			if err == nil && st.PredicateType == pt {
				stmts = append(stmts, st)
			}
		}
		if len(stmts) == 0 {
			return nil, fmt.Errorf("no %s attestation of %s verifies with %s (at %s): run Sign", pt, d, vc.opts.signer(), tag)
		}
		if err := checkPredicate(pt, stmts, sub); err != nil {
			return nil, err
		}
		vc.opts.logf("verified %s attestation of %s at %s", PredicateName(pt), d, tag)
		out = append(out, Verified{Subject: d.String(), Kind: KindAttestation, PredicateType: pt, Format: FormatLegacy, Ref: tag.String(), Count: len(stmts)})
	}
	return out, nil
}

// verifiedBundle is a bundle that verified, with its statement.
type verifiedBundle struct {
	foundBundle
	st inTotoStatement
}

// bundles checks the signatures of digests and the attestations of d among their Sigstore
// bundles.
func (vc *verifier) bundles(ctx context.Context, d name.Digest, digests []name.Digest, want []string, sub Subject, bundlesOf func(name.Digest) ([]foundBundle, error)) ([]Verified, error) {
	if vc.bco == nil {
		co, err := bundleCheckOpts(ctx, vc.v, vc.opts)
		if err != nil {
			return nil, err
		}
		vc.bco = co
	}
	results := map[string]bundleCheck{}
	checked := func(dg name.Digest) (bundleCheck, error) {
		if r, ok := results[dg.String()]; ok {
			return r, nil
		}
		r, err := vc.checkBundles(ctx, dg, bundlesOf)
		results[dg.String()] = r
		return r, err
	}
	var out []Verified
	for _, dg := range digests {
		r, err := checked(dg)
		if err != nil {
			return nil, err
		}
		sigs := r.ofType(PredicateCosignSign)
		if len(sigs) == 0 {
			return nil, diagnoseBundles(ctx, dg, PredicateCosignSign, r.found, vc.v, vc.opts, r.errs)
		}
		vc.opts.logf("verified %d signature bundle(s) of %s, e.g. %s", len(sigs), dg, sigs[0].ref)
		out = append(out, Verified{Subject: dg.String(), Kind: KindSignature, Format: FormatBundle, Ref: sigs[0].ref.String(), Count: len(sigs)})
	}
	if len(want) == 0 {
		return out, nil
	}
	r, err := checked(d)
	if err != nil {
		return nil, err
	}
	for _, pt := range want {
		atts := r.ofType(pt)
		if len(atts) == 0 {
			return nil, diagnoseBundles(ctx, d, pt, r.found, vc.v, vc.opts, r.errs)
		}
		stmts := make([]inTotoStatement, len(atts))
		for i, a := range atts {
			stmts[i] = a.st
		}
		if err := checkPredicate(pt, stmts, sub); err != nil {
			return nil, err
		}
		vc.opts.logf("verified %s attestation bundle of %s, %s", PredicateName(pt), d, atts[0].ref)
		out = append(out, Verified{Subject: d.String(), Kind: KindAttestation, PredicateType: pt, Format: FormatBundle, Ref: atts[0].ref.String(), Count: len(atts)})
	}
	return out, nil
}

// bundleCheck is what verifying the bundles attached to one digest found.
type bundleCheck struct {
	ok    []verifiedBundle // verified, with a statement about the digest
	found []foundBundle    // all of them
	errs  []error          // why the others did not verify
}

// checkBundles verifies every bundle attached to dg.
func (vc *verifier) checkBundles(ctx context.Context, dg name.Digest, bundlesOf func(name.Digest) ([]foundBundle, error)) (bundleCheck, error) {
	found, err := bundlesOf(dg)
	if err != nil {
		return bundleCheck{}, err
	}
	r := bundleCheck{found: found}
	for _, f := range found {
		if err := verifyBundle(ctx, vc.bco, dg, f.bundle); err != nil {
			r.errs = append(r.errs, err)
			continue
		}
		if st, err := f.statement(); err == nil && st.names(dg) {
			r.ok = append(r.ok, verifiedBundle{f, st})
		}
	}
	return r, nil
}

// ofType are the verified bundles whose statement has predicate type pt.
func (r bundleCheck) ofType(pt string) []verifiedBundle {
	var out []verifiedBundle
	for _, b := range r.ok {
		if b.st.PredicateType == pt {
			out = append(out, b)
		}
	}
	return out
}

// diagnoseBundles explains why no bundle of predicate type pt about d verified: none attached,
// wrong key, a bundle about another image, or what the verifier said.
func diagnoseBundles(ctx context.Context, d name.Digest, pt string, found []foundBundle, v signature.Verifier, opts *VerifyOptions, errs []error) error {
	keyRef := opts.PublicKey
	what := PredicateName(pt) + " attestation"
	if pt == PredicateCosignSign {
		what = "signature"
	}
	var of []foundBundle
	for _, f := range found {
		if st, err := f.statement(); err == nil && st.PredicateType == pt {
			of = append(of, f)
		}
	}
	if len(of) == 0 {
		if pt == PredicateCosignSign {
			return fmt.Errorf("%s is not signed: no signature bundle among its referrers (run Sign with sign.format bundle or both)", d)
		}
		return fmt.Errorf("%s has no %s bundle among its referrers (run Sign with sign.format bundle or both)", d, what)
	}
	var signed []foundBundle
	for _, f := range of {
		if v == nil || keySigned(ctx, v, f.bundle) {
			signed = append(signed, f)
		}
	}
	if len(signed) == 0 {
		return fmt.Errorf("no %s bundle of %s verifies with public key %s: it was signed with a different key (%d bundle(s) among its referrers, e.g. %s)", what, d, keyRef, len(of), of[0].ref)
	}
	for _, f := range signed {
		if st, err := f.statement(); err == nil && !st.names(d) {
			var about []string
			for _, s := range st.Subject {
				about = append(about, "sha256:"+s.Digest["sha256"])
			}
			return fmt.Errorf("the %s bundle %s is about %s, not %s: a bundle made for another image is not accepted", what, f.ref, strings.Join(about, ", "), d.DigestStr())
		}
	}
	err := errors.Join(errs...)
	if hint := opts.keylessHint(err); hint != "" {
		return fmt.Errorf("no %s bundle of %s verifies as signed by %s: %w%s", what, d, opts.signer(), err, hint)
	}
	return fmt.Errorf("%s bundles of %s: %w", what, d, err)
}

// checkTag fails when tag no longer names d.
func checkTag(t string, d name.Digest, insecure bool, ropts []remote.Option) error {
	tag, err := name.NewTag(t, nameOptions(insecure)...)
	if err != nil {
		return fmt.Errorf("tag %q: %w", t, err)
	}
	desc, err := remote.Head(tag, ropts...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == 404 {
			return fmt.Errorf("tag %s no longer exists in the registry (it named %s when it was signed)", tag, d.DigestStr())
		}
		return fmt.Errorf("resolve tag %s: %w", tag, err)
	}
	if desc.Digest.String() != d.DigestStr() {
		return fmt.Errorf("tag %s was repointed: it names %s now, but the signed image is %s", tag, desc.Digest, d.DigestStr())
	}
	return nil
}

// checkContent fetches the manifest at d (go-containerregistry checks it against the digest)
// and, with layers, every config and layer blob under it. It returns the digests of the
// manifests an index references.
func checkContent(d name.Digest, layers bool, ropts []remote.Option) ([]name.Digest, error) {
	desc, err := remote.Get(d, ropts...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == 404 {
			return nil, fmt.Errorf("%s is not in the registry (deleted, or pushed elsewhere?)", d)
		}
		return nil, fmt.Errorf("fetch %s: %w (a manifest that does not match its digest has been tampered with)", d, err)
	}
	if !desc.MediaType.IsIndex() {
		if layers {
			img, err := desc.Image()
			if err != nil {
				return nil, fmt.Errorf("read image %s: %w", d, err)
			}
			return nil, checkBlobs(d, img, ropts)
		}
		return nil, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", d, err)
	}
	var children []name.Digest
	for _, m := range im.Manifests {
		cd := d.Context().Digest(m.Digest.String())
		children = append(children, cd)
		if m.MediaType.IsIndex() {
			grand, err := checkContent(cd, layers, ropts)
			if err != nil {
				return nil, err
			}
			children = append(children, grand...)
			continue
		}
		if !m.MediaType.IsImage() {
			continue
		}
		img, err := idx.Image(m.Digest)
		if err != nil {
			return nil, fmt.Errorf("fetch manifest %s of %s: %w (a manifest that does not match its digest has been tampered with)", m.Digest, d, err)
		}
		if layers {
			if err := checkBlobs(cd, img, ropts); err != nil {
				return nil, err
			}
		}
	}
	return children, nil
}

// checkBlobs downloads the config and every layer of img and compares them with the digests
// its manifest records.
func checkBlobs(d name.Digest, img v1.Image, ropts []remote.Option) error {
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("read manifest %s: %w", d, err)
	}
	check := func(kind string, want v1.Hash) error {
		l, err := remote.Layer(d.Context().Digest(want.String()), ropts...)
		if err != nil {
			return fmt.Errorf("fetch %s %s of %s: %w", kind, want, d, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("fetch %s %s of %s: %w", kind, want, d, err)
		}
		defer rc.Close()
		h := sha256.New()
		_, rerr := io.Copy(h, rc)
		got := "sha256:" + hex.EncodeToString(h.Sum(nil))
		if got != want.String() {
			return fmt.Errorf("tampered %s in %s: the registry serves %s with content whose digest is %s", kind, d, want, got)
		}
		if rerr != nil {
			return fmt.Errorf("read %s %s of %s: %w", kind, want, d, rerr)
		}
		return nil
	}
	if err := check("config", m.Config.Digest); err != nil {
		return err
	}
	for _, l := range m.Layers {
		if err := check("layer", l.Digest); err != nil {
			return err
		}
	}
	return nil
}

// legacyList reads the signatures or attestations (what) of d held by their tag in cosign's
// classic layout.
func legacyList(d name.Digest, tag name.Tag, what string, ropts []ociremote.Option) ([]oci.Signature, error) {
	sigs, err := ociremote.Signatures(tag, ropts...)
	if err != nil {
		return nil, fmt.Errorf("fetch %s of %s from %s: %w", what, d, tag, err)
	}
	list, err := sigs.Get()
	if err != nil {
		return nil, fmt.Errorf("read %s of %s from %s: %w", what, d, tag, err)
	}
	return list, nil
}

// diagnoseSignatures explains why no signature of d verified: none pushed, wrong key, or a
// signature whose payload names another digest.
func diagnoseSignatures(d name.Digest, v signature.Verifier, keyRef string, ropts []ociremote.Option, cause error) error {
	tag, err := ociremote.SignatureTag(d, ropts...)
	if err != nil {
		return err
	}
	list, err := legacyList(d, tag, "signatures", ropts)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return fmt.Errorf("%s is not signed: no signature at %s (run Sign)", d, tag)
	}
	var keyMatches bool
	var others []string
	for _, s := range list {
		payload, err := s.Payload()
		if err != nil {
			continue
		}
		b64sig, err := s.Base64Signature()
		if err != nil {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64sig)
		if err != nil {
			continue
		}
		if v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(payload)) != nil {
			continue
		}
		keyMatches = true
		var p sigpayload.SimpleContainerImage
		if json.Unmarshal(payload, &p) == nil && p.Critical.Image.DockerManifestDigest != d.DigestStr() {
			others = append(others, p.Critical.Image.DockerManifestDigest)
		}
	}
	switch {
	case !keyMatches:
		return fmt.Errorf("no signature of %s verifies with public key %s: it was signed with a different key (%d signature(s) at %s)", d, keyRef, len(list), tag)
	case len(others) > 0:
		return fmt.Errorf("the signature at %s names %s, not %s: a signature made for another image (copied, or a repointed tag) is not accepted", tag, others[0], d.DigestStr())
	}
	return fmt.Errorf("signatures of %s at %s: %w", d, tag, cause)
}

// diagnoseAttestations explains why no attestation of d verified.
func diagnoseAttestations(d name.Digest, v signature.Verifier, keyRef string, ropts []ociremote.Option, cause error) error {
	tag, err := ociremote.AttestationTag(d, ropts...)
	if err != nil {
		return err
	}
	list, err := legacyList(d, tag, "attestations", ropts)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return fmt.Errorf("%s has no attestations: nothing at %s (run Sign)", d, tag)
	}
	dv := dsse.WrapVerifier(v)
	var keyMatches bool
	var others []string
	for _, a := range list {
		env, err := a.Payload()
		if err != nil {
			continue
		}
		if dv.VerifySignature(bytes.NewReader(env), nil) != nil {
			continue
		}
		keyMatches = true
		if st, err := statementOf(a); err == nil && !st.names(d) {
			for _, s := range st.Subject {
				others = append(others, "sha256:"+s.Digest["sha256"])
			}
		}
	}
	switch {
	case !keyMatches:
		return fmt.Errorf("no attestation of %s verifies with public key %s: it was signed with a different key (%d attestation(s) at %s)", d, keyRef, len(list), tag)
	case len(others) > 0:
		return fmt.Errorf("the attestation at %s is about %s, not %s: an attestation made for another image is not accepted", tag, others[0], d.DigestStr())
	}
	return fmt.Errorf("attestations of %s at %s: %w", d, tag, cause)
}

// inTotoStatement is the part of an in-toto statement verification reads.
type inTotoStatement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate json.RawMessage `json:"predicate"`
}

func (st inTotoStatement) names(d name.Digest) bool {
	for _, s := range st.Subject {
		if "sha256:"+s.Digest["sha256"] == d.DigestStr() {
			return true
		}
	}
	return false
}

// statementOf decodes the in-toto statement inside an attestation's DSSE envelope.
func statementOf(a oci.Signature) (inTotoStatement, error) {
	env, err := a.Payload()
	if err != nil {
		return inTotoStatement{}, err
	}
	var e struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal(env, &e); err != nil {
		return inTotoStatement{}, fmt.Errorf("attestation is not a DSSE envelope: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return inTotoStatement{}, fmt.Errorf("attestation payload is not base64: %w", err)
	}
	var st inTotoStatement
	if err := json.Unmarshal(raw, &st); err != nil {
		return inTotoStatement{}, fmt.Errorf("attestation payload is not an in-toto statement: %w", err)
	}
	return st, nil
}

func predicateTypeOf(a oci.Signature) (string, error) {
	st, err := statementOf(a)
	return st.PredicateType, err
}

// checkPredicate compares the attested predicates with what the subject records: the SBOM file
// itself, and the source commit of the provenance. One matching attestation is enough.
func checkPredicate(pt string, stmts []inTotoStatement, sub Subject) error {
	switch pt {
	case PredicateSPDX:
		raw, err := os.ReadFile(sub.SBOM)
		if err != nil {
			return fmt.Errorf("read SBOM %s to compare with the attested one: %w", sub.SBOM, err)
		}
		var local any
		if err := json.Unmarshal(raw, &local); err != nil {
			return fmt.Errorf("SBOM %s is not JSON: %w", sub.SBOM, err)
		}
		for _, st := range stmts {
			var attested any
			if json.Unmarshal(st.Predicate, &attested) == nil && reflect.DeepEqual(local, attested) {
				return nil
			}
		}
		return fmt.Errorf("the attested SBOM of %s differs from %s: the SBOM changed after signing, or belongs to another build", sub.Ref, sub.SBOM)
	case PredicateVuln:
		if sub.Vuln == nil {
			return nil
		}
		var versions []string
		for _, st := range stmts {
			var p attestation.CosignVulnPredicate
			if json.Unmarshal(st.Predicate, &p) != nil {
				continue
			}
			if p.Scanner.DB.Version == sub.Vuln.DBVersion {
				return nil
			}
			versions = append(versions, p.Scanner.DB.Version)
		}
		return fmt.Errorf("the vuln attestation of %s is of a scan against database version %s, but the recorded scan is against %s: run Sign again", sub.Ref, strings.Join(versions, ", "), sub.Vuln.DBVersion)
	case PredicateSLSA1:
		if sub.Provenance == nil || sub.Provenance.Commit == "" {
			return nil
		}
		var commits []string
		for _, st := range stmts {
			var p struct {
				BuildDefinition struct {
					ResolvedDependencies []struct {
						Digest map[string]string `json:"digest"`
					} `json:"resolvedDependencies"`
				} `json:"buildDefinition"`
			}
			if json.Unmarshal(st.Predicate, &p) != nil {
				continue
			}
			for _, dep := range p.BuildDefinition.ResolvedDependencies {
				if c, ok := dep.Digest["gitCommit"]; ok {
					if c == sub.Provenance.Commit {
						return nil
					}
					commits = append(commits, c)
				}
			}
		}
		return fmt.Errorf("the attested provenance of %s names source commit %v, not %s", sub.Ref, commits, sub.Provenance.Commit)
	}
	return nil
}
