package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Fixtures are what the tests make once per test process and share: Go binaries above all, built
// on this machine with the real toolchain, and only when a test asks for them (so `go test -run X`
// builds only what X needs). They live in one temporary directory that Main removes when the
// tests end; nothing is cached in the repository.

var fixtures struct {
	sync.Mutex
	main  bool   // Main runs the tests: the directory is removed at the end
	dir   string // made on first use
	byKey map[string]*fixture
}

type fixture struct {
	once sync.Once
	path string
	err  error
}

// Main runs the tests of a package whose tests use Fixture, GoBuild or GoBinary, then removes
// what they made. Call it from TestMain, which exits with the tests' status when it returns:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	fixtures.Lock()
	fixtures.main = true
	fixtures.Unlock()
	m.Run()
	fixtures.Lock()
	defer fixtures.Unlock()
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
}

// Fixture returns the path of the fixture called name (a file name, unique in the test process),
// made by make on the first call: make writes a file or a directory at the path it is given.
// Every later call returns the same path, or fails the test as the first call failed.
func Fixture(t testing.TB, name string, make func(path string) error) string {
	t.Helper()
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		t.Fatalf("fixture name %q: want a file name", name)
	}
	return fixtureAt(t, name, name, make)
}

// fixtureAt makes the fixture of key at rel inside the fixture directory, once per test process.
func fixtureAt(t testing.TB, key, rel string, make func(path string) error) string {
	t.Helper()
	fixtures.Lock()
	if !fixtures.main {
		fixtures.Unlock()
		t.Fatal("testenv: fixtures need the package's TestMain to call testenv.Main, which removes them at the end")
	}
	if fixtures.byKey == nil {
		fixtures.byKey = map[string]*fixture{}
	}
	f := fixtures.byKey[key]
	if f == nil {
		f = &fixture{}
		fixtures.byKey[key] = f
	}
	fixtures.Unlock()
	f.once.Do(func() {
		dir, err := fixtureDir()
		if err != nil {
			f.err = err
			return
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.err = err
			return
		}
		if err := make(p); err != nil {
			f.err = err
			return
		}
		f.path = p
	})
	if f.err != nil {
		t.Fatalf("fixture %s: %v", key, f.err)
	}
	return f.path
}

func fixtureDir() (string, error) {
	fixtures.Lock()
	defer fixtures.Unlock()
	if fixtures.dir == "" {
		dir, err := os.MkdirTemp("", "scratchkit-fixtures-")
		if err != nil {
			return "", err
		}
		fixtures.dir = dir
	}
	return fixtures.dir, nil
}

// GoProgram is a Go main package that tests need built.
type GoProgram struct {
	Dir   string   // the directory `go build` runs in; relative to the test's package directory
	Pkg   string   // the package to build: "." when empty
	Env   []string // added to the environment after CGO_ENABLED=0 (later entries win)
	Flags []string // the build flags, e.g. -trimpath, "-ldflags=-s -w"
}

// Build runs `go build` for p, writing the binary at out.
func (p GoProgram) Build(out string) error {
	pkg := p.Pkg
	if pkg == "" {
		pkg = "."
	}
	args := append(append([]string{"build", "-o", out}, p.Flags...), pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = p.Dir
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), p.Env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s go %s (in %s): %v\n%s", strings.Join(p.Env, " "), strings.Join(args, " "), p.Dir, err, b)
	}
	return nil
}

// GoBuild builds p once per test process (for each directory, package, environment and flags)
// and returns the binary's path, a file named after the package's last element ("hello" for
// examples/hello) in the fixture directory. The package's TestMain must call Main.
func GoBuild(t testing.TB, p GoProgram) string {
	t.Helper()
	dir, err := filepath.Abs(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	p.Dir = dir
	name := path.Base(p.Pkg)
	if p.Pkg == "" || p.Pkg == "." {
		name = filepath.Base(dir)
	} else if strings.HasPrefix(p.Pkg, ".") {
		name = filepath.Base(filepath.Join(dir, p.Pkg))
	}
	key := strings.Join(append(append([]string{dir, p.Pkg, "\x00env"}, p.Env...), append([]string{"\x00flags"}, p.Flags...)...), "\x00")
	sum := sha256.Sum256([]byte(key))
	return fixtureAt(t, key, filepath.Join("go-"+hex.EncodeToString(sum[:6]), name), p.Build)
}

// GoBinary builds the main package in dir with `go build -trimpath`, CGO_ENABLED=0 and env (e.g.
// GOOS, GOARCH, a CGO_ENABLED=1 that wins), once per test process for each dir and env, and
// returns the binary's path. The package's TestMain must call Main.
func GoBinary(t testing.TB, dir string, env ...string) string {
	t.Helper()
	return GoBuild(t, GoProgram{Dir: dir, Env: env, Flags: []string{"-trimpath"}})
}

// ModuleRoot is the directory of the go.mod of the module whose tests run: the first one up from
// the working directory, which `go test` sets to the package's directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if dir == filepath.Dir(dir) {
			t.Fatalf("no go.mod in %s or above", wd)
		}
	}
}

// CopyFiles copies the named files (paths relative to both directories) from one directory to
// another, making the directories it needs.
func CopyFiles(t testing.TB, from, to string, names ...string) {
	t.Helper()
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(from, n))
		if err != nil {
			t.Fatal(err)
		}
		WriteFile(t, filepath.Join(to, n), string(data))
	}
}

// WriteFile writes body to the file at path (mode 0644), making the directories it needs.
func WriteFile(t testing.TB, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// WriteFiles writes files (a path relative to dir → its body) with WriteFile.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		WriteFile(t, filepath.Join(dir, name), body)
	}
}

// FileSHA256 is the sha256 of the file at path, in hex.
func FileSHA256(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}
