package sign

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// TestE2EVulnAttestationWithCosignCLI: each platform of an index gets a vuln attestation about
// its own manifest, which the cosign CLI verifies with --type vuln and whose predicate carries
// the scan; re-signing replaces it; a single-platform image gets it beside its other
// attestations; VerifyImages checks it, and a scan against another database version fails.
func TestE2EVulnAttestationWithCosignCLI(t *testing.T) {
	e := setupE2E(t)
	ctx := context.Background()
	d := e.pushIndex(t, "vulns", "v1")
	idx := manifestOfIndex(t, d)
	started := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	scan := func(plat, id string) *VulnScan {
		return &VulnScan{Platform: platform.MustParse(plat), Scanner: "golang.org/x/vuln", ScannerVersion: "v1.9.0",
			DB: "file:///srv/vulndb", DBVersion: "2026-03-31T00:00:00Z", Started: started, Finished: started.Add(time.Second),
			Result: map[string]any{"findings": []map[string]any{{"id": id, "module": "stdlib", "symbols": []string{"net/http.Server.ListenAndServe"}}}}}
	}
	var scans []*VulnScan
	sub := Subject{Name: "vulns", Ref: d.String()}
	for i, m := range idx.Manifests {
		scans = append(scans, scan([]string{"linux/amd64", "linux/arm64"}[i], "GO-2099-010"+string(rune('1'+i))))
		sub.Manifests = append(sub.Manifests, Subject{Name: "vulns " + scans[i].Platform.String(), Ref: d.Context().Digest(m.Digest.String()).String(), Vuln: scans[i]})
	}
	signed, err := SignImages(ctx, e.keyOpts(nil), []Subject{sub})
	if err != nil {
		t.Fatal(err)
	}
	byFormat := map[Format]int{}
	for _, s := range signed {
		if s.PredicateType == PredicateVuln {
			byFormat[s.Format]++
		}
	}
	if byFormat[FormatLegacy] != len(idx.Manifests) || byFormat[FormatBundle] != len(idx.Manifests) {
		t.Fatalf("vuln attestations by format %v, want one per platform (%d) in each format: %+v", byFormat, len(idx.Manifests), signed)
	}
	tr := offlineTrustedRoot(t) // cosign v2.6.5 finds the bundles, and wants a trusted root offline
	for i, m := range idx.Manifests {
		ref := d.Context().Digest(m.Digest.String()).String()
		out := e.mustCosign(t, "verify-attestation", "--key", e.pub, "--insecure-ignore-tlog", "--trusted-root", tr, "--type", "vuln", ref)
		pred := vulnPredicateOf(t, out)
		if pred.Scanner.DB.URI != "file:///srv/vulndb" || pred.Scanner.DB.Version != "2026-03-31T00:00:00Z" || pred.Scanner.URI != "pkg:golang/golang.org/x/vuln@v1.9.0" ||
			!strings.Contains(string(pred.Scanner.Result), scans[i].Result.(map[string]any)["findings"].([]map[string]any)[0]["id"].(string)) ||
			pred.Invocation.Parameters["platform"] != scans[i].Platform.String() || !pred.Metadata.ScanStartedOn.Equal(started) {
			t.Errorf("platform %d predicate: %+v", i, pred)
		}
	}
	// The index itself carries none: the scans are of the platforms' binaries.
	if out, err := e.runCosign("verify-attestation", "--key", e.pub, "--insecure-ignore-tlog", "--trusted-root", tr, "--type", "vuln", d.String()); err == nil {
		t.Errorf("the index has a vuln attestation:\n%s", out)
	}
	if _, err := VerifyImages(ctx, VerifyOptions{PublicKey: e.pub}, []Subject{sub}); err != nil {
		t.Fatal(err)
	}

	// Signing again replaces the attestation rather than adding one.
	if _, err := SignImages(ctx, e.keyOpts(nil), []Subject{sub}); err != nil {
		t.Fatal(err)
	}
	if m := manifestOf(t, sigTag(d.Context().Digest(idx.Manifests[0].Digest.String()), "att")); m == nil || len(m.Layers) != 1 {
		t.Errorf("after re-signing, the platform's attestations are %v, want one layer", m)
	}

	// A recorded scan against another database version is not the attested one.
	stale := sub
	stale.Manifests = append([]Subject(nil), sub.Manifests...)
	old := *stale.Manifests[0].Vuln
	old.DBVersion = "2026-04-30T00:00:00Z"
	stale.Manifests[0].Vuln = &old
	if _, err := VerifyImages(ctx, VerifyOptions{PublicKey: e.pub}, []Subject{stale}); err == nil || !strings.Contains(err.Error(), "database version 2026-03-31T00:00:00Z") {
		t.Errorf("stale scan: %v", err)
	}

	// A single-platform image: the scan is about the image's own digest, beside its SBOM.
	img := e.pushImage(t, "vulns-single", "v1")
	one := Subject{Name: "single", Ref: img.String(), SBOM: writeSBOM(t, t.TempDir(), "single"), Vuln: scan("linux/amd64", "GO-2099-0101")}
	if _, err := SignImages(ctx, e.keyOpts(nil), []Subject{one}); err != nil {
		t.Fatal(err)
	}
	if m := manifestOf(t, sigTag(img, "att")); m == nil || len(m.Layers) != 2 {
		t.Errorf("single-platform image attestations %v, want the SBOM's and the vuln one", m)
	}
	e.mustCosign(t, "verify-attestation", "--key", e.pub, "--insecure-ignore-tlog", "--trusted-root", tr, "--type", "vuln", img.String())
	e.mustCosign(t, "verify-attestation", "--key", e.pub, "--insecure-ignore-tlog", "--trusted-root", tr, "--type", "spdxjson", img.String())
	if _, err := VerifyImages(ctx, VerifyOptions{PublicKey: e.pub}, []Subject{one}); err != nil {
		t.Fatal(err)
	}
}

type vulnPredicate struct {
	Invocation struct {
		Parameters map[string]string `json:"parameters"`
	} `json:"invocation"`
	Scanner struct {
		URI     string `json:"uri"`
		Version string `json:"version"`
		DB      struct {
			URI     string `json:"uri"`
			Version string `json:"version"`
		} `json:"db"`
		Result json.RawMessage `json:"result"`
	} `json:"scanner"`
	Metadata struct {
		ScanStartedOn time.Time `json:"scanStartedOn"`
	} `json:"metadata"`
}

// vulnPredicateOf reads the predicate of the (first) vuln statement the cosign CLI printed.
func vulnPredicateOf(t *testing.T, out string) vulnPredicate {
	t.Helper()
	var p vulnPredicate
	if err := json.Unmarshal(testenv.Predicate(t, out, PredicateVuln), &p); err != nil {
		t.Fatalf("vuln predicate: %v", err)
	}
	return p
}
