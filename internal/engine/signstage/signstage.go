// Package signstage runs the engine's signing stages: Sign, SignRecorded, VerifySignatures,
// Keygen and Release. It is apart from package engine because it links cosign, which only the
// full engine pays for.
package signstage

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/internal/engine"
	"github.com/scratchkit/scratchkit/internal/redact"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/publish"
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
	subjects, err := subjects(ctx, e, rec, true)
	if err != nil {
		return err
	}
	signed, signErr := sign.SignImages(ctx, opts, subjects)
	rec.Signatures, rec.Attestations = nil, nil
	for _, s := range signed {
		entry := artifacts.Signature{Image: imageOf(subjects, s.Subject), Subject: s.Subject, Ref: s.Ref, Digest: s.Digest, PredicateType: s.PredicateType}
		if s.Kind == sign.KindAttestation {
			rec.Attestations = append(rec.Attestations, entry)
		} else {
			rec.Signatures = append(rec.Signatures, entry)
		}
	}
	if signErr == nil && e.Config.Sign.SignChecksums() {
		signErr = checksums(ctx, e, rec, opts)
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
		Recursive: e.Config.Sign.Recursive, FulcioURL: e.Config.Sign.FulcioURL, RekorURL: e.Config.Sign.RekorURL,
		IdentityToken: e.Config.Sign.IdentityToken, Insecure: e.Config.Image.Insecure,
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

// subjects are the registry images of the record, with their SBOM and provenance.
func subjects(ctx context.Context, e *engine.Run, rec *artifacts.Artifacts, attest bool) ([]sign.Subject, error) {
	var out []sign.Subject
	wantSBOM, wantProv, wantVuln := false, false, false
	for _, a := range e.Config.Attest() {
		wantSBOM = wantSBOM || a == "sbom"
		wantProv = wantProv || a == "provenance"
		wantVuln = wantVuln || a == "vuln"
	}
	for _, img := range rec.Images {
		if img.Destination != publish.Registry && img.Destination != engine.PerPlatformDestination {
			continue
		}
		s := sign.Subject{Name: img.Name, Ref: img.Ref, Tags: img.Tags}
		if attest && wantSBOM && img.SBOM != "" {
			s.SBOM = e.Abs(img.SBOM)
		}
		if attest && wantProv {
			p, err := provenance(ctx, e, rec, img)
			if err != nil {
				return nil, err
			}
			s.Provenance = p
		}
		if attest && wantVuln {
			vs, err := vulnScans(e, rec, img)
			if err != nil {
				return nil, err
			}
			s.Vulns = vs
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sign: artifacts.json lists no image pushed to a registry, and signatures live in registries: set image.repo (or KO_DOCKER_REPO) and run mage image")
	}
	return out, nil
}

// provenance describes how an image's binaries were built, from artifacts.json and build info.
func provenance(ctx context.Context, e *engine.Run, rec *artifacts.Artifacts, img artifacts.Image) (*sign.Provenance, error) {
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
	for _, b := range rec.Binaries {
		if b.Name != img.Name || !slices.Contains(img.Platforms, b.Platform) {
			continue
		}
		p.Parameters["linkage"] = b.Linkage
		p.Parameters["main"] = b.Main
		bi, err := buildinfo.ReadFile(e.Abs(b.Path))
		if err != nil {
			return nil, fmt.Errorf("sign: provenance of %s: read build info of %s: %w", img.Name, b.Path, err)
		}
		p.GoVersion = bi.GoVersion
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		p.Parameters["settings"] = settings
		seen := map[string]bool{}
		for _, d := range bi.Deps {
			m := d
			if d.Replace != nil {
				m = d.Replace
			}
			if !seen[m.Path] {
				seen[m.Path] = true
				p.Deps = append(p.Deps, sign.Dependency{Path: m.Path, Version: m.Version, Sum: m.Sum})
			}
		}
		break
	}
	sort.Slice(p.Deps, func(i, j int) bool { return p.Deps[i].Path < p.Deps[j].Path })
	return p, nil
}

// vulnScans are Verify's vulnerability checks of the binaries in an image's platforms. A
// platform without one (verify.vulncheck off, the database unreadable, the binary built on
// another runner) is an error when sign.attest lists vuln, else a warning.
func vulnScans(e *engine.Run, rec *artifacts.Artifacts, img artifacts.Image) ([]sign.VulnScan, error) {
	var out []sign.VulnScan
	for _, m := range img.Manifests {
		why := "artifacts.json records no binary with its sha256 (built elsewhere?)"
		for _, b := range rec.Binaries {
			if b.SHA256 != m.Binary || b.Platform != m.Platform {
				continue
			}
			switch r := b.Vuln; {
			case r != nil:
				out = append(out, sign.VulnScan{Digest: m.Digest, Platform: m.Platform, Scanner: r.Scanner, ScannerVersion: r.ScannerVersion,
					DB: r.DB, DBVersion: r.DBModified.UTC().Format(time.RFC3339), Result: r, Started: r.Started, Finished: r.Finished})
				why = ""
			case b.VulnError != "":
				why = "its check could not run: " + b.VulnError
			default:
				why = "verify.vulncheck is off for it"
			}
			break
		}
		if why == "" {
			continue
		}
		if e.Config.Sign.Attest != nil {
			return nil, fmt.Errorf("sign: %s: sign.attest lists vuln, but %s (%s) has no vulnerability check to attest: %s; run mage verify with verify.vulncheck on and a readable verify.vulndb, or drop vuln from sign.attest", e.Config.Where("sign.attest"), img.Name, m.Platform, why)
		}
		e.UI.Warn("%s (%s): no vulnerability check to attest: %s", img.Name, m.Platform, why)
	}
	return out, nil
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
	}
	if len(files) == 0 {
		e.UI.Info("no binary or SBOM in %s: no SHA256SUMS to sign", e.Rel(dist))
		return nil
	}
	sums := filepath.Join(dist, "SHA256SUMS")
	if err := sign.WriteChecksums(dist, files, sums); err != nil {
		return err
	}
	bs, err := sign.SignBlob(ctx, opts, sums, sums+".sig")
	if err != nil {
		return err
	}
	rec.Checksums = &artifacts.Checksums{Path: e.Rel(sums), Signature: e.Rel(bs.Signature), SHA256: bs.SHA256}
	return nil
}

func report(e *engine.Run, rec *artifacts.Artifacts) {
	e.UI.Heading("Sign")
	var rows [][]string
	for _, s := range rec.Signatures {
		rows = append(rows, []string{s.Image, "signature", s.Subject, s.Ref})
	}
	for _, s := range rec.Attestations {
		rows = append(rows, []string{s.Image, "attestation " + predicateName(s.PredicateType), s.Subject, s.Ref})
	}
	if c := rec.Checksums; c != nil {
		rows = append(rows, []string{"release binaries", "blob signature", c.Path, c.Signature})
	}
	if len(rows) > 0 {
		e.UI.Table([]string{"IMAGE", "KIND", "SUBJECT", "WHERE"}, rows)
	}
}

func predicateName(t string) string {
	switch t {
	case sign.PredicateSPDX:
		return "spdxjson"
	case sign.PredicateSLSA1:
		return "slsaprovenance1"
	case sign.PredicateVuln:
		return "vuln"
	}
	return t
}

func imageOf(subjects []sign.Subject, ref string) string {
	for _, s := range subjects {
		if s.Ref == ref || strings.HasPrefix(ref, strings.SplitN(s.Ref, "@", 2)[0]+"@") {
			return s.Name
		}
	}
	return ""
}

// VerifySignatures checks the signatures and attestations of every registry image in
// artifacts.json, and the signature of dist/SHA256SUMS, with the public key.
func VerifySignatures(ctx context.Context, e *engine.Run) error {
	rec, err := e.Record()
	if err != nil {
		return err
	}
	pub := publicKey(e)
	if pub == "" {
		return fmt.Errorf("verifySignatures: no public key: set sign.pub, or put cosign.pub (from mage keygen) in %s", e.Dir)
	}
	subjects, err := subjects(ctx, e, rec, true)
	if err != nil {
		return err
	}
	verified, verr := sign.VerifyImages(ctx, sign.VerifyOptions{PublicKey: pub, Recursive: e.Config.Sign.Recursive, TLog: e.Config.Sign.TLog, Insecure: e.Config.Image.Insecure}, subjects)
	e.UI.Heading("Verify signatures")
	for _, v := range verified {
		e.UI.OK("%s %s %s (%s)", v.Subject, v.Kind, predicateName(v.PredicateType), v.Ref)
	}
	var errs []error
	if verr != nil {
		errs = append(errs, verr)
	}
	if c := rec.Checksums; c != nil && c.Signature != "" {
		if err := sign.VerifyBlob(ctx, pub, e.Abs(c.Path), e.Abs(c.Signature)); err != nil {
			errs = append(errs, err)
		} else {
			e.UI.OK("%s signed (%s)", c.Path, c.Signature)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("verifySignatures: %w", err)
	}
	return nil
}

// Keygen writes cosign.key (0600, encrypted with COSIGN_PASSWORD) and cosign.pub in the working
// directory, refusing to overwrite either.
func Keygen(ctx context.Context, e *engine.Run) error {
	priv, pub, err := sign.GenerateKeyPair(e.Dir, sign.PasswordFromEnv())
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	e.UI.OK("wrote %s (private, 0600: keep it out of git) and %s", e.Rel(priv), e.Rel(pub))
	return nil
}
