package relink

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A module with a main package and one package of its own, built as scratchkit builds it.
var files = map[string]string{
	"go.mod": "module example.com/svc\n\ngo 1.26\n",
	"main.go": `package main

import (
	"fmt"

	"example.com/svc/greet"
)

var version = "devel"

func main() {
	fmt.Println(greet.Hello("main"), version)
}
`,
	"greet/greet.go": `package greet

import "strings"

// Hello greets who.
func Hello(who string) string {
	return strings.Repeat("hello ", count()) + who
}

//go:noinline
func count() int {
	return 1
}
`,
}

type module struct {
	t    *testing.T
	dir  string
	env  []string
	args []string
}

func newModule(t *testing.T) *module {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	return &module{t: t, dir: dir, env: env,
		args: []string{"build", "-o", "OUT", "-trimpath", "-ldflags=-s -w -X main.version=v1", "-pgo=auto", "."}}
}

func (m *module) write(name, body string) {
	m.t.Helper()
	if err := os.WriteFile(filepath.Join(m.dir, name), []byte(body), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

func (m *module) edit(name, old, new string) {
	m.t.Helper()
	b, err := os.ReadFile(filepath.Join(m.dir, name))
	if err != nil {
		m.t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		m.t.Fatalf("%s has no %q", name, old)
	}
	m.write(name, strings.Replace(string(b), old, new, 1))
}

// goBuild runs go build into out, as the plan's build.
func (m *module) goBuild(out string) {
	m.t.Helper()
	args := append([]string{}, m.args...)
	args[2] = out
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = m.dir, m.env
	if b, err := cmd.CombinedOutput(); err != nil {
		m.t.Fatalf("go build: %v\n%s", err, b)
	}
}

func (m *module) prepare() *Plan {
	m.t.Helper()
	p, err := Prepare(context.Background(), Options{Dir: m.dir, Root: m.dir, Args: m.args, Env: m.env})
	if err != nil {
		m.t.Fatalf("Prepare: %v", err)
	}
	m.t.Cleanup(func() { p.Close() })
	return p
}

func run(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	return strings.TrimSpace(string(out))
}

// withoutBuildIDs is an ELF file's bytes with its build ID notes zeroed.
func withoutBuildIDs(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range f.Sections {
		if s.Name == ".note.go.buildid" || s.Name == ".note.gnu.build-id" {
			clear(b[s.Offset : s.Offset+s.Size])
			n++
		}
	}
	if n == 0 {
		t.Fatalf("%s has no build ID note", file)
	}
	return b
}

// sameAsGoBuild checks that the binary Link wrote is go build's for the same sources, but for
// its build IDs.
func (m *module) sameAsGoBuild(relinked string) {
	m.t.Helper()
	want := filepath.Join(m.t.TempDir(), "want")
	m.goBuild(want)
	if !bytes.Equal(withoutBuildIDs(m.t, relinked), withoutBuildIDs(m.t, want)) {
		m.t.Fatalf("the relinked binary is not go build's (build IDs aside)")
	}
	if got, w := buildIDOf(m.t, relinked), buildIDOf(m.t, want); got == w || len(got) != len(w) {
		m.t.Fatalf("build IDs: relinked %q, go build %q: want different, of one length", got, w)
	}
}

func buildIDOf(t *testing.T, file string) string {
	t.Helper()
	out, err := exec.Command("go", "tool", "buildid", file).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func TestLinkIsGoBuildsBinary(t *testing.T) {
	m := newModule(t)
	out := filepath.Join(m.dir, "svc")
	m.goBuild(out)
	p := m.prepare()
	ctx := context.Background()
	relinked := filepath.Join(t.TempDir(), "svc")

	// An edit of main's body: main compiles again and the binary links.
	m.edit("main.go", `fmt.Println(greet.Hello("main"), version)`, `fmt.Println(greet.Hello("edited main"), version)`)
	if _, err := p.Link(ctx, []string{filepath.Join(m.dir, "main.go")}, relinked); err != nil {
		t.Fatalf("Link after an edit of main: %v", err)
	}
	if got := run(t, relinked); got != "hello edited main v1" {
		t.Fatalf("relinked binary says %q", got)
	}
	m.sameAsGoBuild(relinked)

	// An edit of another package that keeps its export data (a body that is not inlined).
	m.edit("greet/greet.go", "return 1", "return 2")
	if _, err := p.Link(ctx, []string{filepath.Join(m.dir, "greet/greet.go")}, relinked); err != nil {
		t.Fatalf("Link after an edit of greet's body: %v", err)
	}
	if got := run(t, relinked); got != "hello hello edited main v1" {
		t.Fatalf("relinked binary says %q", got)
	}
	m.sameAsGoBuild(relinked)

	// Both again, in one call, after the plan took its own files for them.
	m.edit("greet/greet.go", "return 2", "return 3")
	m.edit("main.go", `"edited main"`, `"main"`)
	if _, err := p.Link(ctx, []string{filepath.Join(m.dir, "greet/greet.go"), filepath.Join(m.dir, "main.go")}, relinked); err != nil {
		t.Fatalf("Link after edits of both: %v", err)
	}
	if got := run(t, relinked); got != "hello hello hello main v1" {
		t.Fatalf("relinked binary says %q", got)
	}
	m.sameAsGoBuild(relinked)

	// go build into a file Link wrote, for sources go build has a binary of: the go command must
	// not take the relinked file's build ID for its own and keep it.
	if err := os.Rename(relinked, out); err != nil {
		t.Fatal(err)
	}
	m.edit("greet/greet.go", "return 3", "return 1")
	m.goBuild(out)
	if got := run(t, out); got != "hello main v1" {
		t.Fatalf("go build kept the relinked binary: it says %q", got)
	}
}

func TestLinkRefusesWhatNeedsGoBuild(t *testing.T) {
	m := newModule(t)
	m.goBuild(filepath.Join(m.dir, "svc"))
	ctx := context.Background()
	relinked := filepath.Join(t.TempDir(), "svc")
	main, greet := filepath.Join(m.dir, "main.go"), filepath.Join(m.dir, "greet/greet.go")
	for _, c := range []struct {
		name    string
		edit    func()
		changed []string
		why     string
	}{
		{"a new import", func() {
			m.edit("main.go", `"fmt"`, "\"fmt\"\n\t\"os\"")
			m.edit("main.go", "func main() {", "func main() {\n\t_ = os.Args")
		}, []string{main}, "imports"},
		{"greet's export data", func() { m.edit("greet/greet.go", "// Hello greets who.", "// Hello greets who.\n\n") }, []string{greet}, "export data"},
		{"a syntax error", func() { m.edit("main.go", "func main() {", "func main() {{") }, []string{main}, "compile"},
		{"a new file", func() { m.write("extra.go", "package main\n") }, []string{filepath.Join(m.dir, "extra.go")}, "not one of the files"},
		{"go.mod", func() {}, []string{filepath.Join(m.dir, "go.mod")}, "not a Go file"},
		{"a build constraint", func() { m.edit("greet/greet.go", "package greet", "//go:build linux\n\npackage greet") }, []string{greet}, "build constraints"},
	} {
		t.Run(c.name, func(t *testing.T) {
			saved := map[string]string{}
			for name := range files {
				b, _ := os.ReadFile(filepath.Join(m.dir, name))
				saved[name] = string(b)
			}
			defer func() {
				for name, body := range saved {
					m.write(name, body)
				}
				os.Remove(filepath.Join(m.dir, "extra.go"))
			}()
			p := m.prepare()
			c.edit()
			_, err := p.Link(ctx, c.changed, relinked)
			if !errors.Is(err, ErrNotApplicable) || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("Link: %v, want ErrNotApplicable saying %q", err, c.why)
			}
			if _, err := os.Stat(relinked); err == nil {
				t.Fatalf("a refused Link left %s", relinked)
			}
		})
	}
}

func TestSplitWords(t *testing.T) {
	got, err := splitWords(`GOROOT='' /go/pkg/tool/link -o $WORK/b001/exe/a.out "-X=main.v=a b" -trimpath "/src=>x;$WORK/b001=>" ./main.go`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"GOROOT=", "/go/pkg/tool/link", "-o", "$WORK/b001/exe/a.out", "-X=main.v=a b", "-trimpath", "/src=>x;$WORK/b001=>", "./main.go"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("splitWords = %q, want %q", got, want)
	}
}

// A change whose Link was refused (here, a compile error) is still compiled by the next Link
// after a fix of another file: nothing said since the binary was built is forgotten.
func TestSetKeepsWhatChangedUntilLinked(t *testing.T) {
	m := newModule(t)
	out := filepath.Join(m.dir, "svc")
	m.goBuild(out)
	ctx := context.Background()
	s := NewSet(ctx, m.dir)
	defer s.Close()
	if _, err := s.Link(ctx, "svc", out); !errors.Is(err, ErrNotApplicable) {
		t.Fatalf("Link with no plan: %v, want ErrNotApplicable", err)
	}
	s.Built("svc", Options{Dir: m.dir, Args: m.args, Env: m.env})
	s.wg.Wait()

	main, greet := filepath.Join(m.dir, "main.go"), filepath.Join(m.dir, "greet/greet.go")
	m.edit("main.go", `greet.Hello("main")`, `greet.Hello("first")`)
	m.edit("greet/greet.go", "return 1", "return 1 +")
	s.Changed(main, greet)
	if _, err := s.Link(ctx, "svc", out); !errors.Is(err, ErrNotApplicable) {
		t.Fatalf("Link of a syntax error: %v, want ErrNotApplicable", err)
	}
	m.edit("greet/greet.go", "return 1 +", "return 2")
	s.Changed(greet)
	if _, err := s.Link(ctx, "svc", out); err != nil {
		t.Fatalf("Link after the fix: %v", err)
	}
	if got := run(t, out); got != "hello hello first v1" {
		t.Fatalf("binary says %q, want main's earlier edit and greet's fix", got)
	}
	m.sameAsGoBuild(out)
	if _, err := s.Link(ctx, "svc", out); !errors.Is(err, ErrNotApplicable) || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("Link with nothing changed: %v, want ErrNotApplicable", err)
	}
}

// A plan made from a build of a clean git checkout does not relink an edit: the binary would say
// vcs.modified=false. go build stamps it, and a plan made after that relinks.
func TestLinkKeepsTheVCSStampTrue(t *testing.T) {
	m := newModule(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = m.dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	m.args = []string{"build", "-o", "OUT", "-trimpath", "-buildvcs=true", "-ldflags=-s -w -X main.version=v1", "."}
	m.write(".gitignore", "svc\n")
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "init")
	out := filepath.Join(m.dir, "svc")
	m.goBuild(out)
	p := m.prepare()
	m.edit("main.go", `greet.Hello("main")`, `greet.Hello("edited")`)
	main := filepath.Join(m.dir, "main.go")
	if _, err := p.Link(context.Background(), []string{main}, out); !errors.Is(err, ErrNotApplicable) || !strings.Contains(err.Error(), "clean checkout") {
		t.Fatalf("Link after a build of a clean checkout: %v, want ErrNotApplicable", err)
	}
	m.goBuild(out)
	p = m.prepare()
	m.edit("main.go", `greet.Hello("edited")`, `greet.Hello("again")`)
	if _, err := p.Link(context.Background(), []string{main}, out); err != nil {
		t.Fatalf("Link after a build of the edited checkout: %v", err)
	}
	if b, err := exec.Command("go", "version", "-m", out).Output(); err != nil || !strings.Contains(string(b), "vcs.modified=true") {
		t.Fatalf("relinked binary's build info lacks vcs.modified=true: %v\n%s", err, b)
	}
	m.sameAsGoBuild(out)
}

// A package with assembly is never relinked: a compile alone does not rebuild it.
func TestLinkRefusesAssembly(t *testing.T) {
	m := newModule(t)
	m.write("greet/stub.s", "// no instructions: enough to make greet an assembly package\n")
	m.goBuild(filepath.Join(m.dir, "svc"))
	p := m.prepare()
	m.edit("greet/greet.go", "return 1", "return 2")
	_, err := p.Link(context.Background(), []string{filepath.Join(m.dir, "greet/greet.go")}, filepath.Join(t.TempDir(), "svc"))
	if !errors.Is(err, ErrNotApplicable) || !strings.Contains(err.Error(), "symabis") && !strings.Contains(err.Error(), "assembly") {
		t.Fatalf("Link of an assembly package: %v, want ErrNotApplicable naming its assembly", err)
	}
}
