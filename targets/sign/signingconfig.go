package sign

import (
	"context"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
)

// maxSigningConfig bounds a signing config read from a URL; the public one is about 2 KiB.
const maxSigningConfig = 1 << 20

// Services are the Sigstore services Sign talks to: a certificate authority (keyless), a
// transparency log and its API version, and a timestamp authority, each an empty string when
// not used.
type Services struct {
	FulcioURL    string
	RekorURL     string
	RekorVersion uint32 // 1 (rekor.sigstore.dev) or 2 (Rekor v2, rekor-tiles)
	TimestampURL string
}

// ReadSigningConfig reads a Sigstore signing config
// (application/vnd.dev.sigstore.signingconfig.v0.2+json) from a file or an http(s) URL and
// picks the services Sign uses from it at now: the newest Fulcio, the newest Rekor of an API
// version sigstore-go speaks (the highest, 2 before 1), and a timestamp authority when it names
// any.
func ReadSigningConfig(ctx context.Context, ref string, now time.Time) (Services, error) {
	data, err := readRef(ctx, ref, maxSigningConfig)
	if err != nil {
		return Services{}, fmt.Errorf("read the signing config: %w", err)
	}
	sc, err := root.NewSigningConfigFromJSON(data)
	if err != nil {
		return Services{}, fmt.Errorf("the signing config %s is not a Sigstore signing config (%s): %w", shownRef(ref), root.SigningConfigMediaType02, err)
	}
	var s Services
	if cas := sc.FulcioCertificateAuthorityURLs(); len(cas) > 0 {
		ca, err := root.SelectService(cas, []uint32{1}, now)
		if err != nil {
			return Services{}, fmt.Errorf("the signing config %s: its Fulcio: %w", shownRef(ref), err)
		}
		s.FulcioURL = ca.URL
	}
	if logs := sc.RekorLogURLs(); len(logs) > 0 {
		l, err := root.SelectService(logs, sign.RekorAPIVersions, now)
		if err != nil {
			return Services{}, fmt.Errorf("the signing config %s: its Rekor: %w", shownRef(ref), err)
		}
		s.RekorURL, s.RekorVersion = l.URL, l.MajorAPIVersion
	}
	if tsas := sc.TimestampAuthorityURLs(); len(tsas) > 0 {
		a, err := root.SelectService(tsas, []uint32{1}, now)
		if err != nil {
			return Services{}, fmt.Errorf("the signing config %s: its timestamp authority: %w", shownRef(ref), err)
		}
		s.TimestampURL = a.URL
	}
	return s, nil
}
