package targets_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// TestMain points every engine the tests run at an empty local vulnerability database (through
// GOVULNDB, which SCRATCHKIT_VERIFY_VULNDB in a test's own environment overrides): Verify's
// vulnerability check never reaches for the network. testenv.Main removes the fixtures the tests
// built.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scratchkit-e2e-vulndb-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	url, err := testenv.WriteVulnDBFiles(dir, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("GOVULNDB", url)
	testenv.Main(m)
	os.RemoveAll(dir)
}

// helloVulnDB writes a database with two vulnerabilities of the standard library's net/http:
// one in (*http.Server).ListenAndServe, which the hello example calls, and one in
// http.ListenAndServeTLS, which it does not, both fixed in a Go that does not exist yet.
func helloVulnDB(t *testing.T) string {
	t.Helper()
	return testenv.WriteVulnDB(t, t.TempDir(), time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC),
		testenv.Vuln{ID: "GO-2099-0101", Aliases: []string{"CVE-2099-0101"}, Summary: "ListenAndServe trusts a header", Module: "stdlib",
			Package: "net/http", Symbols: []string{"Server.ListenAndServe"}, Fixed: "1.99.0"},
		testenv.Vuln{ID: "GO-2099-0102", Summary: "ListenAndServeTLS leaks", Module: "stdlib",
			Package: "net/http", Symbols: []string{"ListenAndServeTLS"}, Fixed: "1.99.0"},
	)
}

// TestVerifyVulncheck is `mage verify` on the example against a local database: report warns and
// records; a no-op rebuild does not rescan; enforce fails naming the vulnerability the binary
// reaches and not the one it does not; an unexpired ignore entry passes and an expired one
// fails; an unreachable database warns under report and fails under enforce.
func TestVerifyVulncheck(t *testing.T) {
	dir := project(t, nil)
	db := helloVulnDB(t)
	env := []string{"SCRATCHKIT_VERIFY_VULNDB=" + db}
	plat := "linux/" + runtime.GOARCH
	reached := fmt.Sprintf("GO-2099-0101 (CVE-2099-0101) in stdlib %s, fixed in go1.99.0: net/http.Server.ListenAndServe in the binary", runtime.Version())
	notReached := "GO-2099-0102 in stdlib " + runtime.Version() + ", fixed in go1.99.0: net/http linked, its vulnerable functions not"
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") } // the report wraps lines
	contains := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(flat(out), flat(w)) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}

	// report, the default: warns, passes, records.
	out := mustRun(t, dir, env, "verify")
	if !strings.Contains(out, " vuln\n") {
		t.Errorf("no vuln column:\n%s", out)
	}
	contains(out, "warn vuln: 1 known vulnerability whose vulnerable functions are in the binary", reached,
		"note: vuln: "+notReached, "(reported, not enforced)", "1 scanned, 0 unchanged")
	rec := record(t, dir)
	b := rec.Binaries[0]
	if !b.Verified || b.Vuln == nil || b.Vuln.DB != db || !b.Vuln.DBModified.Equal(time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)) || len(b.Vuln.Findings) != 2 {
		t.Fatalf("recorded: verified %v, vuln %+v", b.Verified, b.Vuln)
	}
	if f := b.Vuln.Findings[0]; f.ID != "GO-2099-0101" || f.Fixed != "go1.99.0" || len(f.Symbols) != 1 || f.Symbols[0] != "net/http.Server.ListenAndServe" {
		t.Errorf("recorded finding: %+v", f)
	}

	// A no-op rebuild of the unchanged binary does not scan it again.
	out = mustRun(t, dir, env, "verify")
	contains(out, "0 scanned, 1 unchanged", reached)

	// enforce: fails naming the reached vulnerability, its module, versions, symbol, build and platform.
	enforce := append(append([]string(nil), env...), "SCRATCHKIT_VERIFY_VULNCHECK=enforce")
	out, err := run(t, dir, enforce, "verify")
	if err == nil {
		t.Fatalf("enforce passed:\n%s", out)
	}
	contains(out, "FAIL vuln:", "verify: hello ("+plat+"): "+reached, "build with go1.99.0 or later", "verify.vuln_ignore")
	if strings.Contains(out, "verify: hello ("+plat+"): GO-2099-0102") {
		t.Errorf("enforce failed on a vulnerability whose functions are not in the binary:\n%s", out)
	}
	if strings.Contains(out, "would break in a scratch") {
		t.Errorf("a vulnerability is reported as breaking the image:\n%s", out)
	}
	if record(t, dir).Binaries[0].Verified {
		t.Error("a binary that failed the vulnerability check is recorded as verified")
	}

	// An unexpired ignore entry (by alias) passes; an expired one fails, naming its line.
	const reason = "only reachable behind the proxy, which drops the header"
	cfg := func(until string) string {
		return "verify:\n  vulncheck: enforce\n  vuln_ignore:\n    - id: CVE-2099-0101\n      reason: " + reason + "\n      until: " + until + "\n"
	}
	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), cfg("2099-12-31"))
	out = mustRun(t, dir, env, "verify")
	contains(out, "in the binary (ListenAndServe trusts a header); ignored: "+reason, "1 of 1 binaries passed")
	if f := record(t, dir).Binaries[0].Vuln.Findings[0]; f.Ignored != reason {
		t.Errorf("recorded finding: %+v", f)
	}
	testenv.WriteFile(t, filepath.Join(dir, "scratchkit.yaml"), cfg("2000-01-31"))
	out, err = run(t, dir, env, "verify")
	if err == nil {
		t.Fatalf("an expired ignore entry passed:\n%s", out)
	}
	contains(out, "scratchkit.yaml:4: verify.vuln_ignore[0]: the entry for CVE-2099-0101 expired on 2000-01-31", "verify: hello ("+plat+"): "+reached)
	os.Remove(filepath.Join(dir, "scratchkit.yaml"))

	// An unreachable database: one line under report, naming the fixes; an error saying what to do
	// under enforce.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + l.Addr().String()
	l.Close()
	unreachable := []string{"SCRATCHKIT_VERIFY_VULNDB=" + gone}
	out = mustRun(t, dir, unreachable, "verify")
	contains(out, "vulnerability database "+gone+": ", "connection refused", "vulnerabilities not checked", "verify.vulndb: goproxy", "verify.vulncheck: off")
	if n := len(slices.DeleteFunc(strings.Split(out, "\n"), func(l string) bool { return !strings.Contains(l, gone) })); n != 1 {
		t.Errorf("the unreachable database is named on %d lines, want one:\n%s", n, out)
	}
	if b := record(t, dir).Binaries[0]; b.Vuln != nil || !strings.Contains(b.VulnError, "connection refused") || !b.Verified {
		t.Errorf("recorded after an unreachable database: %+v %q %v", b.Vuln, b.VulnError, b.Verified)
	}
	out, err = run(t, dir, append(unreachable, "SCRATCHKIT_VERIFY_VULNCHECK=enforce"), "verify")
	if err == nil {
		t.Fatalf("enforce passed with an unreachable database:\n%s", out)
	}
	contains(out, "verify: verify.vulncheck is enforce for hello ("+plat+"), but vulnerability database "+gone+": ",
		"point verify.vulndb or GOVULNDB at a reachable mirror or copy, e.g. file:///srv/vulndb")
}
