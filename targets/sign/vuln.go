package sign

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/sigstore/cosign/v3/pkg/cosign/attestation"
)

// PredicateVuln is cosign's vulnerability scan predicate (`cosign attest --type vuln`).
const PredicateVuln = attestation.CosignVulnProvenanceV01

// VulnScan is the vulnerability scan of the binary in one image (or one platform manifest of an
// index), attested about that image with cosign's vuln predicate.
type VulnScan struct {
	// Platform is the platform, e.g. linux/amd64 (predicate invocation.parameters.platform).
	Platform platform.Platform
	// Scanner and ScannerVersion name the scanner (predicate scanner.uri, as a package URL,
	// and scanner.version), e.g. golang.org/x/vuln and v1.9.0.
	Scanner, ScannerVersion string
	// DB is the vulnerability database's URL and DBVersion its version, e.g. its modified time
	// (predicate scanner.db).
	DB, DBVersion string
	// Result is what the scan found (predicate scanner.result), any value that marshals to JSON.
	Result any
	// Started and Finished bound the scan (predicate metadata).
	Started, Finished time.Time
}

// vulnStatement is the in-toto statement of v about the image d.
func vulnStatement(d name.Digest, v *VulnScan) (statement, error) {
	pred := attestation.CosignVulnPredicate{
		Invocation: attestation.Invocation{
			Parameters: map[string]string{"platform": v.Platform.String()},
			BuilderID:  "https://github.com/scratchkit/scratchkit",
		},
		Scanner: attestation.Scanner{
			URI: "pkg:golang/" + v.Scanner + "@" + v.ScannerVersion, Version: v.ScannerVersion,
			DB: attestation.DB{URI: v.DB, Version: v.DBVersion}, Result: v.Result,
		},
		Metadata: attestation.Metadata{ScanStartedOn: v.Started.UTC(), ScanFinishedOn: v.Finished.UTC()},
	}
	raw, err := json.Marshal(pred)
	if err != nil {
		return statement{}, fmt.Errorf("vulnerability scan of %s: %w", v.Platform, err)
	}
	return newStatement(imageSubject(d, nil), PredicateVuln, raw)
}
