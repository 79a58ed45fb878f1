package image

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// buildProbe builds testdata/sbomprobe, a program of this module with two module dependencies.
func buildProbe(t *testing.T) string {
	t.Helper()
	return testenv.GoBuild(t, testenv.GoProgram{Dir: ".", Pkg: "./testdata/sbomprobe", Flags: []string{"-trimpath"},
		Env: []string{"GOOS=linux", "GOARCH=amd64", "GOWORK=off"}})
}

// goSum reads the h1 hash of module@version from the repository's go.sum.
func goSum(t *testing.T, module, version string) string {
	t.Helper()
	f, err := os.Open("../../go.sum")
	must(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) == 3 && fs[0] == module && fs[1] == version {
			return fs[2]
		}
	}
	t.Fatalf("go.sum has no %s %s", module, version)
	return ""
}

var (
	spdxIDRE   = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)
	spdxTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	creatorRE  = regexp.MustCompile(`^(Tool|Organization|Person): \S.*$`)
	// Checksum algorithms of SPDX 2.3 with their hex lengths (where fixed).
	spdxAlgorithms = map[string]int{"SHA1": 40, "SHA224": 56, "SHA256": 64, "SHA384": 96, "SHA512": 128, "MD5": 32,
		"SHA3-256": 64, "SHA3-384": 96, "SHA3-512": 128, "BLAKE2b-256": 64, "BLAKE2b-384": 96, "BLAKE2b-512": 128}
	spdxRelationships = map[string]bool{"DESCRIBES": true, "DEPENDS_ON": true, "GENERATED_FROM": true, "CONTAINS": true, "STATIC_LINK": true}
	spdxPurposes      = map[string]bool{"APPLICATION": true, "FRAMEWORK": true, "LIBRARY": true, "CONTAINER": true, "OPERATING-SYSTEM": true,
		"DEVICE": true, "FIRMWARE": true, "SOURCE": true, "ARCHIVE": true, "FILE": true, "INSTALL": true, "OTHER": true}
)

// checkSPDX checks the rules of SPDX 2.3 a consumer relies on (required fields, identifier and
// time formats, checksum algorithms and lengths, relationships between known elements) and
// returns the document.
func checkSPDX(t *testing.T, raw []byte) spdxDocument {
	t.Helper()
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatalf("SBOM is not JSON: %v", err)
	}
	for _, k := range []string{"spdxVersion", "dataLicense", "SPDXID", "name", "documentNamespace", "creationInfo", "packages"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("SBOM lacks required %s", k)
		}
	}
	var doc spdxDocument
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("SBOM: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXID != "SPDXRef-DOCUMENT" || doc.Name == "" {
		t.Errorf("document header %q %q %q %q", doc.SPDXVersion, doc.DataLicense, doc.SPDXID, doc.Name)
	}
	if u, err := url.Parse(doc.DocumentNamespace); err != nil || !u.IsAbs() || strings.Contains(doc.DocumentNamespace, "#") {
		t.Errorf("documentNamespace %q is not an absolute URI without '#'", doc.DocumentNamespace)
	}
	if !spdxTimeRE.MatchString(doc.CreationInfo.Created) || len(doc.CreationInfo.Creators) == 0 {
		t.Errorf("creationInfo %+v", doc.CreationInfo)
	}
	for _, c := range doc.CreationInfo.Creators {
		if !creatorRE.MatchString(c) {
			t.Errorf("creator %q", c)
		}
	}
	ids := map[string]bool{"SPDXRef-DOCUMENT": true}
	for _, p := range doc.Packages {
		if !spdxIDRE.MatchString(p.SPDXID) || ids[p.SPDXID] {
			t.Errorf("package SPDXID %q is malformed or used twice", p.SPDXID)
		}
		ids[p.SPDXID] = true
		if p.Name == "" || p.DownloadLocation == "" || p.LicenseConcluded == "" || p.LicenseDeclared == "" || p.CopyrightText == "" {
			t.Errorf("package %s lacks a required field: %+v", p.SPDXID, p)
		}
		if p.PrimaryPurpose != "" && !spdxPurposes[p.PrimaryPurpose] {
			t.Errorf("package %s purpose %q", p.SPDXID, p.PrimaryPurpose)
		}
		for _, c := range p.Checksums {
			n, ok := spdxAlgorithms[c.Algorithm]
			if _, err := hex.DecodeString(c.ChecksumValue); !ok || err != nil || len(c.ChecksumValue) != n {
				t.Errorf("package %s checksum %+v", p.SPDXID, c)
			}
		}
		for _, r := range p.ExternalRefs {
			if r.Category != "PACKAGE-MANAGER" || r.Type != "purl" || !strings.HasPrefix(r.Locator, "pkg:golang/") {
				t.Errorf("package %s external ref %+v", p.SPDXID, r)
			}
		}
	}
	for _, r := range doc.Relationships {
		if !ids[r.Element] || !ids[r.Related] || !spdxRelationships[r.Type] {
			t.Errorf("relationship %+v refers to an unknown element or type", r)
		}
	}
	return doc
}

func pkgByName(doc spdxDocument, name string) *spdxPackage {
	for i := range doc.Packages {
		if doc.Packages[i].Name == name {
			return &doc.Packages[i]
		}
	}
	return nil
}

func TestSBOM(t *testing.T) {
	bin := buildProbe(t)
	created := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	raw, err := SBOM(bin, "sbomprobe", created)
	must(t, err)
	doc := checkSPDX(t, raw)
	if doc.CreationInfo.Created != "2026-10-01T08:00:00Z" {
		t.Errorf("created %s", doc.CreationInfo.Created)
	}

	// The document describes the binary, with its SHA-256.
	var described string
	for _, r := range doc.Relationships {
		if r.Element == "SPDXRef-DOCUMENT" && r.Type == "DESCRIBES" {
			described = r.Related
		}
	}
	var binPkg *spdxPackage
	for i := range doc.Packages {
		if doc.Packages[i].SPDXID == described {
			binPkg = &doc.Packages[i]
		}
	}
	if binPkg == nil || binPkg.PrimaryPurpose != "APPLICATION" || len(binPkg.Checksums) != 1 || binPkg.Checksums[0].ChecksumValue != testenv.FileSHA256(t, bin) {
		t.Fatalf("described package %+v, want the binary with sha256 %s", binPkg, testenv.FileSHA256(t, bin))
	}
	if !strings.Contains(binPkg.Comment, "GOARCH=amd64") || !strings.Contains(binPkg.Comment, "-trimpath=true") {
		t.Errorf("binary comment lacks its build settings: %s", binPkg.Comment)
	}

	// Main module, Go version, and the dependencies with versions and go.sum hashes.
	if pkgByName(doc, "github.com/scratchkit/scratchkit") == nil {
		t.Errorf("no main module package")
	}
	std := pkgByName(doc, "stdlib")
	if want := goVersion(goroot(t)); std == nil || std.VersionInfo != want || std.ExternalRefs[0].Locator != "pkg:golang/stdlib@"+strings.TrimPrefix(want, "go") {
		t.Errorf("stdlib package %+v, want version %s", std, want)
	}
	for _, dep := range []struct{ path, version string }{
		{"github.com/google/go-containerregistry", "v0.22.1"},
		{caModule, moduleVersion(caModule, bundle.Roots)},
	} {
		p := pkgByName(doc, dep.path)
		if p == nil {
			t.Errorf("no package for %s", dep.path)
			continue
		}
		h1 := goSum(t, dep.path, dep.version)
		sum, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(h1, "h1:"))
		if p.VersionInfo != dep.version || len(p.Checksums) != 1 || p.Checksums[0].ChecksumValue != hex.EncodeToString(sum) || !strings.Contains(p.Comment, h1) {
			t.Errorf("%s: %+v, want version %s and go.sum %s", dep.path, p, dep.version, h1)
		}
		if want := "https://proxy.golang.org/" + dep.path + "/@v/" + dep.version + ".zip"; p.DownloadLocation != want {
			t.Errorf("%s download location %s, want %s", dep.path, p.DownloadLocation, want)
		}
		if p.ExternalRefs[0].Locator != "pkg:golang/"+dep.path+"@"+dep.version {
			t.Errorf("%s purl %s", dep.path, p.ExternalRefs[0].Locator)
		}
		depends := false
		for _, r := range doc.Relationships {
			depends = depends || (r.Element == described && r.Type == "DEPENDS_ON" && r.Related == p.SPDXID)
		}
		if !depends {
			t.Errorf("the binary does not depend on %s", dep.path)
		}
	}

	// Reproducible: the same inputs give the same bytes; another time another document.
	again, err := SBOM(bin, "sbomprobe", created)
	must(t, err)
	if !bytes.Equal(raw, again) {
		t.Errorf("two SBOMs of the same binary differ")
	}
	later, err := SBOM(bin, "sbomprobe", created.Add(time.Hour))
	must(t, err)
	if bytes.Equal(raw, later) {
		t.Errorf("another creation time gave the same SBOM")
	}
}

func TestSBOMReplacedModule(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "local"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "local", "go.mod"), []byte("module example.com/local\n\ngo 1.26\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "local", "local.go"), []byte("package local\n\nconst Greeting = \"hi\"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/app\n\ngo 1.26\n\nrequire example.com/local v1.0.0\n\nreplace example.com/local v1.0.0 => ./local\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"example.com/local\"\n\nfunc main() { println(local.Greeting) }\n"), 0o644))
	cmd := exec.Command("go", "build", "-trimpath", "-o", "app", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	raw, err := SBOM(filepath.Join(dir, "app"), "app", time.Time{})
	must(t, err)
	doc := checkSPDX(t, raw)
	p := pkgByName(doc, "./local")
	if p == nil || p.VersionInfo != "" || p.DownloadLocation != noAssertion || !strings.Contains(p.Comment, "replaces example.com/local v1.0.0") {
		t.Errorf("replaced module: %+v", p)
	}
	if doc.CreationInfo.Created != "1970-01-01T00:00:00Z" {
		t.Errorf("zero time gave created %s", doc.CreationInfo.Created)
	}
}

func TestSBOMOfBuild(t *testing.T) {
	s := spec(t, "linux/amd64")
	r := build(t, s)
	want, err := SBOM(s.Binaries[0].Path, "tiny", testCreated)
	must(t, err)
	if !bytes.Equal(r.Platforms[0].SBOM, want) {
		t.Errorf("Build's SBOM differs from SBOM of the same binary")
	}
	checkSPDX(t, r.Platforms[0].SBOM)
	if _, err := SBOM(filepath.Join(t.TempDir(), "missing"), "x", testCreated); err == nil {
		t.Errorf("SBOM of a missing file")
	}
	notGo := filepath.Join(t.TempDir(), "script")
	must(t, os.WriteFile(notGo, []byte("#!/bin/sh\necho hi\n"), 0o755))
	if _, err := SBOM(notGo, "script", testCreated); err == nil || !strings.Contains(err.Error(), "build information") {
		t.Errorf("SBOM of a shell script: %v", err)
	}
}

func TestEscapeModule(t *testing.T) {
	if got := escapeModule("github.com/BurntSushi/toml"); got != "github.com/!burnt!sushi/toml" {
		t.Errorf("escapeModule: %s", got)
	}
}
