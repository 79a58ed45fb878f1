package gobuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/scratchkit/scratchkit/internal/secrets"
	"golang.org/x/mod/modfile"
)

// Package is a package as `go list` reports it.
type Package struct {
	ImportPath string
	Name       string
	Dir        string
	Module     *struct {
		Path    string
		Version string
		Dir     string
		Main    bool
	}
	Error *struct{ Err string }
	// DepsErrors are errors loading the packages it imports (a missing go.sum entry, say).
	DepsErrors []*struct{ Err string }
}

// List runs `go list -e -json` for patterns in dir.
func List(ctx context.Context, dir string, patterns ...string) ([]Package, error) {
	args := append([]string{"list", "-e", "-json=ImportPath,Name,Dir,Module,Error,DepsErrors"}, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, secrets.Environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("go list %s (in %s): %s", strings.Join(patterns, " "), dir, msg)
	}
	var pkgs []Package
	dec := json.NewDecoder(&stdout)
	for {
		var p Package
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// ModulePath returns the main module's path of dir.
func ModulePath(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Path}}")
	cmd.Dir, cmd.Env = dir, secrets.Environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s is not inside a Go module (go list -m: %s): run scratchkit where go.mod is, or set dir in the build", dir, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Fields(stdout.String())
	if len(lines) == 0 {
		return "", fmt.Errorf("%s: go list -m printed no module", dir)
	}
	return lines[0], nil
}

// MainPackages lists the main packages of the module in dir, as ./relative directories.
func MainPackages(ctx context.Context, dir string) ([]Package, error) {
	pkgs, err := List(ctx, dir, "./...")
	if err != nil {
		return nil, err
	}
	var mains []Package
	for _, p := range pkgs {
		if p.Name == "main" && p.Error == nil {
			mains = append(mains, p)
		}
	}
	return mains, nil
}

// Spec is a build as configured, before resolution. Where names the configuration key for errors
// (e.g. "scratchkit.yaml:7: builds[0]").
type Spec struct {
	Build
	Where func(key string) string
}

// Resolve finds each build's main package with go list, checks that it is package main, and fills
// in the name, import path and directories. Relative Dir and Main are taken from wd.
func Resolve(ctx context.Context, wd string, specs []Spec) ([]Build, error) {
	var out []Build
	var errs []error
	for i := range specs {
		b, err := resolveOne(ctx, wd, &specs[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, b)
	}
	return out, errors.Join(errs...)
}

func resolveOne(ctx context.Context, wd string, s *Spec) (Build, error) {
	b := s.Build
	where := s.Where
	if where == nil {
		where = func(k string) string { return k }
	}
	b.Dir = wd
	if s.Dir != "" {
		if !filepath.IsAbs(s.Dir) {
			b.Dir = filepath.Join(wd, s.Dir)
		} else {
			b.Dir = s.Dir
		}
		if fi, err := os.Stat(b.Dir); err != nil || !fi.IsDir() {
			return b, fmt.Errorf("%s: directory %s does not exist; dir is where go build runs, relative to %s", where("dir"), s.Dir, wd)
		}
	}
	main := b.Main
	if main == "" {
		main = "."
	}
	local := main == "." || main == ".." || strings.HasPrefix(main, "./") || strings.HasPrefix(main, "../") || filepath.IsAbs(main)
	if local {
		d := main
		if !filepath.IsAbs(d) {
			d = filepath.Join(b.Dir, main)
		}
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return b, fmt.Errorf("%s: %s does not exist (looked in %s)%s", where("main"), main, d, listMains(ctx, b.Dir))
		}
		if main != "." && main != ".." && !strings.HasPrefix(main, "./") && !strings.HasPrefix(main, "../") && !filepath.IsAbs(main) {
			main = "./" + main
		}
	}
	var p Package
	if local {
		lp, err := localPackage(filepath.Join(b.Dir, main))
		if err != nil {
			return b, fmt.Errorf("%s: %s: %v%s", where("main"), main, err, listMains(ctx, b.Dir))
		}
		p = lp
	} else {
		pkgs, err := List(ctx, b.Dir, main)
		if err != nil {
			return b, fmt.Errorf("%s: %w", where("main"), err)
		}
		if len(pkgs) != 1 {
			return b, fmt.Errorf("%s: %s matches %d packages; name exactly one main package", where("main"), main, len(pkgs))
		}
		p = pkgs[0]
		if p.Error != nil {
			return b, fmt.Errorf("%s: %s: %s; an import path must be a main package in the module graph (go get -tool %s@<version> in %s, or write a ./directory)%s", where("main"), main, p.Error.Err, main, b.Dir, listMains(ctx, b.Dir))
		}
		if err := missingSums(p, b.Dir); err != nil {
			return b, fmt.Errorf("%s: %w", where("main"), err)
		}
	}
	if p.Name != "main" {
		return b, fmt.Errorf("%s: %s is package %s, not package main: name a directory holding func main%s", where("main"), main, p.Name, listMains(ctx, b.Dir))
	}
	b.Main = main
	b.ImportPath, b.PkgDir = p.ImportPath, p.Dir
	if p.Module != nil {
		b.Module, b.InModule = p.Module.Path, p.Module.Main
		if !p.Module.Main {
			b.ModuleVersion = p.Module.Version
		}
	}
	if b.Install && b.InModule {
		return b, fmt.Errorf("%s: install builds a main package of another module as `go install <main>@<version>` does, but %s is in this module: remove install", where("install"), b.Main)
	}
	if b.Name == "" {
		b.Name = DefaultName(p.ImportPath)
	}
	return b, nil
}

// localPackage reads a package directory of this machine the way go build will (build
// constraints for linux included), without running go list: the name from the package clauses,
// the import path from the enclosing go.mod. go build itself reports anything subtler.
func localPackage(dir string) (Package, error) {
	bp, err := build.Default.ImportDir(dir, 0)
	if err != nil {
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return Package{}, fmt.Errorf("no Go files to build in %s", dir)
		}
		return Package{}, err
	}
	p := Package{Name: bp.Name, Dir: dir}
	for root := dir; ; root = filepath.Dir(root) {
		data, err := os.ReadFile(filepath.Join(root, "go.mod"))
		if err == nil {
			mod := modfile.ModulePath(data)
			if mod == "" {
				return p, fmt.Errorf("%s has no module line", filepath.Join(root, "go.mod"))
			}
			rel, err := filepath.Rel(root, dir)
			if err != nil {
				return p, err
			}
			p.ImportPath = path.Join(mod, filepath.ToSlash(rel))
			p.Module = &struct {
				Path    string
				Version string
				Dir     string
				Main    bool
			}{Path: mod, Dir: root, Main: true}
			return p, nil
		}
		if filepath.Dir(root) == root {
			return p, fmt.Errorf("%s is not inside a Go module (no go.mod above it)", dir)
		}
	}
}

var majorRE = regexp.MustCompile(`^v[0-9]+$`)

// DefaultName is the last element of an import path, skipping a major version suffix, lowercased.
func DefaultName(importPath string) string {
	base := path.Base(importPath)
	if majorRE.MatchString(base) && path.Dir(importPath) != "." {
		base = path.Base(path.Dir(importPath))
	}
	return strings.ToLower(base)
}

// listMains suggests the module's main packages for an error message.
func listMains(ctx context.Context, dir string) string {
	mains, err := MainPackages(ctx, dir)
	if err != nil || len(mains) == 0 {
		return ""
	}
	var rel []string
	for _, m := range mains {
		r, err := filepath.Rel(dir, m.Dir)
		if err != nil {
			continue
		}
		rel = append(rel, "./"+filepath.ToSlash(r))
	}
	sort.Strings(rel)
	return "; main packages here: " + strings.Join(rel, ", ")
}

// missingSums turns go's "missing go.sum entry" for the packages a dependency's main package
// imports into one sentence with the one command that fixes them all.
func missingSums(p Package, dir string) error {
	var mods []string
	for _, e := range p.DepsErrors {
		if e == nil || !strings.Contains(e.Err, "missing go.sum entry") {
			continue
		}
		if m := sumModuleRE.FindStringSubmatch(e.Err); m != nil && !slices.Contains(mods, m[1]) {
			mods = append(mods, m[1])
		}
	}
	if len(mods) == 0 {
		return nil
	}
	at := p.ImportPath
	if p.Module != nil && p.Module.Version != "" {
		at += "@" + p.Module.Version
	}
	return fmt.Errorf("%s imports packages (%s) whose modules go.sum has no checksums for: run `go get -tool %s` in %s (a tool directive keeps the requirement through go mod tidy), then build again", at, strings.Join(mods, ", "), at, dir)
}

// sumModuleRE finds the package in go's "missing go.sum entry for module providing package P".
var sumModuleRE = regexp.MustCompile(`providing package (\S+)`)
