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
		"debug (" + hostPlatform + ") FAILED",
		"FAIL stripped: not stripped",
		"FAIL size:",
		"gone (" + hostPlatform + ") FAILED",
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
