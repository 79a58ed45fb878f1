package resolve

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

const app = "registry.example/team/app@sha256:1111111111111111111111111111111111111111111111111111111111111111"
const tool = "ko.local/tool:2222222222222222222222222222222222222222222222222222222222222222"

var refs = map[string]string{"example.com/app": app, "github.com/acme/tools/cmd/tool": tool}

// A multi-document manifest keeps its comments, key order, flow and block styles, quoting and
// anchors; only the ko:// scalars change, each at its line.
func TestResolveKeepsTheRest(t *testing.T) {
	deploy := `# The application.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app # inline
spec:
  template:
    spec:
      containers:
        - name: app
          image: ko://example.com/app
          args: ["-addr", ':8080', plain]
          env: {A: "1", B: 2}
        - name: sidecar
          image: "ko://github.com/acme/tools/cmd/tool"
          command:
            - |
              echo ko://example.com/app is not a reference here
      initContainers:
        - image: &tool 'ko://github.com/acme/tools/cmd/tool'
        - image: *tool
---
# The job.
apiVersion: batch/v1
kind: Job
metadata:
  annotations:
    note: see ko://example.com/app
    tagged: !custom ko://example.com/app
spec:
  template:
    spec:
      containers:
        - {name: job, image: ko://example.com/app}
`
	s, err := Parse([]File{{Name: "deploy/app.yaml", Data: []byte(deploy)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Documents() != 2 {
		t.Errorf("%d documents", s.Documents())
	}
	out, subs, err := s.Resolve(refs)
	if err != nil {
		t.Fatal(err)
	}
	want := `# The application.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app # inline
spec:
  template:
    spec:
      containers:
        - name: app
          image: ` + app + `
          args: ["-addr", ':8080', plain]
          env: {A: "1", B: 2}
        - name: sidecar
          image: "` + tool + `"
          command:
            - |
              echo ko://example.com/app is not a reference here
      initContainers:
        - image: &tool '` + tool + `'
        - image: *tool
---
# The job.
apiVersion: batch/v1
kind: Job
metadata:
  annotations:
    note: see ko://example.com/app
    tagged: !custom ko://example.com/app
spec:
  template:
    spec:
      containers:
        - {name: job, image: '` + app + `'}
`
	// yaml.v3 writes a plain scalar holding ':' inside a flow collection quoted: the same value.
	if string(out) != want {
		t.Errorf("resolved:\n%s\nwant:\n%s", out, want)
	}
	var got []string
	for _, s := range subs {
		got = append(got, fmt.Sprintf("%s %s %s", s.Where(), s, s.Ref))
	}
	wantSubs := []string{
		"deploy/app.yaml:11 ko://example.com/app " + app,
		"deploy/app.yaml:15 ko://github.com/acme/tools/cmd/tool " + tool,
		"deploy/app.yaml:20 ko://github.com/acme/tools/cmd/tool " + tool,
		"deploy/app.yaml:34 ko://example.com/app " + app,
	}
	if strings.Join(got, "\n") != strings.Join(wantSubs, "\n") {
		t.Errorf("substitutions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantSubs, "\n"))
	}
	if ips := s.ImportPaths(); strings.Join(ips, " ") != "example.com/app github.com/acme/tools/cmd/tool" {
		t.Errorf("import paths %v", ips)
	}

	// The stream is left as it was: resolving again gives the same bytes, and other refs others.
	again, _, err := s.Resolve(refs)
	if err != nil || string(again) != string(out) {
		t.Errorf("second Resolve differs: %v\n%s", err, again)
	}
	other, _, err := s.Resolve(map[string]string{"example.com/app": "r/app@sha256:0", "github.com/acme/tools/cmd/tool": "r/tool@sha256:0"})
	if err != nil || strings.Contains(string(other), app) || !strings.Contains(string(other), "image: r/app@sha256:0") {
		t.Errorf("Resolve with other references: %v\n%s", err, other)
	}
}

// Files become one stream, in the order given, with lines counted per file.
func TestSeveralFiles(t *testing.T) {
	s, err := Parse([]File{
		{Name: "a.yaml", Data: []byte("a: 1\n---\nimage: ko://example.com/app\n")},
		{Name: "empty.yaml", Data: []byte("# nothing but a comment\n")},
		{Name: "b.yml", Data: []byte("\n\nb: ko://github.com/acme/tools/cmd/tool\n")},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, subs, err := s.Resolve(refs)
	if err != nil {
		t.Fatal(err)
	}
	want := "a: 1\n---\nimage: " + app + "\n---\nb: " + tool + "\n"
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	if len(subs) != 2 || subs[0].Where() != "a.yaml:3" || subs[1].Where() != "b.yml:3" {
		t.Errorf("substitutions %+v", subs)
	}
}

// Every reference without a reference to put in its place is an error at its line, and nothing
// is returned.
func TestUnresolved(t *testing.T) {
	s, err := Parse([]File{{Name: "x.yaml", Data: []byte("a: ko://example.com/app\nb: ko://example.com/nope\n---\nc: ko://example.com/nope\n")}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, subs, err := s.Resolve(refs)
	if !errors.Is(err, ErrUnresolved) || out != nil || subs != nil {
		t.Fatalf("got %v, %q, %v", err, out, subs)
	}
	for _, want := range []string{"x.yaml:2: no reference for the import path: ko://example.com/nope", "x.yaml:4: "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "x.yaml:1") {
		t.Errorf("a resolved reference is reported: %v", err)
	}
}

// ko:// followed by something that is not an import path is an error at its line.
func TestNotAnImportPath(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"ko://./cmd/app", "full import path"},
		{"ko://", "full import path"},
		{`"ko://example.com/app "`, "invalid char"},
		{"ko://example.com/a b", "invalid char"},
		{"ko:///abs", ""},
	} {
		_, err := Parse([]File{{Name: "x.yaml", Data: []byte("a: 1\nimage: " + tc.value + "\n")}}, Options{})
		if !errors.Is(err, ErrImportPath) || !strings.HasPrefix(err.Error(), "x.yaml:2: not an import path") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.value, err)
		}
	}
}

func TestSyntaxErrorsHaveLines(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{"a: 1\n---\nb: [\n", "x.yaml:3: invalid YAML: "},
		{"a: b: c\n", "x.yaml:1: invalid YAML: mapping values are not allowed"},
		{"a: 1\nb: 2\nc: \x01\n", "x.yaml:3: invalid YAML: control characters"},
		{"a: 1\nb: \xff\n", "x.yaml:2: invalid YAML: "},
	} {
		_, err := Parse([]File{{Name: "x.yaml", Data: []byte(tc.data)}}, Options{})
		if !errors.Is(err, ErrSyntax) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.data, err, tc.want)
		}
	}
}

// aliasBomb is n values aliased n times, level after level: n^levels values from a few lines.
func aliasBomb(n, levels int) string {
	var b strings.Builder
	b.WriteString("l0: &l0 [")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("x")
	}
	b.WriteString("]\n")
	for l := 1; l <= levels; l++ {
		fmt.Fprintf(&b, "l%d: &l%d [", l, l)
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", l-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// An alias bomb (a billion values from under a kilobyte) is refused at once, at the line of the
// alias that passes the bound, without expanding it.
func TestAliasBomb(t *testing.T) {
	bomb := aliasBomb(10, 9)
	if len(bomb) > 1<<10 {
		t.Fatalf("the bomb is %d bytes", len(bomb))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Parse([]File{{Name: "bomb.yaml", Data: []byte(bomb)}}, Options{})
	runtime.ReadMemStats(&after)
	// l4 is the first list whose aliases reach 10*1111 + ... > 100000 values: 10*11111 = 111110.
	if !errors.Is(err, ErrAliasBomb) || !strings.HasPrefix(err.Error(), "bomb.yaml:5: aliases expand too far: the alias *l3") || !strings.Contains(err.Error(), "more than 100000 values") {
		t.Errorf("got %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("refusing a 1KB alias bomb allocated %dMiB", grew>>20)
	}

	// The same aliases within the bound are fine, and come out as aliases.
	small := aliasBomb(3, 2)
	s, err := Parse([]File{{Name: "ok.yaml", Data: []byte(small)}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := s.Resolve(nil)
	if err != nil || string(out) != small {
		t.Errorf("got %v:\n%s\nwant:\n%s", err, out, small)
	}
	if _, err := Parse([]File{{Name: "ok.yaml", Data: []byte(small)}}, Options{MaxAliasNodes: 10}); !errors.Is(err, ErrAliasBomb) {
		t.Errorf("with a bound of 10: %v", err)
	}
}

// An alias inside the value it names would never end when expanded.
func TestAliasCycle(t *testing.T) {
	_, err := Parse([]File{{Name: "c.yaml", Data: []byte("a: 1\nb: &x [1, *x]\n")}}, Options{})
	if !errors.Is(err, ErrAliasBomb) || !strings.HasPrefix(err.Error(), "c.yaml:2: ") || !strings.Contains(err.Error(), "inside the value it names") {
		t.Errorf("got %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	big := "a: " + strings.Repeat("x", 100) + "\n"
	_, err := Parse([]File{{Name: "big.yaml", Data: []byte(big)}}, Options{MaxFileSize: 64})
	if !errors.Is(err, ErrTooLarge) || !strings.HasPrefix(err.Error(), "big.yaml: file too large: 104 bytes, over the limit of 64") {
		t.Errorf("Parse: %v", err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "deploy", "big.yaml")
	testenv.WriteFile(t, p, big)
	_, err = Read(dir, []string{p}, Options{MaxFileSize: 64})
	if !errors.Is(err, ErrTooLarge) || !strings.HasPrefix(err.Error(), "deploy/big.yaml: file too large: 104 bytes") {
		t.Errorf("Read: %v", err)
	}
	files, err := Read(dir, []string{p}, Options{MaxFileSize: 104})
	if err != nil || len(files) != 1 || files[0].Name != "deploy/big.yaml" || string(files[0].Data) != big {
		t.Errorf("Read at the bound: %v %+v", err, files)
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{
		"config/b.yaml", "config/a.yml", "config/sub/c.YAML", "config/notes.txt", "config/.hidden/x.yaml",
		"config/dist/resolved.yaml", "other/z.yaml", "other/y.yaml", "single.json",
	} {
		testenv.WriteFile(t, filepath.Join(dir, f), "a: 1\n")
	}
	out := filepath.Join(dir, "config", "dist", "resolved.yaml")
	skip := func(p string) bool { return p == out }
	rel := func(ps []string) string {
		var r []string
		for _, p := range ps {
			x, _ := filepath.Rel(dir, p)
			r = append(r, filepath.ToSlash(x))
		}
		return strings.Join(r, " ")
	}
	for _, tc := range []struct{ entry, want, err string }{
		{entry: "config", want: "config/a.yml config/b.yaml config/sub/c.YAML"},
		{entry: "config/", want: "config/a.yml config/b.yaml config/sub/c.YAML"},
		{entry: "other/*.yaml", want: "other/y.yaml other/z.yaml"},
		{entry: "*", want: "config/a.yml config/b.yaml config/sub/c.YAML other/y.yaml other/z.yaml single.json"},
		{entry: "single.json", want: "single.json"},
		{entry: filepath.Join(dir, "other", "z.yaml"), want: "other/z.yaml"},
		{entry: "missing.yaml", err: "missing.yaml does not exist"},
		{entry: "nothing/*.yaml", err: "nothing/*.yaml matches no file"},
		{entry: "config/sub/[", err: "not a valid pattern"},
		{entry: "config/.hidden/..", want: "config/a.yml config/b.yaml config/sub/c.YAML"},
		{entry: "config/dist", err: "the directory config/dist holds no *.yaml or *.yml file"},
		{entry: "config/dist/resolved.yaml", err: "is where the resolved stream is written"},
	} {
		got, err := Expand(dir, tc.entry, skip)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want %q", tc.entry, err, tc.err)
		case tc.err == "" && (err != nil || rel(got) != tc.want):
			t.Errorf("%s: %q, %v; want %q", tc.entry, rel(got), err, tc.want)
		}
	}
}

// FuzzParse: whatever the bytes, Parse and Resolve return (no panic, no endless expansion), and
// a resolved stream parses again with the same references gone.
func FuzzParse(f *testing.F) {
	f.Add([]byte("a: ko://example.com/app\n---\nb: [ko://example.com/app, 'x']\n"))
	f.Add([]byte(aliasBomb(4, 3)))
	f.Add([]byte("a: &x [1, *x]\n"))
	f.Add([]byte("k: !!str ko://example.com/app\n<<: {a: 1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse([]File{{Name: "f.yaml", Data: data}}, Options{MaxAliasNodes: 1000})
		if err != nil {
			return
		}
		all := map[string]string{}
		for _, p := range s.ImportPaths() {
			all[p] = "r.example/x@sha256:0"
		}
		out, _, err := s.Resolve(all)
		if err != nil {
			return // the encoder refuses what it cannot write
		}
		again, err := Parse([]File{{Name: "out.yaml", Data: out}}, Options{MaxAliasNodes: 1000})
		if err != nil {
			t.Fatalf("the resolved stream does not parse: %v\n%q", err, out)
		}
		if n := len(again.References()); n != 0 {
			t.Fatalf("%d references left in\n%q", n, out)
		}
	})
}

// A symbolic link that a walk or a glob finds is read only when it resolves inside the project:
// one to a file elsewhere (a credentials file) is an error naming it, never copied into the
// resolved stream; a file named exactly is read wherever it is.
func TestExpandLinks(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	testenv.WriteFile(t, filepath.Join(dir, "config", "a.yaml"), "a: 1\n")
	testenv.WriteFile(t, filepath.Join(dir, "shared", "s.yaml"), "s: 1\n")
	secret := filepath.Join(elsewhere, "kubeconfig.yaml")
	testenv.WriteFile(t, secret, "token: hunter2\n")
	if err := os.Symlink(filepath.Join(dir, "shared", "s.yaml"), filepath.Join(dir, "config", "s.yaml")); err != nil {
		t.Fatal(err)
	}
	got, err := Expand(dir, "config", nil)
	if err != nil || len(got) != 2 {
		t.Fatalf("a link inside the project: %v, %v; want a.yaml and s.yaml", got, err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "config", "z.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, entry := range []string{"config", "config/*.yaml"} {
		if _, err := Expand(dir, entry, nil); err == nil || !strings.Contains(err.Error(), "z.yaml is a symbolic link to "+secret+", outside "+dir) {
			t.Errorf("%s with a link out: %v", entry, err)
		}
	}
	if got, err := Expand(dir, "config/z.yaml", nil); err != nil || len(got) != 1 {
		t.Errorf("a link named exactly: %v, %v", got, err)
	}
}
