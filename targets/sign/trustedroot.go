package sign

import (
	"fmt"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
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
func (o *Options) NeedsTrustedRoot() bool {
	return o.Format.bundle() && !o.Keyless && !o.TLog
}

// WriteTrustedRoot writes KeyOnlyTrustedRoot to path, atomically.
func WriteTrustedRoot(path string) error {
	if err := atomicfile.WriteFile(path, KeyOnlyTrustedRoot, 0o644); err != nil {
		return fmt.Errorf("write the trusted root %s: %w", path, err)
	}
	return nil
}
