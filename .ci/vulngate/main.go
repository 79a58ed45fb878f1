// Command vulngate reads `govulncheck -format json` on standard input and fails when scratchkit
// calls a known vulnerability of a module it requires. Vulnerabilities of the standard library
// are listed with the Go release that fixes them, and do not fail: they are fixed by the Go that
// builds, not by a go.mod change.
//
//	govulncheck -db file://… -format json ./... | go run ./.ci/vulngate
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
}

type message struct {
	Config *struct {
		DB         string `json:"db"`
		GoVersion  string `json:"go_version"`
		ScanLevel  string `json:"scan_level"`
		ScannerVer string `json:"scanner_version"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

type finding struct {
	id, module, found, fixed, summary string
	symbols                           []string
}

func main() {
	code, err := gate(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func gate(r io.Reader, w io.Writer) (int, error) {
	dec := json.NewDecoder(bufio.NewReader(r))
	summaries := map[string]string{}
	called := map[string]*finding{} // by ID and module
	var level string
	sawConfig := false
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return 0, fmt.Errorf("govulncheck output is not its JSON stream: %w", err)
		}
		switch {
		case m.Config != nil:
			sawConfig, level = true, m.Config.ScanLevel
			fmt.Fprintf(w, "govulncheck %s, database %s, %s, scan level %s\n", m.Config.ScannerVer, m.Config.DB, m.Config.GoVersion, m.Config.ScanLevel)
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0 && m.Finding.Trace[0].Function != "":
			top := m.Finding.Trace[0]
			key := m.Finding.OSV + " " + top.Module
			f := called[key]
			if f == nil {
				f = &finding{id: m.Finding.OSV, module: top.Module, found: top.Version, fixed: m.Finding.FixedVersion}
				called[key] = f
			}
			sym := top.Package + "." + top.Function
			if top.Receiver != "" {
				sym = top.Package + "." + strings.TrimPrefix(top.Receiver, "*") + "." + top.Function
			}
			if !slices.Contains(f.symbols, sym) {
				f.symbols = append(f.symbols, sym)
			}
		}
	}
	if !sawConfig {
		return 0, fmt.Errorf("no config message: did govulncheck run?")
	}
	if level != "symbol" {
		return 0, fmt.Errorf("scan level %q: the gate needs symbol-level results (no -scan flag)", level)
	}
	var modules, stdlib []*finding
	for _, f := range called {
		f.summary = summaries[f.id]
		if f.module == "stdlib" || f.module == "toolchain" {
			stdlib = append(stdlib, f)
		} else {
			modules = append(modules, f)
		}
	}
	order := func(a, b *finding) int { return strings.Compare(a.module+a.id, b.module+b.id) }
	slices.SortFunc(modules, order)
	slices.SortFunc(stdlib, order)
	print := func(f *finding) {
		fixed := f.fixed
		if fixed == "" {
			fixed = "no fix yet"
		} else if f.module == "stdlib" {
			fixed = "fixed in go" + strings.TrimPrefix(fixed, "v")
		} else {
			fixed = "fixed in " + fixed
		}
		slices.Sort(f.symbols)
		syms := strings.Join(f.symbols, ", ")
		if len(f.symbols) > 3 {
			syms = fmt.Sprintf("%s and %d more", strings.Join(f.symbols[:3], ", "), len(f.symbols)-3)
		}
		fmt.Fprintf(w, "  %s %s@%s, %s: %s (%s)\n", f.id, f.module, f.found, fixed, syms, f.summary)
	}
	if len(stdlib) > 0 {
		newest := ""
		for _, f := range stdlib {
			if f.fixed != "" && (newest == "" || semverLess(newest, f.fixed)) {
				newest = f.fixed
			}
		}
		fmt.Fprintf(w, "%d vulnerabilities of the standard library are called (a Go release fixes them; all by go%s):\n", len(stdlib), strings.TrimPrefix(newest, "v"))
		for _, f := range stdlib {
			print(f)
		}
	}
	if len(modules) > 0 {
		fmt.Fprintf(w, "FAIL: scratchkit calls %d known vulnerabilities of modules it requires; bump each to its fixed version:\n", len(modules))
		for _, f := range modules {
			print(f)
		}
		return 1, nil
	}
	fmt.Fprintln(w, "no called vulnerability in a required module")
	return 0, nil
}

// semverLess compares vMAJOR.MINOR.PATCH versions numerically.
func semverLess(a, b string) bool {
	pa, pb := strings.Split(strings.TrimPrefix(a, "v"), "."), strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		var x, y int
		fmt.Sscan(pa[i], &x)
		fmt.Sscan(pb[i], &y)
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}
