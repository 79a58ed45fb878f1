package sign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/sigstore/cosign/v3/pkg/cosign"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
)

// Suffixes of the files SignBlob writes next to the signed file.
const (
	// BlobBundleSuffix names the Sigstore bundle (FormatBundle, FormatBoth):
	// `cosign verify-blob --bundle FILE.sigstore.json FILE`.
	BlobBundleSuffix = ".sigstore.json"
	// BlobSignatureSuffix names the detached base64 signature (FormatLegacy, FormatBoth):
	// `cosign verify-blob --signature FILE.sig FILE`.
	BlobSignatureSuffix = ".sig"
	// BlobLegacyBundleSuffix names cosign's older bundle of the legacy signature, written only
	// with TLog or Keyless, holding the Rekor entry and, keyless, the certificate.
	BlobLegacyBundleSuffix = ".bundle"
)

// BlobSignature describes the files SignBlob wrote.
type BlobSignature struct {
	Path   string // the signed file
	SHA256 string // its digest, sha256:<hex>
	// Bundle is the Sigstore bundle, Path + BlobBundleSuffix; empty with FormatLegacy.
	Bundle string
	// Signature is the base64 signature, Path + BlobSignatureSuffix; empty with FormatBundle.
	Signature string
	// LegacyBundle is cosign's older bundle of Signature, Path + BlobLegacyBundleSuffix, written
	// only with TLog or Keyless; else empty.
	LegacyBundle string
}

// SignBlob signs the file at path the way `cosign sign-blob` does, into files next to it:
// with FormatBundle (and FormatBoth) a Sigstore bundle, path.sigstore.json, which
// `cosign verify-blob --key cosign.pub --bundle path.sigstore.json path` accepts (cosign v2.6
// with --new-bundle-format); with FormatLegacy (and FormatBoth) the base64 signature, path.sig,
// for `cosign verify-blob --key cosign.pub --signature path.sig path`. With TLog or Keyless the
// signature is recorded in Rekor, the Sigstore bundle carries the entry and, for the legacy
// signature, cosign's older bundle path.bundle does. Each file is written atomically, and none
// is left behind when signing fails.
func SignBlob(ctx context.Context, opts Options, path string) (BlobSignature, error) {
	if err := opts.Format.check(); err != nil {
		return BlobSignature{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return BlobSignature{}, fmt.Errorf("sign %s: %w", path, err)
	}
	s, err := newSigner(ctx, &opts)
	if err != nil {
		return BlobSignature{}, err
	}
	x, err := s.signPayload(ctx, data)
	if err != nil {
		return BlobSignature{}, fmt.Errorf("sign %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	out := BlobSignature{Path: path, SHA256: "sha256:" + hex.EncodeToString(sum[:])}
	files := map[string][]byte{}
	if opts.Format.bundle() {
		b, err := x.json()
		if err != nil {
			return BlobSignature{}, fmt.Errorf("sign %s: %w", path, err)
		}
		out.Bundle = path + BlobBundleSuffix
		files[out.Bundle] = b
	}
	if opts.Format.legacy() {
		out.Signature = path + BlobSignatureSuffix
		files[out.Signature] = []byte(b64(x.signature()))
		if rb := x.rekorBundle(); rb != nil {
			lsp := cosign.LocalSignedPayload{Base64Signature: b64(x.signature()), Bundle: rb}
			if s.cert != nil {
				lsp.Cert = base64.StdEncoding.EncodeToString(s.cert)
			}
			b, err := json.Marshal(lsp)
			if err != nil {
				return BlobSignature{}, err
			}
			out.LegacyBundle = path + BlobLegacyBundleSuffix
			files[out.LegacyBundle] = b
		}
	}
	var written []string
	for _, f := range slices.Sorted(maps.Keys(files)) {
		if err := atomicfile.WriteFile(f, files[f], 0o644); err != nil {
			for _, w := range written {
				_ = os.Remove(w) // ours, from this call: a signature set is whole or absent
			}
			return BlobSignature{}, fmt.Errorf("write the signature of %s: %w", path, err)
		}
		written = append(written, f)
		opts.logf("signed %s -> %s", path, f)
	}
	return out, nil
}

// VerifyBlob checks that sigPath holds a base64 signature of the file at path made with the
// private key of publicKey (file, env://VAR or KMS URI), as `cosign verify-blob --key
// --insecure-ignore-tlog --signature` does.
func VerifyBlob(ctx context.Context, publicKey, path, sigPath string) error {
	v, err := loadVerifier(ctx, publicKey)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	b64sig, err := os.ReadFile(sigPath)
	if err != nil {
		return fmt.Errorf("verify %s: read signature: %w", path, err)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b64sig)))
	if err != nil {
		return fmt.Errorf("verify %s: signature %s is not base64: %w", path, sigPath, err)
	}
	if err := v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(data), sigopts.WithContext(ctx)); err != nil {
		return fmt.Errorf("verify %s: signature %s does not verify with public key %s: the file changed since it was signed, or it was signed with another key", path, sigPath, publicKey)
	}
	return nil
}

// VerifyBlobBundle checks that bundlePath holds a Sigstore bundle of the file at path signed
// with the private key of publicKey, as `cosign verify-blob --key --bundle` does; with tlog the
// bundle must also carry a Rekor entry, checked against the public Sigstore trust root (network).
func VerifyBlobBundle(ctx context.Context, publicKey, path, bundlePath string, tlog bool) error {
	return VerifyBlobBundleWith(ctx, VerifyOptions{PublicKey: publicKey, TLog: tlog}, path, bundlePath)
}

// VerifyBlobBundleWith is VerifyBlobBundle with the key, the log, the trusted root and the
// timestamps of opts (its registry settings are not used).
func VerifyBlobBundleWith(ctx context.Context, opts VerifyOptions, path, bundlePath string) error {
	publicKey := opts.PublicKey
	var v signature.Verifier
	if !opts.keyless() {
		var err error
		if v, err = loadVerifier(ctx, publicKey); err != nil {
			return err
		}
	}
	b, err := sgbundle.LoadJSONFromPath(bundlePath)
	if err != nil {
		return fmt.Errorf("verify %s: %s is not a Sigstore bundle: %w", path, bundlePath, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	defer f.Close()
	co, err := bundleCheckOpts(ctx, v, &opts)
	if err != nil {
		return err
	}
	if _, err := cosign.VerifyNewBundle(ctx, co, verify.WithArtifact(f), b); err != nil {
		if v != nil && !keySigned(ctx, v, b) {
			return fmt.Errorf("verify %s: bundle %s was not signed with public key %s: it was signed with another key", path, bundlePath, publicKey)
		}
		if hint := opts.keylessHint(err); hint != "" {
			return fmt.Errorf("verify %s: bundle %s does not verify as signed by %s: %w%s", path, bundlePath, opts.signer(), err, hint)
		}
		return fmt.Errorf("verify %s: bundle %s does not verify: %w%s", path, bundlePath, err, timestampHint(err, &opts))
	}
	return nil
}

// timestampHint says what to check when a bundle's timestamp did not verify.
func timestampHint(err error, opts *VerifyOptions) string {
	if !opts.Timestamps || !strings.Contains(err.Error(), "timestamp") {
		return " (did the file change since it was signed?)"
	}
	where := "Sigstore's public trusted root"
	if opts.TrustedRoot != "" {
		where = "the trusted root " + shownRef(opts.TrustedRoot)
	}
	return " (sign.timestamp asks for a signed timestamp: was it signed with sign.timestamp set, and does " + where + " name that timestamp authority?)"
}

// bundleCheckOpts are cosign's options for verifying bundles with the key v: offline with the
// key alone; with a signed timestamp (opts.Timestamps) and, with opts.TLog, a log entry, against
// opts.TrustedRoot or else Sigstore's public trust root, fetched from its TUF repository.
func bundleCheckOpts(ctx context.Context, v signature.Verifier, opts *VerifyOptions) (*cosign.CheckOpts, error) {
	co := &cosign.CheckOpts{SigVerifier: v, IgnoreTlog: !opts.TLog, UseSignedTimestamps: opts.Timestamps, TrustedMaterial: keyTrust}
	if opts.keyless() {
		ids, err := opts.identities()
		if err != nil {
			return nil, err
		}
		// A keyless signature is checked against its certificate authority and its log entry.
		co.Identities, co.IgnoreTlog = ids, false
	}
	switch {
	case opts.TrustedRoot != "":
		_, tr, err := ReadTrustedRoot(ctx, opts.TrustedRoot)
		if err != nil {
			return nil, err
		}
		co.TrustedMaterial = tr
	case opts.TLog || opts.Timestamps || opts.keyless():
		tr, err := cosign.TrustedRoot()
		if err != nil {
			return nil, fmt.Errorf("checking transparency log entries, certificates and timestamps needs Sigstore's trusted root (from its TUF repository, network; or set sign.trusted_root to your deployment's): %w", err)
		}
		co.TrustedMaterial = tr
	}
	if opts.keyless() && noSCTs(co.TrustedMaterial) {
		co.IgnoreSCT = true
	}
	return co, nil
}

// WriteChecksums writes out in `sha256sum` format (hex, two spaces, path) for files, with paths
// relative to dir and sorted, so that `cd dir && sha256sum -c SHA256SUMS` checks them. files may
// be absolute or relative to dir but must lie inside dir. out is written atomically.
func WriteChecksums(dir string, files []string, out string) error {
	if len(files) == 0 {
		return fmt.Errorf("write %s: no files to checksum", out)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	type line struct{ rel, sum string }
	lines := make([]line, 0, len(files))
	seen := map[string]bool{}
	for _, f := range files {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(absDir, p)
		}
		rel, err := filepath.Rel(absDir, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("write %s: %s is outside %s", out, f, dir)
		}
		rel = filepath.ToSlash(rel)
		if seen[rel] {
			continue
		}
		seen[rel] = true
		if strings.ContainsAny(rel, "\n\\") {
			return fmt.Errorf("write %s: %q: file names with newlines or backslashes cannot be listed in sha256sum format", out, rel)
		}
		sum, err := fileSHA256(p)
		if err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
		lines = append(lines, line{rel, sum})
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].rel < lines[j].rel })
	var buf bytes.Buffer
	for _, l := range lines {
		fmt.Fprintf(&buf, "%s  %s\n", l.sum, l.rel)
	}
	if err := atomicfile.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
