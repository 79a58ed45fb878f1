package sign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
)

// BundleMediaType is the media type of the Sigstore bundles SignImages attaches (the layer of
// each referrer manifest, and its artifactType) and SignBlob writes.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// predicateTypeAnnotation is the annotation cosign puts on a bundle's referrer manifest.
const predicateTypeAnnotation = "dev.sigstore.bundle.predicateType"

// foundBundle is a Sigstore bundle attached to an image as a referrer.
type foundBundle struct {
	ref    name.Digest // the referrer manifest
	bundle *sgbundle.Bundle
}

// statement returns the in-toto statement the bundle's DSSE envelope carries.
func (f foundBundle) statement() (inTotoStatement, error) {
	env := f.bundle.GetDsseEnvelope()
	if env == nil {
		return inTotoStatement{}, errors.New("the bundle holds no DSSE envelope")
	}
	var st inTotoStatement
	if err := json.Unmarshal(env.GetPayload(), &st); err != nil {
		return inTotoStatement{}, fmt.Errorf("the bundle's payload is not an in-toto statement: %w", err)
	}
	return st, nil
}

// listBundles returns the Sigstore bundles attached to d as OCI referrers, found through the
// registry's referrers API or, where it lacks one, the referrers tag schema. Referrers that are
// not Sigstore bundles cosign can read are skipped, as cosign skips them.
func listBundles(d name.Digest, ropts []ociremote.Option) ([]foundBundle, error) {
	idx, err := ociremote.Referrers(d, "", ropts...)
	if err != nil {
		return nil, fmt.Errorf("list the referrers of %s: %w%s", d, err, registryHint(err))
	}
	var out []foundBundle
	for _, m := range idx.Manifests {
		// Not filtered by artifactType: some registries report the config's media type there.
		ref := d.Context().Digest(m.Digest.String())
		b, err := ociremote.Bundle(ref, ropts...)
		if err != nil {
			continue
		}
		out = append(out, foundBundle{ref: ref, bundle: b})
	}
	return out, nil
}

// bundleHome is where a pushed bundle went: its referrer manifest, and the fallback tag that
// lists it when the registry has no referrers API.
type bundleHome struct {
	ref         name.Digest
	fallbackTag string
}

// pushBundle attaches a bundle to d as a referrer (cosign's own writer: the referrers API, or
// the tag schema) and finds the referrer manifest it became.
func pushBundle(d name.Digest, b []byte, predicateType string, ropts []ociremote.Option, rops []remote.Option) (bundleHome, error) {
	if err := ociremote.WriteAttestationNewBundleFormat(d, b, predicateType, ropts...); err != nil {
		hint := registryHint(err)
		var te *transport.Error
		switch {
		case hint != "":
		case errors.As(err, &te) && (te.StatusCode == http.StatusBadRequest || te.StatusCode == http.StatusUnsupportedMediaType):
			hint = " (a registry that refuses OCI 1.1 manifests with a subject needs sign.format: legacy)"
		default:
			hint = fmt.Sprintf(" (does this account have push access to %s?)", d.Repository)
		}
		return bundleHome{}, fmt.Errorf("the registry refused the bundle push for %s: %w%s", d, err, hint)
	}
	// The referrer manifest carries a creation time, so its digest is only known once it is
	// there: it is the one whose layer is this bundle.
	sum := sha256.Sum256(b)
	layer := "sha256:" + hex.EncodeToString(sum[:])
	idx, err := ociremote.Referrers(d, "", ropts...)
	if err != nil {
		return bundleHome{}, fmt.Errorf("list the referrers of %s after the push: %w", d, err)
	}
	for i := len(idx.Manifests) - 1; i >= 0; i-- {
		m := idx.Manifests[i]
		if pt, ok := m.Annotations[predicateTypeAnnotation]; ok && pt != predicateType {
			continue
		}
		ref := d.Context().Digest(m.Digest.String())
		desc, err := remote.Get(ref, rops...)
		if err != nil {
			return bundleHome{}, fmt.Errorf("read referrer %s of %s: %w", ref, d, err)
		}
		mf, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return bundleHome{}, fmt.Errorf("read referrer %s of %s: %w", ref, d, err)
		}
		if len(mf.Layers) == 1 && mf.Layers[0].Digest.String() == layer {
			return homeOf(d, ref, rops)
		}
	}
	return bundleHome{}, fmt.Errorf("the bundle pushed for %s is not among its referrers: the registry did not record it", d)
}

// homeOf says how ref, a referrer of d, is found: through the fallback tag when that tag's index
// lists it, else through the registry's referrers API.
func homeOf(d, ref name.Digest, rops []remote.Option) (bundleHome, error) {
	tag := FallbackTag(d)
	idx, err := remote.Index(tag, rops...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return bundleHome{ref: ref}, nil
		}
		return bundleHome{}, fmt.Errorf("read the referrers tag %s: %w", tag, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return bundleHome{}, fmt.Errorf("read the referrers tag %s: %w", tag, err)
	}
	for _, m := range im.Manifests {
		if m.Digest.String() == ref.DigestStr() {
			return bundleHome{ref: ref, fallbackTag: tag.String()}, nil
		}
	}
	return bundleHome{ref: ref}, nil
}

// FallbackTag is the tag of the referrers tag schema for d (repo:sha256-<hex>): on a registry
// without the OCI 1.1 referrers API, the index there lists d's referrers.
func FallbackTag(d name.Digest) name.Tag {
	return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1))
}

// keyTrust is the trusted material for verifying bundles with a public key alone: no
// certificate authority, no transparency log (cosign pairs it with the key it is given).
var keyTrust root.TrustedMaterial = root.TrustedMaterialCollection{}

// verifyBundle checks b with cosign's bundle verifier: signed by co's key, about the image d.
func verifyBundle(ctx context.Context, co *cosign.CheckOpts, d name.Digest, b *sgbundle.Bundle) error {
	raw, err := hex.DecodeString(strings.TrimPrefix(d.DigestStr(), "sha256:"))
	if err != nil {
		return err
	}
	_, err = cosign.VerifyNewBundle(ctx, co, verify.WithArtifactDigest("sha256", raw), b)
	return err
}

// keySigned reports whether b's signature verifies with v, whatever it is about: the statement
// of a DSSE envelope, or the digest a message signature records.
func keySigned(ctx context.Context, v signature.Verifier, b *sgbundle.Bundle) bool {
	co := &cosign.CheckOpts{SigVerifier: v, IgnoreTlog: true, TrustedMaterial: keyTrust}
	policy := verify.WithoutArtifactUnsafe()
	if ms := b.GetMessageSignature(); ms != nil {
		md := ms.GetMessageDigest()
		if md.GetAlgorithm() != protocommon.HashAlgorithm_SHA2_256 {
			return false
		}
		policy = verify.WithArtifactDigest("sha256", md.GetDigest())
	}
	_, err := cosign.VerifyNewBundle(ctx, co, policy, b)
	return err == nil
}

// sameStatement reports whether two in-toto statements (JSON) say the same thing.
func sameStatement(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}
