package pgo

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// TestStalenessKinds builds a profile by hand against a small module and checks each status and
// the weighted shares.
func TestStalenessKinds(t *testing.T) {
	root := t.TempDir()
	testenv.WriteFiles(t, root, map[string]string{
		"go.mod": "module example.com/m // comment\n\ngo 1.26\n",
		"main.go": `package main

func main() { a() }

func a() {
	_ = 1
	_ = 2
	_ = 3
}

func d() {
}
`,
		"other.go": "package main\n\nfunc c() {}\n",
		"pkg/lib/lib.go": `package lib

type Val int

func (v Val) Get() int { return int(v) }

type List[T any] struct{ items []T }

func (l *List[T]) Push(v T) {
	l.items = append(l.items, v)
}
`,
		"pkg/lib/lib_test.go":  "package lib\n\nfunc b() {}\n",  // test files do not count
		"testdata/x/x.go":      "package main\n\nfunc b() {}\n", // nor testdata
		"nested/go.mod":        "module example.com/nested\n",   // nor nested modules
		"nested/main.go":       "package main\n\nfunc b() {}\n",
		"pkg/lib/zz_broken.go": "package lib\n\nfunc broken( {\n", // an unparsable file is skipped
	})
	const f = "example.com/m/main.go"
	p := synth([][]string{
		{"main.a@" + f + ":5:7"}, // current
		{"runtime.memmove@runtime/memmove.s:1:2", "main.a@" + f + ":5:8"}, // current, attributed through runtime
		{"main.a.func1@" + f + ":6:6", "main.a@" + f + ":5:6"},            // a closure: its enclosing function
		{"main.b@" + f + ":20:21"},                                        // missing
		{"main.c@" + f + ":30:30"},                                        // moved to other.go
		{"main.d@" + f + ":11:15"},                                        // changed: line 15 is past d's end
		{"example.com/m/pkg/lib.Val.Get@example.com/m/pkg/lib/lib.go:5:5"},
		{"example.com/m/pkg/lib.(*List[...]).Push@example.com/m/pkg/lib/lib.go:9:10"},
		{"net/http.(*conn).serve@net/http/server.go:1:5"}, // not the module's code
	}, []int64{10e6, 20e6, 30e6, 40e6, 50e6, 60e6, 70e6, 80e6, 1000e6}, synthOpts{})

	r, err := Staleness(p, root)
	if err != nil {
		t.Fatal(err)
	}
	const module = 10 + 20 + 30 + 40 + 50 + 60 + 70 + 80
	if r.Module != "example.com/m" || r.ModuleWeight != module*1e6 || r.Total != (module+1000)*1e6 {
		t.Fatalf("module %q weight %d of %d", r.Module, r.ModuleWeight, r.Total)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	if !near(r.Current, (10+20+30+70+80)/float64(module)) || !near(r.Missing, 40/float64(module)) ||
		!near(r.Moved, 50/float64(module)) || !near(r.Changed, 60/float64(module)) {
		t.Errorf("shares: current %.3f missing %.3f moved %.3f changed %.3f", r.Current, r.Missing, r.Moved, r.Changed)
	}
	status := map[string]StaleFunc{}
	for _, fn := range r.Functions {
		status[fn.Name] = fn
	}
	for name, want := range map[string]string{
		"main.a": StatusCurrent, "main.a.func1": StatusCurrent, "main.b": StatusMissing, "main.c": StatusMoved, "main.d": StatusChanged,
		"example.com/m/pkg/lib.Val.Get": StatusCurrent, "example.com/m/pkg/lib.(*List[...]).Push": StatusCurrent,
	} {
		if status[name].Status != want {
			t.Errorf("%s: %+v, want %s", name, status[name], want)
		}
	}
	if status["main.c"].CurrentFile != "other.go" {
		t.Errorf("moved main.c: current file %q", status["main.c"].CurrentFile)
	}
	var buf bytes.Buffer
	WriteReport(&buf, Report{Stale: &r})
	for _, want := range []string{"missing", "main.b", "moved", "main.go → other.go", "changed"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestStalenessRename profiles the real example, then renames its hot function in a copy.
func TestStalenessRename(t *testing.T) {
	p := realProfile(t)
	mod := copyExample(t)
	r, err := Staleness(p, mod)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stale() != 0 || r.ModuleWeight == 0 {
		t.Fatalf("unchanged source: %.3f stale of %d", r.Stale(), r.ModuleWeight)
	}
	var digest float64
	for _, fn := range r.Functions {
		if fn.Name == "main.digest" {
			digest = fn.Share
		}
	}
	if digest == 0 {
		t.Fatalf("main.digest has no weight in the profile: %+v", r.Functions)
	}

	src := filepath.Join(mod, "main.go")
	data, _ := os.ReadFile(src)
	renamed := strings.ReplaceAll(string(data), "digest(", "hashRounds(")
	if renamed == string(data) {
		t.Fatal("main.go has no digest function to rename")
	}
	if err := os.WriteFile(src, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = Staleness(p, mod)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Missing-digest) > 1e-9 || r.Moved != 0 || r.Changed != 0 {
		t.Errorf("after renaming digest: missing %.3f (want %.3f), moved %.3f, changed %.3f", r.Missing, digest, r.Moved, r.Changed)
	}
	var buf bytes.Buffer
	rep := Summarize(p, nil, 5)
	rep.Stale = &r
	WriteReport(&buf, rep)
	if !strings.Contains(buf.String(), "main.digest") || !strings.Contains(buf.String(), "missing") {
		t.Errorf("report:\n%s", buf.String())
	}
	t.Logf("report:\n%s", buf.String())
}
