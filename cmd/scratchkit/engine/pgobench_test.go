package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestPGOCheckOfALibrary runs pgoCheck on a module without a main package whose workload is a
// benchmark (pgo.workload.bench): the test binaries are built without and with the profile the
// benchmark itself yielded, and the report has the library's shape. Timings are not asserted.
func TestPGOCheckOfALibrary(t *testing.T) {
	if testing.Short() || runtime.GOOS != "linux" {
		t.Skip("builds test binaries with a profile (the standard library again) and profiles on Linux")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/lib\n\ngo 1.26\n",
		"sum/sum.go": `package sum

type Adder interface{ Add(a, b int) int }

type plain struct{}

func (plain) Add(a, b int) int { return a + b }

func Sum(s []byte) int {
	var a Adder = plain{}
	n := 0
	for _, c := range s {
		n = a.Add(n, int(c))
	}
	return n
}
`,
		"sum/sum_test.go": `package sum

import "testing"

var data = make([]byte, 1024)

func BenchmarkSum(b *testing.B) {
	for range b.N {
		Sum(data)
	}
}
`,
		"scratchkit.yaml": "pgo:\n  seconds: 1\n  check_rounds: 2\n  check_window: 50ms\n  workload:\n    bench: {package: ./sum, pattern: Sum}\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	e, err := New(Options{Dir: dir, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.PGOCheck(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"PGO check of ./sum", "go test -bench Sum ./sum", "ns/op (geometric mean)", "A/A control", "new profile vs none", "not recorded"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
	// pgo has nowhere to place the profile, and says so.
	e, err = New(Options{Dir: dir, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.PGO(context.Background()); err == nil || !strings.Contains(err.Error(), "no main package") {
		t.Fatalf("pgo in a library: %v", err)
	}
}
