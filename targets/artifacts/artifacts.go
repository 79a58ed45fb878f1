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
	"slices"
	"strings"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/internal/redact"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/pgo"
	"github.com/scratchkit/scratchkit/targets/platform"
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
	// TrustedRoot is the Sigstore trusted root Sign wrote for verifiers of its key-based
	// bundles (dist/trusted_root.json), relative to the working directory.
	TrustedRoot string `json:"trusted_root,omitempty"`
	// Resolved is the YAML stream the resolve target wrote.
	Resolved *Resolved `json:"resolved,omitempty"`
	// PGOChecks are what profiles were measured to buy (pgoCheck, or pgo with pgo.check), the
	// latest per build and profile digest, newest last; kept across builds, so the provenance
	// of an image built with a checked profile carries its figures.
	PGOChecks []pgo.CheckReport `json:"pgo_checks,omitempty"`
}

// MaxPGOChecks bounds the checks the record keeps.
const MaxPGOChecks = 16

// AddPGOCheck records c, replacing an earlier check of the same build and profile, and drops
// the oldest beyond MaxPGOChecks.
func (a *Artifacts) AddPGOCheck(c pgo.CheckReport) {
	a.PGOChecks = slices.DeleteFunc(a.PGOChecks, func(o pgo.CheckReport) bool {
		return o.Build == c.Build && o.Candidate == c.Candidate
	})
	a.PGOChecks = append(a.PGOChecks, c)
	if over := len(a.PGOChecks) - MaxPGOChecks; over > 0 {
		a.PGOChecks = slices.Delete(a.PGOChecks, 0, over)
	}
}

// PGOCheck is the latest check of the profile with this sha256 (any build), or nil.
func (a *Artifacts) PGOCheck(sha256 string) *pgo.CheckReport {
	for i := len(a.PGOChecks) - 1; i >= 0; i-- {
		if sha256 != "" && a.PGOChecks[i].Candidate == sha256 {
			return &a.PGOChecks[i]
		}
	}
	return nil
}

// Binary is one built binary.
type Binary struct {
	Name     string            `json:"name"`
	Platform platform.Platform `json:"platform"`
	// Path is relative to the working directory, with forward slashes.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Main is the import path of the main package; Dir its directory relative to the working
	// directory when it is in the project's module, Module its module (path@version) when it
	// is a dependency's.
	Main    string `json:"main,omitempty"`
	Dir     string `json:"dir,omitempty"`
	Module  string `json:"module,omitempty"`
	Linkage string `json:"linkage,omitempty"`
	// PGO is the profile the build used, if any.
	PGO string `json:"pgo,omitempty"`
	// PGOSHA256 is the sha256 of that profile's bytes when it was built.
	PGOSHA256 string `json:"pgo_sha256,omitempty"`
	// GlibcRuntime are the C functions the linker warned need glibc's shared libraries at run
	// time (getaddrinfo, getpwnam, dlopen, …): Verify's nss check names them.
	GlibcRuntime []string `json:"glibc_runtime,omitempty"`
	// Toolchain is the Go release build.toolchain chose (GOTOOLCHAIN), e.g. go1.26.11; empty
	// when the go command on PATH built it as it is.
	Toolchain string `json:"toolchain,omitempty"`
	// Verified is set by Verify when every enforced check passed for this exact sha256.
	Verified bool `json:"verified,omitempty"`
	// BuildInfo is the binary's Go build info as Verify read it, in the text form `go version -m`
	// prints (runtime/debug.ParseBuildInfo reads it back): Image, the SBOM, the vulnerability
	// scan and the provenance take it from here instead of reading the binary again.
	BuildInfo string `json:"build_info,omitempty"`
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
	Ref         string              `json:"ref"`
	Digest      string              `json:"digest"`
	Platforms   []platform.Platform `json:"platforms"`
	Destination string              `json:"destination"`
	Tags        []string            `json:"tags,omitempty"`
	SBOM        string              `json:"sbom,omitempty"`
	Base        string              `json:"base,omitempty"`
	BaseDigest  string              `json:"base_digest,omitempty"`
	// Size is the compressed size of the image: its distinct configs and layers, summed over
	// platforms (what the destination stores). What one platform pulls is its manifest's Size.
	Size int64 `json:"size,omitempty"`
	// Manifests are the platform manifests of an index, with the binary each packs.
	Manifests []Manifest `json:"manifests,omitempty"`
}

// Manifest is one platform of an image.
type Manifest struct {
	Platform platform.Platform `json:"platform"`
	Digest   string            `json:"digest"`
	// Binary is the sha256 of the binary in the image, equal to a verified Binary's.
	Binary string `json:"binary"`
	// SBOM is the SPDX SBOM of this platform's binary.
	SBOM string `json:"sbom,omitempty"`
	// Size is what pulling this platform downloads: its config and layers, compressed.
	Size int64 `json:"size,omitempty"`
}

// Smoke is the outcome of one platform of an image's smoke test.
type Smoke struct {
	Image    string            `json:"image"`
	Digest   string            `json:"digest"`
	Platform platform.Platform `json:"platform"`
	// Ran is true when the platform ran in a container (Runtime says with what); false when it
	// was only checked statically, and Reason says why (a foreign platform without a qemu
	// handler, smoke.runtime: none, a failed user check, no runtime).
	Ran     bool   `json:"ran"`
	Runtime string `json:"runtime,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Passed is true only when the platform ran and every static check and probe passed: a
	// platform that never ran has not passed a smoke test, whatever its static checks said.
	Passed bool `json:"passed"`
	// Checks are the static checks and probes that failed ("ports", "probe http"); none for a
	// platform that was not run and whose static checks all passed.
	Checks []string `json:"checks,omitempty"`
	// Error is what kept the platform from being checked or run at all (an unreadable image, a
	// runtime that failed).
	Error string `json:"error,omitempty"`
}

// Signature is a signature or an attestation pushed for an image digest.
type Signature struct {
	Image string `json:"image"`
	// Subject is the signed image, repo@sha256:….
	Subject string `json:"subject"`
	// Platform is set when Subject is one platform's manifest (of an index, or an image of one
	// platform).
	Platform platform.Platform `json:"platform,omitzero"`
	// SBOM is, for an SBOM attestation, the SPDX file it carries.
	SBOM string `json:"sbom,omitempty"`
	// Format is bundle (a Sigstore bundle attached as an OCI referrer) or legacy (cosign's tag
	// layout).
	Format string `json:"format,omitempty"`
	// Ref is where the signature or attestation lives: legacy, the tag repo:sha256-<hex>.sig or
	// .att; a bundle, the referrer manifest repo@sha256:<hex> holding it.
	Ref string `json:"ref"`
	// Digest is the digest of the manifest at Ref.
	Digest string `json:"digest,omitempty"`
	// FallbackTag is, for a bundle on a registry without the OCI referrers API, the tag whose
	// index lists it (repo:sha256-<subject hex>, the referrers tag schema); empty when the
	// registry's referrers API lists it.
	FallbackTag string `json:"fallback_tag,omitempty"`
	// PredicateType is set for attestations.
	PredicateType string `json:"predicate_type,omitempty"`
	// TLog is the Rekor entry when one was made.
	TLog string `json:"tlog,omitempty"`
}

// Checksums is the signed checksum file of the release binaries.
type Checksums struct {
	Path string `json:"path"`
	// Bundle is its Sigstore bundle, <path>.sigstore.json (sign.format bundle or both).
	Bundle string `json:"bundle,omitempty"`
	// Signature is its detached base64 signature, <path>.sig (sign.format legacy or both).
	Signature string `json:"signature,omitempty"`
	SHA256    string `json:"sha256"`
}

// Resolved is a YAML stream whose ko:// references were replaced by image references.
type Resolved struct {
	// Path is the stream's file relative to the working directory, or "-" for standard output.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// Substitutions are the references replaced, in the order of the stream.
	Substitutions []Substitution `json:"substitutions"`
}

// Substitution is one ko://<import path> and the image reference written in its place.
type Substitution struct {
	// File and Line are where the reference was; File is relative to the working directory.
	File string `json:"file"`
	Line int    `json:"line"`
	// Main is the import path after ko://, as a Binary's Main; Image the image built from it.
	Main  string `json:"main"`
	Image string `json:"image"`
	Ref   string `json:"ref"`
}

// PrevFileName is the previous run's record, kept by Build for Verify's size comparison.
const PrevFileName = "artifacts.prev.json"

// Path is the record's path inside a dist folder.
func Path(dist string) string { return filepath.Join(dist, FileName) }

// LoadError is a record file Load cannot use: there is none yet (Missing; Err wraps
// fs.ErrNotExist), or the file is not a record (Err says why). Whoever runs the build says how
// to make a new one.
type LoadError struct {
	Path    string
	Missing bool
	Err     error
}

func (e *LoadError) Error() string {
	if e.Missing {
		return e.Path + " does not exist"
	}
	return fmt.Sprintf("%s is not a scratchkit record (%v)", e.Path, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// Load reads the record. A missing or unreadable record is a *LoadError.
func Load(dist string) (*Artifacts, error) {
	p := Path(dist)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &LoadError{Path: p, Missing: true, Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	var a Artifacts
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, &LoadError{Path: p, Err: err}
	}
	return &a, nil
}

// Save writes the record atomically.
func (a *Artifacts) Save(dist string) error {
	// The messages the record keeps came from elsewhere (a database, a runtime, a registry):
	// they pass the one redactor, as everything printed does.
	for i := range a.Binaries {
		a.Binaries[i].VulnError = redact.Text(a.Binaries[i].VulnError)
	}
	for i := range a.Smoke {
		a.Smoke[i].Reason, a.Smoke[i].Error = redact.Text(a.Smoke[i].Reason), redact.Text(a.Smoke[i].Error)
	}
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(Path(dist), append(data, '\n'), 0o644)
}

// Binary returns the recorded binary of a name and platform.
func (a *Artifacts) Binary(name string, p platform.Platform) (*Binary, bool) {
	for i := range a.Binaries {
		if a.Binaries[i].Name == name && a.Binaries[i].Platform == p {
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
