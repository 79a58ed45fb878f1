// Package artifacts is dist/artifacts.json: the one record of what a run produced, which each
// target reads and extends. Build writes the binaries; Verify, Image, Smoke and Sign add to it.
// Later steps trust digests recorded here, never tags.
package artifacts

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/vuln"
)

// FileName is the record's name inside the dist folder.
const FileName = "artifacts.json"

// Artifacts is the whole record.
type Artifacts struct {
	// Version, Commit and Date are the values ldflags templates saw.
	Version string `json:"version,omitempty"`
	Commit  string `json:"commit,omitempty"`
	Date    string `json:"date,omitempty"`

	Binaries     []Binary    `json:"binaries"`
	Images       []Image     `json:"images,omitempty"`
	Smoke        []Smoke     `json:"smoke,omitempty"`
	Signatures   []Signature `json:"signatures,omitempty"`
	Attestations []Signature `json:"attestations,omitempty"`
	Checksums    *Checksums  `json:"checksums,omitempty"`
}

// Binary is one built binary.
type Binary struct {
	Name     string `json:"name"`
	Platform string `json:"platform"`
	// Path is relative to the working directory, with forward slashes.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Main is the import path of the main package; Dir its directory relative to the working directory.
	Main    string `json:"main,omitempty"`
	Dir     string `json:"dir,omitempty"`
	Linkage string `json:"linkage,omitempty"`
	// PGO is the profile the build used, if any.
	PGO string `json:"pgo,omitempty"`
	// Verified is set by Verify when every enforced check passed for this exact sha256.
	Verified bool `json:"verified,omitempty"`
	// Sizes is where the bytes go (ELF sections, Go packages), recorded by Verify so the next
	// run can show what changed.
	Sizes *binary.Sizes `json:"sizes,omitempty"`
	// Vuln is Verify's vulnerability check of this sha256 (the findings marked with the
	// verify.vuln_ignore entries that applied); nil when it was off or could not run, and then
	// VulnError says why it could not.
	Vuln      *vuln.Result `json:"vuln,omitempty"`
	VulnError string       `json:"vuln_error,omitempty"`
}

// Image is one image as it was published, by digest.
type Image struct {
	Name string `json:"name"`
	// Ref is repo/name@sha256:… for registry destinations, a path otherwise.
	Ref         string   `json:"ref"`
	Digest      string   `json:"digest"`
	Platforms   []string `json:"platforms"`
	Destination string   `json:"destination"`
	Tags        []string `json:"tags,omitempty"`
	SBOM        string   `json:"sbom,omitempty"`
	Base        string   `json:"base,omitempty"`
	BaseDigest  string   `json:"base_digest,omitempty"`
	// Size is the compressed size of the image (config and layers, summed over platforms).
	Size int64 `json:"size,omitempty"`
	// Manifests are the platform manifests of an index, with the binary each packs.
	Manifests []Manifest `json:"manifests,omitempty"`
}

// Manifest is one platform of an image.
type Manifest struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
	// Binary is the sha256 of the binary in the image, equal to a verified Binary's.
	Binary string `json:"binary"`
	// SBOM is the SPDX SBOM of this platform's binary.
	SBOM string `json:"sbom,omitempty"`
}

// Smoke is the outcome of one image's smoke test.
type Smoke struct {
	Image    string   `json:"image"`
	Digest   string   `json:"digest"`
	Platform string   `json:"platform"`
	Runtime  string   `json:"runtime"`
	Passed   bool     `json:"passed"`
	Checks   []string `json:"checks,omitempty"`
}

// Signature is a signature or an attestation pushed for an image digest.
type Signature struct {
	Image string `json:"image"`
	// Subject is the signed image, repo@sha256:….
	Subject string `json:"subject"`
	// Ref is where the signature or attestation lives, e.g. repo:sha256-<hex>.sig.
	Ref    string `json:"ref"`
	Digest string `json:"digest,omitempty"`
	// PredicateType is set for attestations.
	PredicateType string `json:"predicate_type,omitempty"`
	// TLog is the Rekor entry when one was made.
	TLog string `json:"tlog,omitempty"`
}

// Checksums is the signed checksum file of the release binaries.
type Checksums struct {
	Path      string `json:"path"`
	Signature string `json:"signature,omitempty"`
	SHA256    string `json:"sha256"`
}

// PrevFileName is the previous run's record, kept by Build for Verify's size comparison.
const PrevFileName = "artifacts.prev.json"

// Path is the record's path inside a dist folder.
func Path(dist string) string { return filepath.Join(dist, FileName) }

// Load reads the record; a missing file says which target makes it.
func Load(dist string) (*Artifacts, error) {
	p := Path(dist)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist: run `mage build` first", p)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	var a Artifacts
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("%s is not a scratchkit record (%v): delete it and run `mage build`", p, err)
	}
	return &a, nil
}

// Save writes the record atomically.
func (a *Artifacts) Save(dist string) error {
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(Path(dist), append(data, '\n'), 0o644)
}

// Binary returns the recorded binary of a name and platform.
func (a *Artifacts) Binary(name, platform string) (*Binary, bool) {
	for i := range a.Binaries {
		if a.Binaries[i].Name == name && a.Binaries[i].Platform == platform {
			return &a.Binaries[i], true
		}
	}
	return nil, false
}

// SetImage replaces the record of an image at a destination (for registries: in the same
// repository), or adds it.
func (a *Artifacts) SetImage(img Image) {
	for i := range a.Images {
		if a.Images[i].Name == img.Name && a.Images[i].Destination == img.Destination && where(a.Images[i].Ref) == where(img.Ref) {
			a.Images[i] = img
			return
		}
	}
	a.Images = append(a.Images, img)
}

// where is a reference without its digest or tag: the repository (or file) an image went to.
func where(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i]
	}
	return ref
}

// AddImage adds an image record unless one with the same destination and digest is there.
func (a *Artifacts) AddImage(img Image) {
	for i := range a.Images {
		if a.Images[i].Destination == img.Destination && a.Images[i].Digest == img.Digest {
			a.Images[i] = img
			return
		}
	}
	a.Images = append(a.Images, img)
}
