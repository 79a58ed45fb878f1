package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/internal/modsum"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// SPDX 2.3 JSON, the fields scratchkit writes.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	SPDXID           string            `json:"SPDXID"`
	Name             string            `json:"name"`
	VersionInfo      string            `json:"versionInfo,omitempty"`
	PackageFileName  string            `json:"packageFileName,omitempty"`
	Supplier         string            `json:"supplier,omitempty"`
	DownloadLocation string            `json:"downloadLocation"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	Checksums        []spdxChecksum    `json:"checksums,omitempty"`
	LicenseConcluded string            `json:"licenseConcluded"`
	LicenseDeclared  string            `json:"licenseDeclared"`
	CopyrightText    string            `json:"copyrightText"`
	Comment          string            `json:"comment,omitempty"`
	ExternalRefs     []spdxExternalRef `json:"externalRefs,omitempty"`
	PrimaryPurpose   string            `json:"primaryPackagePurpose,omitempty"`
}

type spdxChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type spdxExternalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

const noAssertion = "NOASSERTION"

// SBOM returns an SPDX 2.3 JSON document for a Go binary, read from its build information: the
// binary (with its SHA-256), the main module, the Go standard library at the Go version that
// built it, and every module linked in, with versions and go.sum hashes. name is the binary's
// name in the image; created is the document's creation time (the image's).
func SBOM(binaryPath, name string, created time.Time) ([]byte, error) {
	content, err := os.ReadFile(binaryPath)
	if err != nil {
		return nil, fmt.Errorf("SBOM: %w", err)
	}
	s := sha256.Sum256(content)
	bi, err := binary.ReadBuildInfo(bytes.NewReader(content))
	if err != nil {
		return nil, fmt.Errorf("SBOM of %s: no Go build information: %w", binaryPath, err)
	}
	b, err := sbomFor(bi, hex.EncodeToString(s[:]), name, created)
	if err != nil {
		return nil, fmt.Errorf("SBOM of %s: %w", binaryPath, err)
	}
	return b, nil
}

// buildSettings are the build settings an SBOM repeats. -ldflags is left out: -X values may carry
// anything, and with -trimpath it is not recorded anyway.
var buildSettings = []string{"GOOS", "GOARCH", "GOARM", "GOAMD64", "GOARM64", "CGO_ENABLED", "-buildmode",
	"-tags", "-trimpath", "-pgo", "vcs", "vcs.revision", "vcs.time", "vcs.modified"}

func sbomFor(bi *debug.BuildInfo, sum, name string, created time.Time) ([]byte, error) {
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC().Truncate(time.Second)
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	var settings []string
	for _, k := range buildSettings {
		if v, ok := set[k]; ok {
			settings = append(settings, k+"="+v)
		}
	}
	goVersion, _, _ := strings.Cut(bi.GoVersion, " ")

	ns := sha256.Sum256([]byte(name + "\x00" + sum + "\x00" + created.Format(time.RFC3339)))
	doc := spdxDocument{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              name,
		DocumentNamespace: "https://github.com/scratchkit/scratchkit/spdx/" + url.PathEscape(name) + "-" + hex.EncodeToString(ns[:16]),
		CreationInfo: spdxCreationInfo{
			Created:  created.Format("2006-01-02T15:04:05Z"),
			Creators: []string{"Tool: scratchkit"},
		},
	}
	ids := spdxIDs{}
	binID := ids.next("SPDXRef-Binary", name)
	mainID := ids.next("SPDXRef-Module", bi.Main.Path)
	stdID := ids.next("SPDXRef-Stdlib", "")

	platform := set["GOOS"] + "/" + set["GOARCH"]
	doc.Packages = append(doc.Packages, spdxPackage{
		SPDXID:           binID,
		Name:             name,
		VersionInfo:      versionOf(bi.Main.Version),
		PackageFileName:  AppPath(name),
		DownloadLocation: noAssertion,
		Checksums:        []spdxChecksum{{Algorithm: "SHA256", ChecksumValue: sum}},
		LicenseConcluded: noAssertion,
		LicenseDeclared:  noAssertion,
		CopyrightText:    noAssertion,
		Comment: fmt.Sprintf("Go binary of package %s built with %s for %s; build settings: %s",
			bi.Path, bi.GoVersion, platform, strings.Join(settings, " ")),
		PrimaryPurpose: "APPLICATION",
	}, modulePackage(mainID, &bi.Main, "SOURCE", true), spdxPackage{
		SPDXID:           stdID,
		Name:             "stdlib",
		VersionInfo:      goVersion,
		DownloadLocation: "https://go.dev/dl/",
		LicenseConcluded: noAssertion,
		LicenseDeclared:  noAssertion,
		CopyrightText:    noAssertion,
		Comment:          "Go standard library and runtime, " + bi.GoVersion,
		ExternalRefs:     purl("stdlib", strings.TrimPrefix(goVersion, "go")),
		PrimaryPurpose:   "LIBRARY",
	})
	doc.Relationships = append(doc.Relationships,
		spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", binID},
		spdxRelationship{binID, "GENERATED_FROM", mainID},
		spdxRelationship{binID, "DEPENDS_ON", stdID},
	)
	for _, dep := range bi.Deps {
		id := ids.next("SPDXRef-Module", dep.Path)
		doc.Packages = append(doc.Packages, modulePackage(id, dep, "LIBRARY", false))
		doc.Relationships = append(doc.Relationships, spdxRelationship{binID, "DEPENDS_ON", id})
	}
	return encodeSPDX(doc)
}

// modulePackage describes a module; a replaced module is described by its replacement. Only
// dependencies get a download location on the Go module proxy: the main module may be private.
func modulePackage(id string, m *debug.Module, purpose string, main bool) spdxPackage {
	eff := m
	var notes []string
	if m.Replace != nil {
		eff = m.Replace
		notes = append(notes, fmt.Sprintf("replaces %s %s", m.Path, m.Version))
	}
	p := spdxPackage{
		SPDXID:           id,
		Name:             eff.Path,
		VersionInfo:      versionOf(eff.Version),
		DownloadLocation: noAssertion,
		LicenseConcluded: noAssertion,
		LicenseDeclared:  noAssertion,
		CopyrightText:    noAssertion,
		PrimaryPurpose:   purpose,
	}
	if eff.Version != "" && eff.Version != "(devel)" {
		if !main {
			p.DownloadLocation = fmt.Sprintf("https://proxy.golang.org/%s/@v/%s.zip", escapeModule(eff.Path), escapeModule(eff.Version))
		}
		p.ExternalRefs = purl(eff.Path, eff.Version)
	} else {
		p.ExternalRefs = purl(eff.Path, "")
		if strings.HasPrefix(eff.Path, ".") || strings.HasPrefix(eff.Path, "/") {
			notes = append(notes, "local directory")
		}
	}
	if h, ok := modsum.Hex(eff.Sum); ok {
		// The go.sum hash: a SHA-256 over the module's file hashes (Go's dirhash "h1").
		p.Checksums = []spdxChecksum{{Algorithm: "SHA256", ChecksumValue: h}}
		notes = append(notes, "go.sum "+eff.Sum)
	}
	p.Comment = strings.Join(notes, "; ")
	return p
}

// versionOf is an SPDX versionInfo: empty for unknown versions.
func versionOf(v string) string {
	if v == "(devel)" {
		return ""
	}
	return v
}

// purl is a package URL for a Go module (pkg:golang/<path>@<version>).
func purl(modPath, version string) []spdxExternalRef {
	segs := strings.Split(modPath, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	loc := "pkg:golang/" + strings.Join(segs, "/")
	if version != "" {
		loc += "@" + url.PathEscape(version)
	}
	return []spdxExternalRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: loc}}
}

// escapeModule applies the module proxy's case encoding (!x for upper-case X).
func escapeModule(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

var spdxIDBad = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// spdxIDs hands out unique SPDX identifiers (SPDXRef-[A-Za-z0-9.-]+).
type spdxIDs map[string]bool

// next returns prefix-<name cleaned>, numbered when already taken.
func (s spdxIDs) next(prefix, name string) string {
	base := prefix
	if c := strings.Trim(spdxIDBad.ReplaceAllString(name, "-"), "-"); c != "" {
		base += "-" + c
	}
	id := base
	for i := 2; s[id]; i++ {
		id = fmt.Sprintf("%s-%d", base, i)
	}
	s[id] = true
	return id
}

// SBOMFile is an SBOM written by WriteSBOMs.
type SBOMFile struct {
	Platform    platform.Platform
	Path        string
	ImageDigest string // the platform image the SBOM describes, for attestation
	SHA256      string // of the file
}

// WriteSBOMs writes each platform's SBOM atomically into dir as <name>-<os>-<arch>[-<variant>].spdx.json.
func (r *Result) WriteSBOMs(dir string) ([]SBOMFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write SBOMs: %w", err)
	}
	var out []SBOMFile
	for _, p := range r.Platforms {
		file := filepath.Join(dir, r.Name+"-"+strings.ReplaceAll(p.Platform.String(), "/", "-")+".spdx.json")
		if err := atomicfile.WriteFile(file, p.SBOM, 0o644); err != nil {
			return nil, fmt.Errorf("write SBOM %s: %w", file, err)
		}
		s := sha256.Sum256(p.SBOM)
		out = append(out, SBOMFile{Platform: p.Platform, Path: file, ImageDigest: p.Digest.String(), SHA256: hex.EncodeToString(s[:])})
	}
	return out, nil
}

// IndexPlatform is one platform image of an index, for IndexSBOM.
type IndexPlatform struct {
	Platform     platform.Platform
	Digest       string // the platform manifest, sha256:<hex>
	BinarySHA256 string // hex digest of the binary it holds at AppDir/<name>
}

// IndexSBOM returns an SPDX 2.3 JSON document about an image index (what ko attaches to an
// index): the index by digest, each platform image it lists (by digest, with its os and
// architecture in its package URL) and the binary each holds (by SHA-256). The modules of each
// binary are in that platform image's own SBOM (SBOM). repo is the repository the index was
// pushed to; created is the document's creation time (the image's).
func IndexSBOM(name, repo, index string, platforms []IndexPlatform, created time.Time) ([]byte, error) {
	alg, hexDigest, ok := strings.Cut(index, ":")
	if !ok || alg != "sha256" || len(hexDigest) != 2*sha256.Size {
		return nil, fmt.Errorf("index SBOM of %s: %q is not a sha256 digest", name, index)
	}
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC().Truncate(time.Second)
	ns := sha256.Sum256([]byte(name + "\x00" + index + "\x00" + created.Format(time.RFC3339)))
	doc := spdxDocument{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              name + "@" + index,
		DocumentNamespace: "https://github.com/scratchkit/scratchkit/spdx/" + url.PathEscape(name) + "-index-" + hex.EncodeToString(ns[:16]),
		CreationInfo:      spdxCreationInfo{Created: created.Format("2006-01-02T15:04:05Z"), Creators: []string{"Tool: scratchkit"}},
	}
	ids := spdxIDs{}
	indexID := ids.next("SPDXRef-Index", name)
	doc.Packages = append(doc.Packages, spdxPackage{
		SPDXID:           indexID,
		Name:             name,
		VersionInfo:      index,
		DownloadLocation: noAssertion,
		Checksums:        []spdxChecksum{{Algorithm: "SHA256", ChecksumValue: hexDigest}},
		LicenseConcluded: noAssertion,
		LicenseDeclared:  noAssertion,
		CopyrightText:    noAssertion,
		ExternalRefs:     ociPURL(name, repo, index, platform.Platform{}),
		PrimaryPurpose:   "CONTAINER",
		Comment:          "image index; each platform image has an SBOM of its own, attested at its digest",
	})
	doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", indexID})
	for _, p := range platforms {
		pAlg, pHex, ok := strings.Cut(p.Digest, ":")
		if !ok || pAlg != "sha256" {
			return nil, fmt.Errorf("index SBOM of %s: %s: %q is not a sha256 digest", name, p.Platform, p.Digest)
		}
		plat := p.Platform.String()
		imgID := ids.next("SPDXRef-Image", plat)
		binID := ids.next("SPDXRef-Binary", name+"-"+plat)
		doc.Packages = append(doc.Packages, spdxPackage{
			SPDXID:           imgID,
			Name:             name + " " + plat,
			VersionInfo:      p.Digest,
			DownloadLocation: noAssertion,
			Checksums:        []spdxChecksum{{Algorithm: "SHA256", ChecksumValue: pHex}},
			LicenseConcluded: noAssertion,
			LicenseDeclared:  noAssertion,
			CopyrightText:    noAssertion,
			ExternalRefs:     ociPURL(name, repo, p.Digest, p.Platform),
			PrimaryPurpose:   "CONTAINER",
		}, spdxPackage{
			SPDXID:           binID,
			Name:             name,
			PackageFileName:  AppPath(name),
			DownloadLocation: noAssertion,
			Checksums:        []spdxChecksum{{Algorithm: "SHA256", ChecksumValue: p.BinarySHA256}},
			LicenseConcluded: noAssertion,
			LicenseDeclared:  noAssertion,
			CopyrightText:    noAssertion,
			Comment:          "Go binary for " + plat,
			PrimaryPurpose:   "APPLICATION",
		})
		doc.Relationships = append(doc.Relationships,
			spdxRelationship{indexID, "CONTAINS", imgID},
			spdxRelationship{imgID, "CONTAINS", binID},
		)
	}
	return encodeSPDX(doc)
}

// ociPURL is the package URL of an image by digest (pkg:oci/<name>@sha256%3A<hex>), with its
// repository and, for a platform image, its os, architecture and variant.
func ociPURL(name, repo, digest string, p platform.Platform) []spdxExternalRef {
	q := url.Values{}
	if repo != "" {
		q.Set("repository_url", repo)
	}
	if !p.IsZero() {
		q.Set("os", p.OS)
		q.Set("arch", p.Arch)
		if p.Variant != "" {
			q.Set("variant", p.Variant)
		}
	}
	loc := "pkg:oci/" + url.PathEscape(name) + "@" + url.QueryEscape(digest)
	if len(q) > 0 {
		loc += "?" + q.Encode()
	}
	return []spdxExternalRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: loc}}
}

// encodeSPDX writes an SPDX document as indented JSON, with no HTML escaping (URLs stay readable).
func encodeSPDX(doc any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
