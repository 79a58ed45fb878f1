package engine

import (
	"context"
	"strings"

	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// Summary prints everything the run produced and where it went: binaries, images by digest,
// SBOMs, signatures, attestations and the checksum file. dist/artifacts.json holds the same.
func (e *Run) Summary(ctx context.Context) error {
	return e.Stage(ctx, StageSummary, e.summary)
}

func (e *Run) summary(context.Context) error {
	rec, err := e.Record()
	if err != nil {
		return err
	}
	e.UI.Heading("Release %s (%s)", rec.Version, short(rec.Commit))
	var rows [][]string
	for _, b := range rec.Binaries {
		state := "built"
		if b.Verified {
			state = "verified"
		}
		rows = append(rows, []string{"binary", b.Name + " " + b.Platform.String(), state, b.Path})
	}
	sboms := map[string]bool{}
	for _, img := range rec.Images {
		rows = append(rows, []string{"image", img.Name + " " + strings.Join(platform.Strings(img.Platforms), ","), img.Destination, img.Ref})
		for _, m := range img.Manifests {
			if m.SBOM != "" && !sboms[m.SBOM] {
				sboms[m.SBOM] = true
				rows = append(rows, []string{"sbom", img.Name + " " + m.Platform.String(), "spdx 2.3", m.SBOM})
			}
		}
	}
	for _, s := range rec.Smoke {
		rows = append(rows, []string{"smoke", s.Image + " " + s.Platform.String(), smokeState(s), s.Digest})
	}
	for _, s := range rec.Signatures {
		rows = append(rows, []string{"signature", strings.TrimSpace(s.Image + " " + s.Platform.String()), strings.TrimSpace("cosign " + s.Format), s.Ref})
	}
	for _, s := range rec.Attestations {
		rows = append(rows, []string{"attestation", strings.TrimSpace(s.Image + " " + s.Platform.String()), strings.TrimSpace(s.PredicateType + " " + s.Format), s.Ref})
	}
	if c := rec.Checksums; c != nil {
		rows = append(rows, []string{"checksums", "release binaries and SBOMs", "sha256", c.Path})
		if c.Bundle != "" {
			rows = append(rows, []string{"signature", "checksums", "cosign sign-blob bundle", c.Bundle})
		}
		if c.Signature != "" {
			rows = append(rows, []string{"signature", "checksums", "cosign sign-blob legacy", c.Signature})
		}
	}
	e.UI.Table([]string{"WHAT", "OF", "HOW", "WHERE"}, rows)
	e.UI.Info("machine-readable: %s", e.Rel(e.DistDir()+"/artifacts.json"))
	return nil
}

// smokeState says how one platform's smoke test went: passed where it ran, failed, or not run
// at all (statically checked only), which is not a pass.
func smokeState(s artifacts.Smoke) string {
	switch {
	case len(s.Checks) > 0:
		return "FAILED: " + strings.Join(s.Checks, ", ")
	case s.Error != "":
		return "FAILED: " + s.Error
	case !s.Ran:
		return "NOT RUN (static checks passed): " + s.Reason
	case s.Passed:
		return "passed (" + s.Runtime + ")"
	}
	return "FAILED"
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	if commit == "" {
		return "no commit"
	}
	return commit
}
