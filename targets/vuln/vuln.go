package vuln

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultDB is the Go vulnerability database, what govulncheck reads by default.
const DefaultDB = "https://vuln.go.dev"

// Check is the name of the vulnerability check in Verify's table and report.
const Check = "vuln"

// Mode is how a vulnerability check counts in Verify.
type Mode string

// Modes.
const (
	// Off skips the check.
	Off Mode = "off"
	// Report lists every finding, and a database that cannot be read, as warnings.
	Report Mode = "report"
	// Enforce fails a binary with a reached vulnerability (one whose vulnerable function is in
	// the binary) that no unexpired ignore entry covers, and fails when the database cannot be
	// read. Findings whose functions are not in the binary are reported, never enforced.
	Enforce Mode = "enforce"
)

// Modes returns every mode, the default (Report) first.
func Modes() []string { return []string{string(Report), string(Off), string(Enforce)} }

// Result is the vulnerability check of one binary.
type Result struct {
	// DB is the database URL and DBModified its modified time (index/db.json): the version of
	// the data the binary was checked against.
	DB         string    `json:"db"`
	DBModified time.Time `json:"db_modified"`
	// Scanner and ScannerVersion name what scanned: golang.org/x/vuln and its version.
	Scanner        string `json:"scanner"`
	ScannerVersion string `json:"scanner_version"`
	// Started and Finished bound the scan (of the first scan, for a result from the cache).
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Findings are sorted by ID, then module.
	Findings []Finding `json:"findings,omitempty"`
}

// DBVersion is the version of the database the result is of: its modified time (RFC 3339), or
// "" for a database that states none.
func (r *Result) DBVersion() string { return Version(r.DBModified) }

// Version is a database's modified time as its version (RFC 3339), "" when it states none.
func Version(modified time.Time) string {
	if modified.IsZero() {
		return ""
	}
	return modified.UTC().Format(time.RFC3339)
}

// Describe names a database and its version for people: "URL (modified TIME)", or "URL (no
// modified time stated)".
func Describe(url string, modified time.Time) string {
	if v := Version(modified); v != "" {
		return url + " (modified " + v + ")"
	}
	return url + " (no modified time stated)"
}

// Finding is one vulnerability of the database that affects a module of the binary at the
// version the binary has.
type Finding struct {
	ID      string   `json:"id"`                // e.g. GO-2024-2687
	Aliases []string `json:"aliases,omitempty"` // e.g. CVE-2023-45288
	Summary string   `json:"summary,omitempty"`
	// Module is the affected module ("stdlib" for the standard library), Found its version in
	// the binary, Fixed the version that fixes it ("" when none does yet).
	Module string `json:"module"`
	Found  string `json:"found"`
	Fixed  string `json:"fixed,omitempty"`
	// Packages are the vulnerable packages the binary contains.
	Packages []string `json:"packages,omitempty"`
	// Symbols are the vulnerable functions in the binary, as package.Function or
	// package.Type.Method. None means the module (or package) is there but its vulnerable
	// functions are not.
	Symbols []string `json:"symbols,omitempty"`
	// Ignored is the reason of the verify.vuln_ignore entry that covers it (Apply).
	Ignored string `json:"ignored,omitempty"`
}

// Reached reports whether one of the vulnerability's functions is in the binary.
func (f Finding) Reached() bool { return len(f.Symbols) > 0 }

// Names are the ID and its aliases.
func (f Finding) Names() []string { return append([]string{f.ID}, f.Aliases...) }

// String describes the finding on one line: ID and aliases, module, found and fixed versions,
// the functions in the binary, and the summary.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.ID)
	if len(f.Aliases) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(f.Aliases, ", "))
	}
	fmt.Fprintf(&b, " in %s %s", f.Module, f.Found)
	if f.Fixed != "" {
		fmt.Fprintf(&b, ", fixed in %s", f.Fixed)
	} else {
		b.WriteString(", not fixed yet")
	}
	switch {
	case f.Reached():
		fmt.Fprintf(&b, ": %s in the binary", strings.Join(f.Symbols, ", "))
	case len(f.Packages) > 0:
		fmt.Fprintf(&b, ": %s linked, its vulnerable functions not", strings.Join(f.Packages, ", "))
	default:
		b.WriteString(": module present, its vulnerable packages not")
	}
	if f.Summary != "" {
		fmt.Fprintf(&b, " (%s)", f.Summary)
	}
	return b.String()
}

// Ignore is one entry of verify.vuln_ignore: a vulnerability accepted for a reason until a date.
type Ignore struct {
	// ID is a vulnerability ID (GO-…) or one of its aliases (CVE-…, GHSA-…).
	ID     string
	Reason string
	// Until is the last day the entry applies (midnight UTC of that day).
	Until time.Time
}

// Expired reports whether now is past the last day of the entry.
func (i Ignore) Expired(now time.Time) bool { return !now.Before(i.Until.AddDate(0, 0, 1)) }

// Apply marks each finding of r that an entry of ignore names (by ID or alias) and that has not
// expired at now with the entry's reason.
func Apply(r *Result, ignore []Ignore, now time.Time) {
	for i := range r.Findings {
		f := &r.Findings[i]
		f.Ignored = ""
		for _, ig := range ignore {
			if !ig.Expired(now) && slices.ContainsFunc(f.Names(), func(n string) bool { return strings.EqualFold(n, ig.ID) }) {
				f.Ignored = ig.Reason
				break
			}
		}
	}
}

// Failing returns the findings mode fails on: under Enforce, the reached ones no entry ignores.
func Failing(r *Result, mode Mode) []Finding {
	if mode != Enforce || r == nil {
		return nil
	}
	var out []Finding
	for _, f := range r.Findings {
		if f.Reached() && f.Ignored == "" {
			out = append(out, f)
		}
	}
	return out
}
