package sign

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/internal/redact"
)

// TrustedRootFile is the file Sign writes into dist/ beside the release: the Sigstore trusted
// root its bundles verify against, for `cosign … --trusted-root dist/trusted_root.json`.
const TrustedRootFile = "trusted_root.json"

// KeyOnlyTrustedRoot is a Sigstore trusted root that names no certificate authority,
// transparency log or timestamp authority: what a key-based signature made without a
// transparency log verifies against, the key itself given with --key. cosign v2.6.3 and later,
// finding bundles among an image's referrers, demand a trusted root even with --key and fetch
// the public one from Sigstore's TUF repository; offline, this file is that trusted root.
var KeyOnlyTrustedRoot = []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}` + "\n")

// NeedsTrustedRoot reports whether what opts signs is verified with a trusted root of
// scratchkit's writing: key-based bundles without a transparency log. Legacy signatures need
// none, and logged or keyless ones verify against the log's own (public) trusted root.
// With a timestamp authority the key-only root would not do (it names no authority): such a
// release needs the deployment's trusted root (sign.trusted_root), or the public one.
func (o *Options) NeedsTrustedRoot() bool {
	return o.Format.bundle() && !o.Keyless && !o.TLog && o.TimestampURL == "" && o.SigningConfig == ""
}

// WriteTrustedRoot writes KeyOnlyTrustedRoot to path, atomically.
func WriteTrustedRoot(path string) error {
	if err := atomicfile.WriteFile(path, KeyOnlyTrustedRoot, 0o644); err != nil {
		return fmt.Errorf("write the trusted root %s: %w", path, err)
	}
	return nil
}

// maxTrustedRoot bounds a trusted root read from a URL; the public one is about 10 KiB.
const maxTrustedRoot = 4 << 20

// ReadTrustedRoot reads a Sigstore trusted root (JSON) from a file or an http(s) URL and checks
// that it parses as one. It returns the bytes as read, to be copied beside a release.
func ReadTrustedRoot(ctx context.Context, ref string) ([]byte, *root.TrustedRoot, error) {
	data, err := readRef(ctx, ref, maxTrustedRoot)
	if err != nil {
		return nil, nil, fmt.Errorf("read the trusted root: %w", err)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, nil, fmt.Errorf("the trusted root %s is not a Sigstore trusted root (application/vnd.dev.sigstore.trustedroot+json): %w", shownRef(ref), err)
	}
	return data, tr, nil
}

// shownRef is a file path as it is, a URL without its userinfo and query.
func shownRef(ref string) string {
	if strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://") {
		return redact.URL(ref)
	}
	return ref
}

// readRef reads a file, or the body of an http(s) URL, of at most limit bytes.
func readRef(ctx context.Context, ref string, limit int64) ([]byte, error) {
	if !strings.HasPrefix(ref, "https://") && !strings.HasPrefix(ref, "http://") {
		f, err := os.Open(ref)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, limit+1))
		if err == nil && int64(len(data)) > limit {
			err = fmt.Errorf("%s is larger than %d bytes", ref, limit)
		}
		return data, err
	}
	shown := redact.URL(ref)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", shown, redact.Error(err))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", shown, redact.Error(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: %s", shown, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", shown, redact.Error(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("get %s: larger than %d bytes", shown, limit)
	}
	return data, nil
}
