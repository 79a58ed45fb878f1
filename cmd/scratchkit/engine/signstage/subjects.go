package signstage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/engine"
	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/internal/redact"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/sign"
)

// about is what artifacts.json says of a signed digest.
type about struct {
	image    string
	platform platform.Platform // for one platform's manifest
	sbom     string            // the SBOM attested about it, absolute
}

// subjects are the registry images of the record with what is attested about each:
//
//   - an image of one platform: its signature, its SBOM and the provenance of its binary;
//   - an index: its signature, the SBOM of the index (image.IndexSBOM: the platform images and
//     the binary in each, written to dist/sbom/<name>-index.spdx.json when write is set, else
//     read there) and a provenance of the whole build (every platform's binary and settings);
//     and at each platform manifest the SBOM and provenance of that platform's own binary.
//
// A platform whose SBOM and binary are not on this runner (after mage index) is left to the
// runner that built it, which signs it as an image of its own.
func subjects(ctx context.Context, e *engine.Run, rec *artifacts.Artifacts, write bool) ([]sign.Subject, map[string]about, error) {
	c := &subjectList{ctx: ctx, e: e, rec: rec, write: write, own: map[string]bool{}, info: map[string]about{}}
	for _, a := range e.Config.Attest() {
		c.wantSBOM = c.wantSBOM || a == "sbom"
		c.wantProv = c.wantProv || a == "provenance"
		c.wantVuln = c.wantVuln || a == "vuln"
	}
	registry := func(img artifacts.Image) bool {
		return img.Destination == publish.Registry || img.Destination == publish.RegistryPlatform
	}
	for _, img := range rec.Images {
		if registry(img) {
			c.own[img.Digest] = true
		}
	}
	var out []sign.Subject
	for _, img := range rec.Images {
		if !registry(img) {
			continue
		}
		var s sign.Subject
		var err error
		if isIndex(img) {
			s, err = c.index(img)
		} else {
			s, err = c.image(img)
		}
		if err != nil {
			return nil, nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("sign: artifacts.json lists no image pushed to a registry, and signatures live in registries: set image.repo (or KO_DOCKER_REPO) and run mage image")
	}
	return out, c.info, nil
}

// subjectList is what subjects gathers the subjects with.
type subjectList struct {
	ctx                          context.Context
	e                            *engine.Run
	rec                          *artifacts.Artifacts
	write                        bool             // write the index SBOMs
	wantSBOM, wantProv, wantVuln bool             // the attestations sign.attest asks for
	own                          map[string]bool  // platform images recorded as images of their own
	info                         map[string]about // what is said of each digest, by reference
}

// image is the subject of an image of one platform.
func (c *subjectList) image(img artifacts.Image) (sign.Subject, error) {
	e := c.e
	s := sign.Subject{Name: img.Name, Ref: img.Ref, Tags: img.Tags}
	plat, sbom, bin := platform.Platform{}, img.SBOM, (*artifacts.Binary)(nil)
	if len(img.Manifests) == 1 {
		m := img.Manifests[0]
		plat, bin = m.Platform, binaryOf(e, c.rec, img.Name, m)
		if m.SBOM != "" {
			sbom = m.SBOM
		}
	}
	if c.wantSBOM && sbom != "" {
		s.SBOM = e.Abs(sbom)
	}
	if c.wantProv {
		if bin == nil && !plat.IsZero() {
			e.UI.Info("%s %s: the binary it holds is not on this runner: its provenance names no build settings", img.Name, plat)
		}
		p, err := platformProvenance(c.ctx, e, c.rec, img, plat, bin)
		if err != nil {
			return sign.Subject{}, err
		}
		s.Provenance = p
	}
	if c.wantVuln && len(img.Manifests) == 1 {
		v, err := vulnScan(e, img, img.Manifests[0], bin)
		if err != nil {
			return sign.Subject{}, err
		}
		s.Vuln = v
	}
	c.info[img.Ref] = about{image: img.Name, platform: plat, sbom: s.SBOM}
	return s, nil
}

// index is the subject of an image index, with its platform manifests that are not images of
// their own.
func (c *subjectList) index(img artifacts.Image) (sign.Subject, error) {
	s := sign.Subject{Name: img.Name, Ref: img.Ref, Tags: img.Tags}
	if c.wantSBOM {
		p, err := indexSBOM(c.e, c.rec, img, c.write)
		if err != nil {
			return sign.Subject{}, err
		}
		s.SBOM = p
	}
	if c.wantProv {
		p, err := indexProvenance(c.ctx, c.e, c.rec, img)
		if err != nil {
			return sign.Subject{}, err
		}
		s.Provenance = p
	}
	c.info[img.Ref] = about{image: img.Name, sbom: s.SBOM}
	repo, _, _ := strings.Cut(img.Ref, "@")
	for _, m := range img.Manifests {
		ref := repo + "@" + m.Digest
		c.info[ref] = about{image: img.Name, platform: m.Platform}
		if c.own[m.Digest] {
			continue // attested as an image of its own
		}
		ms, err := c.manifest(img, m, ref)
		if err != nil {
			return sign.Subject{}, err
		}
		if ms.SBOM != "" || ms.Provenance != nil || ms.Vuln != nil {
			s.Manifests = append(s.Manifests, ms)
			c.info[ref] = about{image: img.Name, platform: m.Platform, sbom: ms.SBOM}
		}
	}
	return s, nil
}

// manifest is the subject of the platform manifest m of the index img, at ref: what this runner
// has of that platform's SBOM, binary and vulnerability check.
func (c *subjectList) manifest(img artifacts.Image, m artifacts.Manifest, ref string) (sign.Subject, error) {
	e := c.e
	ms := sign.Subject{Name: img.Name + " " + m.Platform.String(), Ref: ref}
	if sbom := e.Abs(m.SBOM); c.wantSBOM && m.SBOM != "" && exists(sbom) {
		ms.SBOM = sbom
	}
	bin := binaryOf(e, c.rec, img.Name, m)
	if c.wantProv && bin != nil {
		p, err := platformProvenance(c.ctx, e, c.rec, img, m.Platform, bin)
		if err != nil {
			return sign.Subject{}, err
		}
		ms.Provenance = p
	}
	if c.wantVuln && bin != nil {
		v, err := vulnScan(e, img, m, bin)
		if err != nil {
			return sign.Subject{}, err
		}
		ms.Vuln = v
	}
	if (c.wantSBOM && ms.SBOM == "") || (c.wantProv && ms.Provenance == nil) {
		e.UI.Info("%s %s: its SBOM or binary is not on this runner: its attestations are left to the runner that built it", img.Name, m.Platform)
	}
	return ms, nil
}

// isIndex reports whether img is an image index: its manifests are not the image itself.
func isIndex(img artifacts.Image) bool {
	return len(img.Manifests) > 1 || (len(img.Manifests) == 1 && img.Manifests[0].Digest != img.Digest)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// binaryOf is the binary on this runner that a platform image holds: recorded for the image's
// name and platform, with the sha256 the image records, and present. Else nil.
func binaryOf(e *engine.Run, rec *artifacts.Artifacts, name string, m artifacts.Manifest) *artifacts.Binary {
	b, ok := rec.Binary(name, m.Platform)
	if !ok || (m.Binary != "" && b.SHA256 != m.Binary) || !exists(e.Abs(b.Path)) {
		return nil
	}
	return b
}

// indexSBOMPath is where the SBOM of an index goes: beside its platforms' SBOMs.
func indexSBOMPath(e *engine.Run, img artifacts.Image) string {
	return filepath.Join(e.DistDir(), "sbom", img.Name+"-index.spdx.json")
}

// indexSBOM writes (or, verifying, finds) the SBOM of the index img and returns its path.
func indexSBOM(e *engine.Run, rec *artifacts.Artifacts, img artifacts.Image, write bool) (string, error) {
	path := indexSBOMPath(e, img)
	if !write {
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("the SBOM of the index %s, %s, does not exist: run Sign", img.Ref, e.Rel(path))
			}
			return "", err
		}
		return path, nil
	}
	created, err := time.Parse(time.RFC3339, rec.Date)
	if err != nil {
		created = time.Unix(0, 0) // the image's created time, as Image sets it
	}
	repo, _, _ := strings.Cut(img.Ref, "@")
	var platforms []image.IndexPlatform
	for _, m := range img.Manifests {
		platforms = append(platforms, image.IndexPlatform{Platform: m.Platform, Digest: m.Digest, BinarySHA256: m.Binary})
	}
	doc, err := image.IndexSBOM(img.Name, repo, img.Digest, platforms, created)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	if err := atomicfile.WriteFile(path, doc, 0o644); err != nil {
		return "", fmt.Errorf("sign: write the SBOM of the index %s: %w", img.Name, err)
	}
	return path, nil
}

// baseProvenance is what every provenance of an image says: builder, source and the image's
// parameters.
func baseProvenance(ctx context.Context, e *engine.Run, rec *artifacts.Artifacts, img artifacts.Image) *sign.Provenance {
	p := &sign.Provenance{
		BuilderID: "https://github.com/scratchkit/scratchkit",
		Commit:    rec.Commit,
		Parameters: map[string]any{
			"image":     img.Name,
			"platforms": img.Platforms,
			"base":      img.Base,
			"version":   rec.Version,
			"date":      rec.Date,
		},
	}
	if src := e.Source(ctx); src != "" {
		p.SourceRepo = "git+" + src
	}
	if ci := redact.URL(os.Getenv("GITHUB_SERVER_URL")); ci != "" && os.Getenv("GITHUB_RUN_ID") != "" {
		p.BuilderID = ci + "/" + os.Getenv("GITHUB_REPOSITORY") + "/actions/runs/" + os.Getenv("GITHUB_RUN_ID")
		p.InvocationID = p.BuilderID
		if p.SourceRepo == "" {
			p.SourceRepo = "git+" + ci + "/" + os.Getenv("GITHUB_REPOSITORY")
		}
		p.SourceRef = os.Getenv("GITHUB_REF")
	}
	return p
}

// build is what a binary's build information says for a provenance.
type build struct {
	goVersion string
	settings  map[string]string
	deps      []sign.Dependency
}

func readBuild(e *engine.Run, b *artifacts.Binary) (build, error) {
	var bi *debug.BuildInfo
	var err error
	if b.BuildInfo != "" {
		bi, err = binary.BuildInfoOf(b.BuildInfo, nil) // as Verify read it
	} else {
		bi, err = binary.ReadBuildInfoFile(e.Abs(b.Path))
	}
	if err != nil {
		return build{}, fmt.Errorf("read build info of %s: %w", b.Path, err)
	}
	out := build{goVersion: bi.GoVersion, settings: map[string]string{}}
	for _, s := range bi.Settings {
		out.settings[s.Key] = s.Value
	}
	for _, d := range bi.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		out.deps = append(out.deps, sign.Dependency{Path: m.Path, Version: m.Version, Sum: m.Sum})
	}
	return out, nil
}

// addDeps adds deps to p's once each (by path and version), sorted.
func addDeps(p *sign.Provenance, deps []sign.Dependency) {
	seen := map[string]bool{}
	for _, d := range p.Deps {
		seen[d.Path+"@"+d.Version] = true
	}
	for _, d := range deps {
		if !seen[d.Path+"@"+d.Version] {
			seen[d.Path+"@"+d.Version] = true
			p.Deps = append(p.Deps, d)
		}
	}
	sort.Slice(p.Deps, func(i, j int) bool {
		if p.Deps[i].Path != p.Deps[j].Path {
			return p.Deps[i].Path < p.Deps[j].Path
		}
		return p.Deps[i].Version < p.Deps[j].Version
	})
}

// platformProvenance describes how one platform's image was built: its binary, its settings
// (GOOS, GOARCH, …) and its modules. bin nil: the image's record names no binary here.
func platformProvenance(ctx context.Context, e *engine.Run, rec *artifacts.Artifacts, img artifacts.Image, plat platform.Platform, bin *artifacts.Binary) (*sign.Provenance, error) {
	p := baseProvenance(ctx, e, rec, img)
	if !plat.IsZero() {
		p.Parameters["platform"] = plat.String()
	}
	if bin == nil {
		return p, nil
	}
	b, err := readBuild(e, bin)
	if err != nil {
		return nil, fmt.Errorf("sign: provenance of %s %s: %w", img.Name, bin.Platform, err)
	}
	p.Parameters["platform"] = bin.Platform.String()
	p.Parameters["binary"] = map[string]string{"name": bin.Name, "sha256": bin.SHA256}
	p.Parameters["linkage"] = bin.Linkage
	p.Parameters["main"] = bin.Main
	p.Parameters["settings"] = b.settings
	if pg := pgoParameter(rec, bin); pg != nil {
		p.Parameters["pgo"] = pg
	}
	p.GoVersion = b.goVersion
	addDeps(p, b.deps)
	return p, nil
}

// pgoParameter is what the provenance says about the profile a binary was built with: its file
// and sha256 and, when a check measured that profile, what it was measured to buy (the ratios,
// the A/A precision, the verdicts, the workload, the machine). Nil for a build without one.
func pgoParameter(rec *artifacts.Artifacts, bin *artifacts.Binary) map[string]any {
	if bin.PGO == "" {
		return nil
	}
	out := map[string]any{"profile": bin.PGO, "sha256": bin.PGOSHA256}
	if c := rec.PGOCheck(bin.PGOSHA256); c != nil {
		check := map[string]any{
			"workload": c.Workload, "cpus": c.CPUs, "rounds": c.Rounds, "window": c.Window, "pinned": c.Pinned,
			"precision": c.Precision, "verdict": string(c.Verdict), "decision": c.Decision,
			"vs_none": map[string]any{"cpu_per_op": c.VsNone.CPUPerOp, "throughput": c.VsNone.Throughput},
			"started": c.Started.Format(time.RFC3339),
		}
		if c.VsCurrent != nil {
			check["vs_previous"] = map[string]any{"sha256": c.Current, "cpu_per_op": c.VsCurrent.CPUPerOp,
				"throughput": c.VsCurrent.Throughput, "verdict": string(c.VerdictCurrent)}
		}
		out["check"] = check
	}
	return out
}

// indexProvenance describes how an index was built: for each platform its manifest, its binary
// and, where the binary is on this runner, its settings; the modules of every binary.
func indexProvenance(ctx context.Context, e *engine.Run, rec *artifacts.Artifacts, img artifacts.Image) (*sign.Provenance, error) {
	p := baseProvenance(ctx, e, rec, img)
	var builds []map[string]any
	for _, m := range img.Manifests {
		entry := map[string]any{"platform": m.Platform.String(), "manifest": m.Digest, "binary": map[string]string{"name": img.Name, "sha256": m.Binary}}
		if bin := binaryOf(e, rec, img.Name, m); bin != nil {
			b, err := readBuild(e, bin)
			if err != nil {
				return nil, fmt.Errorf("sign: provenance of %s: %w", img.Name, err)
			}
			entry["linkage"], entry["main"], entry["settings"] = bin.Linkage, bin.Main, b.settings
			if pg := pgoParameter(rec, bin); pg != nil {
				entry["pgo"] = pg
			}
			if p.GoVersion == "" {
				p.GoVersion = b.goVersion
			}
			addDeps(p, b.deps)
		}
		builds = append(builds, entry)
	}
	p.Parameters["builds"] = builds
	return p, nil
}

// vulnScan is the vulnerability check Verify recorded for the binary in one platform of img, to
// attest about that platform's manifest. Without one, it says why: an error when sign.attest
// names vuln explicitly, a warning when vuln is only there by default.
func vulnScan(e *engine.Run, img artifacts.Image, m artifacts.Manifest, bin *artifacts.Binary) (*sign.VulnScan, error) {
	why := "artifacts.json records no binary with its sha256 (built elsewhere?)"
	if bin != nil {
		switch r := bin.Vuln; {
		case r != nil:
			return &sign.VulnScan{Platform: m.Platform, Scanner: r.Scanner, ScannerVersion: r.ScannerVersion,
				DB: r.DB, DBVersion: r.DBVersion(), Result: r, Started: r.Started, Finished: r.Finished}, nil
		case bin.VulnError != "":
			why = "its check could not run: " + bin.VulnError
		default:
			why = "verify.vulncheck is off for it"
		}
	}
	if e.Config.Sign.Attest != nil {
		return nil, fmt.Errorf("sign: %s: sign.attest lists vuln, but %s (%s) has no vulnerability check to attest: %s; run mage verify with verify.vulncheck on and a readable verify.vulndb, or drop vuln from sign.attest", e.Config.Where("sign.attest"), img.Name, m.Platform, why)
	}
	e.UI.Warn("%s (%s): vuln attestation skipped, no vulnerability check to attest: %s; run mage verify with a readable verify.vulndb (goproxy, a mirror) and sign again to attest it", img.Name, m.Platform, why)
	return nil, nil
}
