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
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
)

// BlobSignature describes the files SignBlob wrote.
type BlobSignature struct {
	Path      string // the signed file
	SHA256    string // its digest, sha256:<hex>
	Signature string // the base64 signature file (`cosign verify-blob --signature`)
	// Bundle is the cosign bundle file (`cosign verify-blob --bundle`) holding the Rekor entry
	// and, keyless, the certificate; written only with TLog or Keyless, else empty.
	Bundle string
}

// SignBlob signs the file at path the way `cosign sign-blob` does and writes the base64
// signature to sigPath (atomically, mode 0644). `cosign verify-blob --key cosign.pub
// --signature SIGPATH --insecure-ignore-tlog PATH` accepts it. With TLog or Keyless the
// signature is also recorded in Rekor and a bundle is written next to sigPath (its name with
// .bundle in place of .sig), for `cosign verify-blob --bundle`.
func SignBlob(ctx context.Context, opts Options, path, sigPath string) (BlobSignature, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return BlobSignature{}, fmt.Errorf("sign %s: %w", path, err)
	}
	s, err := newSigner(ctx, &opts)
	if err != nil {
		return BlobSignature{}, err
	}
	raw, bundle, err := s.signPayload(ctx, data)
	if err != nil {
		return BlobSignature{}, fmt.Errorf("sign %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	out := BlobSignature{Path: path, SHA256: "sha256:" + hex.EncodeToString(sum[:]), Signature: sigPath}
	if bundle != nil {
		lsp := cosign.LocalSignedPayload{Base64Signature: b64(raw), Bundle: bundle}
		if s.cert != nil {
			lsp.Cert = base64.StdEncoding.EncodeToString(s.cert)
		}
		b, err := json.Marshal(lsp)
		if err != nil {
			return BlobSignature{}, err
		}
		out.Bundle = strings.TrimSuffix(sigPath, ".sig") + ".bundle"
		if err := atomicfile.WriteFile(out.Bundle, b, 0o644); err != nil {
			return BlobSignature{}, fmt.Errorf("write bundle of %s: %w", path, err)
		}
	}
	if err := atomicfile.WriteFile(sigPath, []byte(b64(raw)), 0o644); err != nil {
		return BlobSignature{}, fmt.Errorf("write signature of %s: %w", path, err)
	}
	opts.logf("signed %s -> %s", path, sigPath)
	return out, nil
}

// VerifyBlob checks that sigPath holds a base64 signature of the file at path made with the
// private key of publicKey (file, env://VAR or KMS URI), as `cosign verify-blob --key
// --insecure-ignore-tlog` does.
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
