package launch

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
)

// Source is the scratchkit an engine is built from.
type Source struct {
	// Module and Version name a module version, built with go install Module/cmd/scratchkit@Version.
	Module, Version string
	// Dir is a checkout (a replace directive's directory, or scratchkit's own module), built
	// with go build in it. Set when Version is empty.
	Dir string
}

func (s Source) String() string {
	if s.Dir != "" {
		return "from " + s.Dir
	}
	return s.Version
}

// FindSource says which scratchkit the running program (a compiled magefile) was built with:
// the version its build info records, or, for a replace to a directory, that directory.
func FindSource() (Source, error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Source{}, errors.New("this program has no Go build information, so the scratchkit version it was built with is unknown: set " + EnvEngine + " to a scratchkit binary")
	}
	if bi.Main.Path == ModulePath {
		return checkout()
	}
	for _, d := range bi.Deps {
		if d.Path != ModulePath {
			continue
		}
		if r := d.Replace; r != nil {
			if r.Version == "" || r.Version == "(devel)" { // replaced by a directory
				return checkout()
			}
			return Source{Module: r.Path, Version: r.Version}, nil
		}
		return Source{Module: d.Path, Version: d.Version}, nil
	}
	return Source{}, fmt.Errorf("this program's build information does not list %s, so the engine to run is unknown: set %s to a scratchkit binary", ModulePath, EnvEngine)
}

// checkout is the directory of the scratchkit source this package was compiled from.
// (modulePath below reads go.mod by hand rather than with golang.org/x/mod/modfile: this package
// is compiled into every magefile and imports the standard library alone.)
func checkout() (Source, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return Source{}, fmt.Errorf("the scratchkit checkout this magefile uses cannot be located (it was compiled with -trimpath): compile it without -trimpath, or set %s to a scratchkit binary", EnvEngine)
	}
	dir := filepath.Dir(filepath.Dir(filepath.Dir(file))) // <root>/targets/launch/source.go
	if m, err := modulePath(filepath.Join(dir, "go.mod")); err != nil || m != ModulePath {
		return Source{}, fmt.Errorf("the scratchkit checkout %s this magefile was compiled from is gone or moved (%s: module %q, %v): run mage again so it recompiles, or set %s", dir, filepath.Join(dir, "go.mod"), m, err, EnvEngine)
	}
	return Source{Dir: dir}, nil
}

func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", errors.New("no module line")
}

// sourceDirs are the parts of a checkout the engine is built from: a change anywhere else
// (docs, examples, tests) does not rebuild it.
var sourceDirs = []string{"cmd", "internal", "targets"}

// Hash is the state of the checkout's engine sources: go.mod, go.sum and every file under
// sourceDirs except tests and test data, by path and content. (FNV-128a, not SHA-256: the
// sources are not an adversary, and crypto/sha256 would add thirty packages to every magefile.)
func (s Source) Hash() (string, error) {
	h := fnv.New128a()
	add := func(path string) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(s.Dir, path)
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(rel))
		_, err = io.Copy(h, f)
		h.Write([]byte{0})
		return err
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := add(filepath.Join(s.Dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	for _, d := range sourceDirs {
		var files []string
		err := filepath.WalkDir(filepath.Join(s.Dir, d), func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			name := de.Name()
			if de.IsDir() {
				if name == "testdata" || (strings.HasPrefix(name, ".") && p != filepath.Join(s.Dir, d)) {
					return filepath.SkipDir
				}
				return nil
			}
			if de.Type().IsRegular() && !strings.HasSuffix(name, "_test.go") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("hash the scratchkit sources in %s: %w", s.Dir, err)
		}
		sort.Strings(files)
		for _, f := range files {
			if err := add(f); err != nil {
				return "", fmt.Errorf("hash the scratchkit sources in %s: %w", s.Dir, err)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
