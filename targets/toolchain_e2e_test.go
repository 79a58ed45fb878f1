package targets_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/mod/semver"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/vuln"
)

// needsModuleProxy skips (or, under .ci/test, fails) a test that needs the Go module proxy.
func needsModuleProxy(t *testing.T, module string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-json", module+"@latest")
	cmd.Dir, cmd.Env = t.TempDir(), append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		testenv.Missing(t, "the Go module proxy does not serve %s: %v\n%s", module, err, out)
	}
}

// stdlibFindings returns the standard-library findings of the record's binaries.
func stdlibFindings(rec *artifacts.Artifacts) (db string, out []vuln.Finding) {
	for _, b := range rec.Binaries {
		if b.Vuln == nil {
			continue
		}
		db = vuln.Describe(b.Vuln.DB, b.Vuln.DBModified)
		for _, f := range b.Vuln.Findings {
			if f.Module == "stdlib" && f.Reached() {
				out = append(out, f)
			}
		}
	}
	return db, out
}

// The real Go vulnerability database, offline but for the module proxy: verify.vulndb: goproxy
// scans the example with the newest golang.org/x/vulndb and records it with its version's date;
// the standard-library findings of the machine's Go are listed with the release that fixes them
// and the setting that builds with it. build.toolchain: patch then builds, verifies and images the
// example with the newest patch release of that Go through GOTOOLCHAIN, records it, and Verify
// reports none of the findings that release fixed.
func TestRealDatabaseAndToolchainPatch(t *testing.T) {
	needsModuleProxy(t, vuln.ModulePath)
	dir := project(t, nil)
	// The tests' environment points verify.vulndb at an empty database (TestMain); this one asks
	// for the real one, the way a CI job would.
	env := []string{"SOURCE_DATE_EPOCH=1700000000", "SCRATCHKIT_VERIFY_VULNDB=" + vuln.GoProxy}
	out := mustRun(t, dir, env, "verify")
	rec := record(t, dir)
	bin := rec.Binaries[0]
	if bin.Vuln == nil || !strings.HasPrefix(bin.Vuln.DB, "pkg:golang/golang.org/x/vulndb@v0.0.0-") || bin.Vuln.DBVersion() == "" {
		t.Fatalf("the scan against the module database: %+v (%s)\n%s", bin.Vuln, bin.VulnError, out)
	}
	if !strings.Contains(out, bin.Vuln.DB+" (modified "+bin.Vuln.DBVersion()+")") {
		t.Errorf("Verify does not name the database and its date:\n%s", out)
	}
	db, before := stdlibFindings(rec)
	local := runtime.Version()
	newest := ""
	for _, f := range before {
		if f.Found != local {
			t.Errorf("%s found in %s, want the machine's %s", f.ID, f.Found, local)
		}
		if f.Fixed != "" && (newest == "" || semver.Compare("v"+strings.TrimPrefix(f.Fixed, "go"), "v"+strings.TrimPrefix(newest, "go")) > 0) {
			newest = f.Fixed
		}
	}
	t.Logf("%s: %d standard-library findings reached in %s, all fixed by %s", db, len(before), local, newest)
	if len(before) > 0 && !strings.Contains(out, "build.toolchain: patch") {
		t.Errorf("Verify's advice for a standard-library finding does not name build.toolchain:\n%s", out)
	}

	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), "build:\n  toolchain: patch\n")
	out = mustRun(t, dir, env, "image")
	rec = record(t, dir)
	bin = rec.Binaries[0]
	if bin.Toolchain == "" || semver.Compare("v"+strings.TrimPrefix(bin.Toolchain, "go"), "v"+strings.TrimPrefix(local, "go")) < 0 {
		t.Fatalf("build.toolchain patch recorded toolchain %q (machine %s)\n%s", bin.Toolchain, local, out)
	}
	if !strings.Contains(out, "building with "+bin.Toolchain) {
		t.Errorf("Build does not say which Go it builds with:\n%s", out)
	}
	gv, err := exec.Command("go", "version", filepath.Join(dir, bin.Path)).Output()
	if err != nil || !strings.Contains(string(gv), bin.Toolchain) {
		t.Errorf("go version of the binary: %s %v, want %s", gv, err, bin.Toolchain)
	}
	sbom, err := os.ReadFile(filepath.Join(dir, rec.Images[0].Manifests[0].SBOM))
	if err != nil || !strings.Contains(string(sbom), "Go standard library and runtime, "+bin.Toolchain) {
		t.Errorf("the SBOM does not name %s: %v", bin.Toolchain, err)
	}
	_, after := stdlibFindings(rec)
	for _, f := range after {
		if f.Found != bin.Toolchain {
			t.Errorf("%s found in %s, want %s", f.ID, f.Found, bin.Toolchain)
		}
		if f.Fixed != "" && semver.Compare("v"+strings.TrimPrefix(f.Fixed, "go"), "v"+strings.TrimPrefix(bin.Toolchain, "go")) <= 0 {
			t.Errorf("%s is reported in %s, which fixed it (%s)", f.ID, bin.Toolchain, f.Fixed)
		}
	}
	for _, f := range before {
		if semver.Compare("v"+strings.TrimPrefix(f.Fixed, "go"), "v"+strings.TrimPrefix(bin.Toolchain, "go")) <= 0 {
			for _, g := range after {
				if g.ID == f.ID {
					t.Errorf("%s, fixed in %s, still reported with %s", f.ID, f.Fixed, bin.Toolchain)
				}
			}
		}
	}
	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), "build:\n  toolchain: go1.26\n")
	if out, err := run(t, dir, env, "build"); err == nil || !strings.Contains(out, "scratchkit.yaml") || !strings.Contains(out, "build.toolchain") {
		t.Errorf("build.toolchain go1.26: %v\n%s", err, out)
	}
}
