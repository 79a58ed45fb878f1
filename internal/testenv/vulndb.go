package testenv

import (
	"cmp"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Vuln is one entry of a local Go vulnerability database.
type Vuln struct {
	ID      string // e.g. GO-2099-0001
	Aliases []string
	Summary string
	// Module is the module path; "stdlib" for the standard library.
	Module string
	// Package is the import path of the vulnerable package.
	Package string
	// Symbols are the vulnerable functions, e.g. "Hello" or "Server.Serve"; none means every
	// function of the package.
	Symbols []string
	// Introduced and Fixed are semantic versions without the v ("1.0.1"; for the standard
	// library "1.26.9"). Introduced defaults to "0"; an empty Fixed means no fix yet.
	Introduced, Fixed string
}

// WriteVulnDB writes a vulnerability database holding vulns in the layout vuln.go.dev serves
// and govulncheck reads (index/db.json, index/modules.json, ID/<id>.json) into dir, modified at
// modified, and returns its file:// URL.
func WriteVulnDB(t testing.TB, dir string, modified time.Time, vulns ...Vuln) string {
	t.Helper()
	u, err := WriteVulnDBFiles(dir, modified, vulns...)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// WriteVulnDBFiles is WriteVulnDB for callers without a testing.TB (a TestMain).
func WriteVulnDBFiles(dir string, modified time.Time, vulns ...Vuln) (string, error) {
	modified = modified.UTC().Truncate(time.Second)
	type moduleVuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Fixed    string    `json:"fixed,omitempty"`
	}
	type module struct {
		Path  string       `json:"path"`
		Vulns []moduleVuln `json:"vulns"`
	}
	byModule := map[string]*module{}
	for _, v := range vulns {
		intro := v.Introduced
		if intro == "" {
			intro = "0"
		}
		events := []map[string]string{{"introduced": intro}}
		if v.Fixed != "" {
			events = append(events, map[string]string{"fixed": v.Fixed})
		}
		imp := map[string]any{"path": v.Package}
		if len(v.Symbols) > 0 {
			imp["symbols"] = v.Symbols
		}
		entry := map[string]any{
			"schema_version": "1.3.1",
			"id":             v.ID,
			"modified":       modified,
			"published":      modified,
			"aliases":        v.Aliases,
			"summary":        v.Summary,
			"details":        v.Summary,
			"affected": []map[string]any{{
				"package":            map[string]string{"name": v.Module, "ecosystem": "Go"},
				"ranges":             []map[string]any{{"type": "SEMVER", "events": events}},
				"ecosystem_specific": map[string]any{"imports": []any{imp}},
			}},
		}
		if err := writeJSON(filepath.Join(dir, "ID", v.ID+".json"), entry); err != nil {
			return "", err
		}
		m := byModule[v.Module]
		if m == nil {
			m = &module{Path: v.Module}
			byModule[v.Module] = m
		}
		m.Vulns = append(m.Vulns, moduleVuln{ID: v.ID, Modified: modified, Fixed: v.Fixed})
	}
	modules := []*module{}
	for _, m := range byModule {
		modules = append(modules, m)
	}
	slices.SortFunc(modules, func(a, b *module) int { return cmp.Compare(a.Path, b.Path) })
	if err := writeJSON(filepath.Join(dir, "index", "modules.json"), modules); err != nil {
		return "", err
	}
	if err := writeJSON(filepath.Join(dir, "index", "db.json"), map[string]time.Time{"modified": modified}); err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String(), nil
}

func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
