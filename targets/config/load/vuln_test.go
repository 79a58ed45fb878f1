package load

import (
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/vuln"
)

// The vulnerability check's keys: defaults, GOVULNDB as govulncheck's documentation describes
// it (one URL) under SCRATCHKIT_VERIFY_VULNDB, a build's overrides, and every bad value named
// with its file and line.
func TestVulnKeys(t *testing.T) {
	r := mustLoad(t, t.TempDir(), nil, nil)
	if v := r.VerifyOf(config.Build{}); v.VulnCheck != "report" || len(v.VulnIgnore) != 0 {
		t.Errorf("default vulncheck %q, ignores %v; want report, none", v.VulnCheck, v.VulnIgnore)
	}
	if r.VulnDB() != vuln.DefaultDB || r.Where("verify.vulndb") != "default" {
		t.Errorf("default database %q (%s)", r.VulnDB(), r.Where("verify.vulndb"))
	}

	r = mustLoad(t, t.TempDir(), nil, map[string]string{"GOVULNDB": "file:///srv/vulndb"})
	if r.VulnDB() != "file:///srv/vulndb" || r.Where("verify.vulndb") != "environment variable GOVULNDB" {
		t.Errorf("GOVULNDB: %q (%s)", r.VulnDB(), r.Where("verify.vulndb"))
	}
	r = mustLoad(t, t.TempDir(), nil, map[string]string{"GOVULNDB": "file:///srv/vulndb", "SCRATCHKIT_VERIFY_VULNDB": "https://mirror.example/vulndb"})
	if r.VulnDB() != "https://mirror.example/vulndb" {
		t.Errorf("SCRATCHKIT_VERIFY_VULNDB does not win over GOVULNDB: %q", r.VulnDB())
	}
	_, err := load(t, t.TempDir(), nil, map[string]string{"GOVULNDB": "https://vuln.go.dev,file:///srv/vulndb"})
	wantErr(t, err, "environment variable GOVULNDB: verify.vulndb:", "several databases", "keep one URL")

	dir := t.TempDir()
	write(t, dir, FileName, `
verify:
  vulncheck: off
  vuln_ignore:
    - {id: GO-2024-2687, reason: "the HTTP/2 server is not exposed", until: 2030-01-31}
builds:
  - name: api
    main: ./cmd/api
    verify:
      vulncheck: enforce
      vuln_ignore:
        - {id: CVE-2099-0001, reason: waiting for the fix, until: 2030-02-01}
  - name: tool
    main: ./cmd/tool
`)
	r = mustLoad(t, dir, nil, nil)
	api, tool := r.VerifyOf(r.Builds[0]), r.VerifyOf(r.Builds[1])
	if api.VulnCheck != "enforce" || len(api.VulnIgnore) != 2 || api.VulnIgnore[1].ID != "CVE-2099-0001" {
		t.Errorf("api: %q %+v; want enforce and both ignore entries", api.VulnCheck, api.VulnIgnore)
	}
	if tool.VulnCheck != "off" || len(tool.VulnIgnore) != 1 {
		t.Errorf("tool: %q %+v; want the top level's", tool.VulnCheck, tool.VulnIgnore)
	}
	if len(r.Verify.VulnIgnore) != 1 {
		t.Error("a build's entries leaked into the top level")
	}

	dir = t.TempDir()
	write(t, dir, FileName, `verify:
  vulndb: ftp://mirror.example/vulndb
  vuln_ignore:
    - id: GO-2024-2687
      until: 2030-01-31
    - id: "GO-1, GO-2"
      reason: both
      until: 31.01.2030
    - id: GO-2024-0001
      reason: no date
builds:
  - main: .
    verify:
      vulndb: file:///srv/other
      vuln_ignore:
        - {id: GO-2024-0002, reason: later, until: soon}
`)
	_, err = load(t, dir, nil, nil)
	wantErr(t, err,
		`scratchkit.yaml:2: verify.vulndb: "ftp://mirror.example/vulndb": not a database URL`,
		"scratchkit.yaml:4: verify.vuln_ignore[0].reason: missing: say why GO-2024-2687 is accepted",
		`scratchkit.yaml:6: verify.vuln_ignore[1].id: "GO-1, GO-2": write one vulnerability ID`,
		`scratchkit.yaml:8: verify.vuln_ignore[1].until: "31.01.2030" is not a date; write YYYY-MM-DD`,
		"scratchkit.yaml:9: verify.vuln_ignore[2].until: missing: write the last day the entry applies",
		"scratchkit.yaml:14: builds[0].verify.vulndb: the vulnerability database is read once per run for every build: set verify.vulndb at the top level",
		`scratchkit.yaml:16: builds[0].verify.vuln_ignore[0].until: "soon" is not a date`,
	)
	if n := strings.Count(err.Error(), "\n") + 1; n != 7 {
		t.Errorf("%d errors, want 7:\n%v", n, err)
	}

	for db, want := range map[string]string{
		"file:relative/db":    "not an absolute path",
		"file://host/srv/db":  `names host "host"`,
		"https:///vulndb":     "names no host",
		"vuln.go.dev":         "not a database URL",
		"file:///srv/vulndb/": "",
		"http://127.0.0.1:8/": "",
	} {
		_, err := load(t, t.TempDir(), &config.Config{Verify: config.Verify{VulnDB: db}}, nil)
		if want == "" {
			if err != nil {
				t.Errorf("%s refused: %v", db, err)
			}
			continue
		}
		wantErr(t, err, "targets.Configure: verify.vulndb: ", want)
	}
}
