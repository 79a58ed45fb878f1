package binary

import (
	"context"
	"strings"
	"testing"
)

func TestWriteTable(t *testing.T) {
	good := verifyAs(t, "static", "hello", Expect{Platform: hostPlatform, MaxSize: 1 << 30})
	info, err := Inspect(context.Background(), fixture(t, "unstripped"))
	if err != nil {
		t.Fatal(err)
	}
	prev := info.Sizes()
	prev.Total -= 2048
	bad := Check(info, Expect{Name: "debug", Platform: hostPlatform, MaxSize: info.Size - 1, Prev: &prev})
	broken := Verify(context.Background(), t.TempDir(), Expect{Name: "gone", Platform: hostPlatform})
	reports := []Report{good, bad, broken}

	var plain strings.Builder
	if err := WriteTable(&plain, reports, false); err != nil {
		t.Fatal(err)
	}
	out := plain.String()
	lines := strings.Split(out, "\n")
	header := strings.Fields(lines[0])
	want := append([]string{"BINARY", "PLATFORM", "SIZE"}, CheckNames()...)
	if strings.Join(header, " ") != strings.Join(want, " ") {
		t.Errorf("header %q, want %q", header, want)
	}
	row := func(name string) string {
		for _, l := range lines[1:4] {
			if strings.HasPrefix(l, name+" ") {
				return l
			}
		}
		t.Fatalf("no row for %s in\n%s", name, out)
		return ""
	}
	if r := row("hello"); strings.Contains(r, "FAIL") || !strings.Contains(r, "static") {
		t.Errorf("hello row: %q", r)
	}
	if r := row("debug"); strings.Count(r, "FAIL") != 2 || !strings.Contains(r, "(+2.0 KiB)") {
		t.Errorf("debug row, want stripped and size failed and the change in size: %q", r)
	}
	if r := row("gone"); !strings.Contains(r, "INSPECT FAILED") {
		t.Errorf("gone row: %q", r)
	}
	for _, s := range []string{
		"debug (" + hostPlatform.String() + ") FAILED",
		"FAIL stripped: not stripped",
		"FAIL size:",
		"gone (" + hostPlatform.String() + ") FAILED",
		"FAIL inspect:", "is a directory",
		"Go build settings",
		"pgo: off, tags: none",
		"Size breakdown debug",
		"since the previous run",
		"ELF sections", ".debug_info", ".gopclntab",
		"Go packages by code size", "runtime",
		"2 of 3 binaries failed verification",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour codes without colour")
	}
	// Every failure is listed, not just the first.
	for _, res := range bad.Results {
		if res.Status == StatusFail && !strings.Contains(out, "FAIL "+res.Check+":") {
			t.Errorf("failure of %s not listed", res.Check)
		}
	}

	var coloured strings.Builder
	if err := WriteTable(&coloured, []Report{good}, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(coloured.String(), "\x1b[") || !strings.Contains(coloured.String(), "1 of 1 binaries passed") {
		t.Errorf("coloured output:\n%q", coloured.String())
	}
}

// TestWriteTableCallerChecks: a check the caller ran gets its own column, and a Detail of
// several lines prints them as paragraphs.
func TestWriteTableCallerChecks(t *testing.T) {
	good := verifyAs(t, "static", "hello", Expect{Platform: hostPlatform})
	other := good
	other.Name = "other"
	other.Results = append(append([]Result(nil), good.Results...), Result{Check: "vuln", Status: StatusFail,
		Detail: "2 vulnerabilities:\nGO-2099-0001 in example.com/m v1.0.0\nGO-2099-0002 in example.com/m v1.0.0"})
	good.Results = append(good.Results, Result{Check: "vuln", Status: StatusPass})
	var b strings.Builder
	if err := WriteTable(&b, []Report{good, other}, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(out, "\n")
	if h := strings.Fields(lines[0]); h[len(h)-1] != "vuln" {
		t.Errorf("header %q does not end with the vuln column", h)
	}
	if f := strings.Fields(lines[1]); f[len(f)-1] != "ok" {
		t.Errorf("hello row %q: want ok under vuln", lines[1])
	}
	if f := strings.Fields(lines[2]); f[len(f)-1] != "FAIL" {
		t.Errorf("other row %q: want FAIL under vuln", lines[2])
	}
	for _, want := range []string{"  FAIL vuln: 2 vulnerabilities:\n", "\n      GO-2099-0001 in example.com/m v1.0.0\n", "\n      GO-2099-0002 in"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
