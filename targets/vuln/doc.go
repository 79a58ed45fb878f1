// Package vuln checks Go binaries for known vulnerabilities: the engine behind the vulnerability
// check of scratchkit's Verify target, usable on any Go binary. Binaries in, findings out.
//
// The scanning is the Go team's govulncheck (golang.org/x/vuln/scan) in binary mode: it reads a
// binary's build info and function names and reports the vulnerabilities of the Go
// vulnerability database whose vulnerable functions are in the binary, apart from those whose
// module is present at an affected version but whose functions the linker left out. Release
// builds are stripped (-s -w), and govulncheck reads function names from the symbol table that
// stripping removes; this package reads them from the function table (pclntab) instead, which
// stripped binaries keep and which lists inlined functions too (binary.FuncNames), and hands
// govulncheck the same description of the binary its own extract mode writes.
//
// A database is opened once (Open reads its index/db.json) and serves any number of scans:
// Scan fetches the index of modules and the entries of the modules the binaries contain once,
// writes them into a private copy in the database layout, and runs the scans in parallel
// against it. Everything read from a database is bounded in size and checked before use. With
// Options.CacheDir, a binary already scanned against the same database (same URL, same modified
// time) is not scanned again.
//
// Findings carry the policy's vocabulary: a Finding is Reached when one of its vulnerable
// functions is in the binary, which is what Enforce fails on; Apply marks the findings a
// verify.vuln_ignore entry covers.
package vuln
