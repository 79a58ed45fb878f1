// Package signstage runs the engine's signing stages: Sign, SignRecorded, VerifySignatures,
// Keygen and Release. It is apart from package engine because it links cosign, which only the
// full engine pays for.
package signstage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/engine"
	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/sign"
)

// StageSign names the signing stage.
const StageSign = "sign"

// Sign signs every image digest Image pushed to a registry, attests its SBOM and provenance, and
// signs dist/SHA256SUMS of the release binaries, after Image; everything is recorded in
// artifacts.json.
func Sign(ctx context.Context, e *engine.Run) error {
	if err := e.Image(ctx); err != nil {
		return err
	}
	return SignRecorded(ctx, e)
}

// SignRecorded is Sign of the image digests artifacts.json records, without running Image first.
func SignRecorded(ctx context.Context, e *engine.Run) error {
	return e.Stage(ctx, StageSign, func(ctx context.Context) error { return signImages(ctx, e) })
}

// Release runs Build, Verify, Image, Smoke and Sign, each once, and prints what went where.
func Release(ctx context.Context, e *engine.Run) error {
	if err := e.Smoke(ctx); err != nil {
		return err
	}
	if err := Sign(ctx, e); err != nil {
		return err
	}
	return e.Summary(ctx)
}

func signImages(ctx context.Context, e *engine.Run) error {
	rec, err := e.Record()
	if err != nil {
		return err
	}
	opts, err := options(e)
	if err != nil {
		return err
	}
	subjects, about, err := subjects(ctx, e, rec, true)
	if err != nil {
		return err
	}
	signed, signErr := sign.SignImages(ctx, opts, subjects)
	rec.Signatures, rec.Attestations = nil, nil
	for _, s := range signed {
		a := about[s.Subject]
		entry := artifacts.Signature{Image: a.image, Subject: s.Subject, Platform: a.platform, Format: string(s.Format),
			Ref: s.Ref, Digest: s.Digest, FallbackTag: s.FallbackTag, PredicateType: s.PredicateType}
		if s.PredicateType == sign.PredicateSPDX && a.sbom != "" {
			entry.SBOM = e.Rel(a.sbom)
		}
		if s.Kind == sign.KindAttestation {
			rec.Attestations = append(rec.Attestations, entry)
		} else {
			rec.Signatures = append(rec.Signatures, entry)
		}
	}
	if signErr == nil && e.Config.Sign.SignChecksums() {
		signErr = checksums(ctx, e, rec, opts)
	}
	if signErr == nil {
		signErr = trustedRoot(e, rec, opts)
	}
	if err := e.Save(); err != nil {
		return err
	}
	report(e, rec)
	if signErr != nil {
		return fmt.Errorf("sign: %w", signErr)
	}
	return nil
}

// options maps the sign: configuration onto the engine's options.
func options(e *engine.Run) (sign.Options, error) {
	o := sign.Options{
		Key: e.Config.Sign.Key, Password: sign.PasswordFromEnv(), Keyless: e.Config.Sign.Keyless, TLog: e.Config.Sign.TLog,
		Recursive: e.Config.Sign.Recursive, Format: sign.Format(e.Config.Sign.Format),
		FulcioURL: e.Config.Sign.FulcioURL, RekorURL: e.Config.Sign.RekorURL,
		IdentityToken: e.Config.Sign.IdentityToken, TimestampURL: e.Config.Sign.Timestamp, SigningConfig: refOf(e, e.Config.Sign.SigningConfig),
		Insecure:        e.Config.Image.Insecure,
		ResponseTimeout: e.Config.Image.ResponseTimeout.D(), RequestTimeout: e.Config.Image.RequestTimeout.D(),
		Log: func(f string, a ...any) { e.UI.Info(f, a...) },
	}
	if !o.Keyless {
		if o.Key == "" {
			o.Key = filepath.Join(e.Dir, sign.PrivateKeyFile)
		}
		if !strings.Contains(o.Key, "://") && !filepath.IsAbs(o.Key) {
			o.Key = e.Abs(o.Key)
		}
		if !strings.Contains(o.Key, "://") {
			if _, err := os.Stat(o.Key); err != nil {
				return o, fmt.Errorf("%s: sign.key: %s: %v; create a key pair with `mage keygen` (cosign's format, COSIGN_PASSWORD encrypts it), set sign.key or COSIGN_KEY, or set sign.keyless: true in CI", e.Config.Where("sign.key"), o.Key, errors.Unwrap(err))
			}
		}
		if pub := publicKey(e); pub != "" {
			o.PublicKey = pub
		}
	}
	return o, nil
}

// publicKey is sign.pub when set, else cosign.pub when it exists.
func publicKey(e *engine.Run) string {
	if e.Config.Sign.Pub != "" {
		return e.Abs(e.Config.Sign.Pub)
	}
	p := filepath.Join(e.Dir, sign.PublicKeyFile)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// trustedRoot writes dist/trusted_root.json when what was signed verifies against a trusted
// root of scratchkit's writing (key-based bundles, no transparency log), so that cosign v2.6.3
// and later verify offline with --trusted-root; else it removes an earlier run's.
//
// With sign.trusted_root (a private Sigstore deployment's), that trusted root is what is copied
// there instead, whatever was signed.
func trustedRoot(e *engine.Run, rec *artifacts.Artifacts, opts sign.Options) error {
	p := filepath.Join(e.DistDir(), sign.TrustedRootFile)
	rec.TrustedRoot = ""
	signed := len(rec.Signatures) > 0 || rec.Checksums != nil
	if ref := trustedRootRef(e); ref != "" && signed {
		data, _, err := sign.ReadTrustedRoot(context.Background(), ref)
		if err != nil {
			return fmt.Errorf("%s: sign.trusted_root: %w", e.Config.Where("sign.trusted_root"), err)
		}
		if err := atomicfile.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("write the trusted root %s: %w", e.Rel(p), err)
		}
		rec.TrustedRoot = e.Rel(p)
		return nil
	}
	if !opts.NeedsTrustedRoot() || !signed {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the stale %s: %w", e.Rel(p), err)
		}
		return nil
	}
	if err := sign.WriteTrustedRoot(p); err != nil {
		return err
	}
	rec.TrustedRoot = e.Rel(p)
	return nil
}

// trustedRootRef is sign.trusted_root: a URL as it is, a file relative to the project.
func trustedRootRef(e *engine.Run) string { return refOf(e, e.Config.Sign.TrustedRoot) }

// refOf is a file-or-URL key's value: a URL as it is, a file relative to the project.
func refOf(e *engine.Run, ref string) string {
	if ref == "" || strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://") {
		return ref
	}
	return e.Abs(ref)
}

// checksums writes dist/SHA256SUMS of every binary and SBOM and signs it like cosign sign-blob.
func checksums(ctx context.Context, e *engine.Run, rec *artifacts.Artifacts, opts sign.Options) error {
	dist := e.DistDir()
	var files []string
	seen := map[string]bool{}
	add := func(p string) {
		abs := e.Abs(p)
		// Only what this run has in dist: after mage index, the platform SBOMs stay on their runners.
		if rel, err := filepath.Rel(dist, abs); err != nil || strings.HasPrefix(rel, "..") || seen[abs] {
			return
		}
		if _, err := os.Stat(abs); err != nil {
			return
		}
		seen[abs] = true
		files = append(files, abs)
	}
	for _, b := range rec.Binaries {
		add(b.Path)
	}
	for _, img := range rec.Images {
		for _, m := range img.Manifests {
			if m.SBOM != "" {
				add(m.SBOM)
			}
		}
		if isIndex(img) {
			add(indexSBOMPath(e, img))
		}
	}
	if len(files) == 0 {
		e.UI.Info("no binary or SBOM in %s: no SHA256SUMS to sign", e.Rel(dist))
		return nil
	}
	sums := filepath.Join(dist, "SHA256SUMS")
	if err := sign.WriteChecksums(dist, files, sums); err != nil {
		return err
	}
	// A previous run's signature of the other format would no longer match.
	for _, f := range []string{sums + sign.BlobBundleSuffix, sums + sign.BlobSignatureSuffix, sums + sign.BlobLegacyBundleSuffix} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the stale %s: %w", e.Rel(f), err)
		}
	}
	bs, err := sign.SignBlob(ctx, opts, sums)
	if err != nil {
		return err
	}
	rec.Checksums = &artifacts.Checksums{Path: e.Rel(sums), SHA256: bs.SHA256}
	if bs.Bundle != "" {
		rec.Checksums.Bundle = e.Rel(bs.Bundle)
	}
	if bs.Signature != "" {
		rec.Checksums.Signature = e.Rel(bs.Signature)
	}
	return nil
}

func report(e *engine.Run, rec *artifacts.Artifacts) {
	e.UI.Heading("Sign")
	var rows [][]string
	for _, s := range rec.Signatures {
		rows = append(rows, []string{imageLabel(s), "signature" + formatNote(s.Format), s.Subject, where(s)})
	}
	for _, s := range rec.Attestations {
		rows = append(rows, []string{imageLabel(s), "attestation " + sign.PredicateName(s.PredicateType) + formatNote(s.Format), s.Subject, where(s)})
	}
	if c := rec.Checksums; c != nil {
		if c.Bundle != "" {
			rows = append(rows, []string{"release binaries", "blob signature (bundle)", c.Path, c.Bundle})
		}
		if c.Signature != "" {
			rows = append(rows, []string{"release binaries", "blob signature (legacy)", c.Path, c.Signature})
		}
	}
	if rec.TrustedRoot != "" {
		what := "trusted root (key only)"
		if e.Config.Sign.TrustedRoot != "" {
			what = "trusted root (sign.trusted_root)"
		}
		rows = append(rows, []string{"verifiers", what, "", rec.TrustedRoot})
	}
	if len(rows) > 0 {
		e.UI.Table([]string{"IMAGE", "KIND", "SUBJECT", "WHERE"}, rows)
	}
}

// imageLabel is the image a signature is of, with the platform when it is one platform's.
func imageLabel(s artifacts.Signature) string {
	return strings.TrimSpace(s.Image + " " + s.Platform.String())
}

func formatNote(f string) string {
	if f == "" {
		return ""
	}
	return " (" + f + ")"
}

// where says where a signature or attestation lives, and for a bundle how it is found.
func where(s artifacts.Signature) string {
	switch {
	case s.Format != string(sign.FormatBundle):
		return s.Ref
	case s.FallbackTag != "":
		return s.Ref + " (referrer, listed by tag " + tagOf(s.FallbackTag) + ")"
	}
	return s.Ref + " (referrer, via the referrers API)"
}

// tagOf is the tag of a repo:tag reference.
func tagOf(ref string) string {
	if i := strings.LastIndex(ref, ":"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// VerifySignatures checks the signatures and attestations of every registry image in
// artifacts.json, and the signature of dist/SHA256SUMS, with the public key.
func VerifySignatures(ctx context.Context, e *engine.Run) error {
	rec, err := e.Record()
	if err != nil {
		return err
	}
	// Keyless signatures are checked by who made them (sign.identity, sign.oidc_issuer), not by
	// a key.
	keyless := e.Config.Sign.Keyless
	var pub string
	if !keyless {
		if pub = publicKey(e); pub == "" {
			return fmt.Errorf("verifySignatures: no public key: set sign.pub, or put cosign.pub (from mage keygen) in %s; keyless signatures (sign.keyless: true) are checked by sign.identity and sign.oidc_issuer", e.Dir)
		}
	}
	subjects, _, err := subjects(ctx, e, rec, false)
	if err != nil {
		return err
	}
	c := e.Config.Sign
	vo := sign.VerifyOptions{PublicKey: pub, Recursive: c.Recursive, TLog: c.TLog,
		Format: sign.Format(c.Format), Insecure: e.Config.Image.Insecure,
		TrustedRoot: trustedRootRef(e), Timestamps: c.Timestamp != "",
		Identity: c.Identity, IdentityRegexp: c.IdentityRegexp, OIDCIssuer: c.OIDCIssuer, OIDCIssuerRegexp: c.OIDCIssuerRegexp,
		ResponseTimeout: e.Config.Image.ResponseTimeout.D(), RequestTimeout: e.Config.Image.RequestTimeout.D()}
	verified, verr := sign.VerifyImages(ctx, vo, subjects)
	e.UI.Heading("Verify signatures")
	for _, v := range verified {
		what := v.Kind
		if v.Kind == sign.KindAttestation {
			what += " " + sign.PredicateName(v.PredicateType)
		}
		e.UI.OK("%s %s, %s format (%s)", v.Subject, what, v.Format, v.Ref)
	}
	var errs []error
	if verr != nil {
		errs = append(errs, verr)
	}
	if c := rec.Checksums; c != nil {
		if c.Bundle != "" {
			if err := sign.VerifyBlobBundleWith(ctx, vo, e.Abs(c.Path), e.Abs(c.Bundle)); err != nil {
				errs = append(errs, err)
			} else {
				e.UI.OK("%s signed, bundle format (%s)", c.Path, c.Bundle)
			}
		}
		if c.Signature != "" && keyless {
			e.UI.Info("%s: its legacy signature (%s) is keyless, checked through its bundle only", c.Path, c.Signature)
		} else if c.Signature != "" {
			if err := sign.VerifyBlob(ctx, pub, e.Abs(c.Path), e.Abs(c.Signature)); err != nil {
				errs = append(errs, err)
			} else {
				e.UI.OK("%s signed, legacy format (%s)", c.Path, c.Signature)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("verifySignatures: %w", err)
	}
	return nil
}
