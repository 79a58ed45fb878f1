package pgo

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
	"golang.org/x/mod/modfile"
)

// Status of a profiled function against the current source.
const (
	StatusCurrent = "current" // same function, same file, the profiled lines are inside it
	StatusMoved   = "moved"   // the function exists, in another file of its package
	StatusChanged = "changed" // same file, but profiled lines fall outside the function now
	StatusMissing = "missing" // no such function (renamed, deleted, or its package moved)
)

// StaleFunc is one function of the module that the profile attributes CPU time to.
type StaleFunc struct {
	Name        string  // as in the profile, e.g. main.digest or example.com/m/pkg.(*T).M
	File        string  // file the profile names
	CurrentFile string  // file declaring it now, relative to the module; "" when missing
	Weight      int64   // cpu/nanoseconds attributed to it
	Share       float64 // of the module's attributed weight, 0..1
	Status      string
}

// StaleReport tells how much of the profile's hot module code still matches the source.
//
// Each sample's CPU time is attributed to the innermost frame of the module's own code in its
// stack (time in the standard library or a dependency goes to the module function that called
// into it; samples that never pass through module code are not counted). Shares are of that
// attributed weight, so hot code counts in proportion to its heat and cold code barely at all.
type StaleReport struct {
	Module       string
	Total        int64 // cpu/nanoseconds of the whole profile
	ModuleWeight int64 // attributed to functions of the module
	Current      float64
	Moved        float64
	Changed      float64
	Missing      float64
	Functions    []StaleFunc // heaviest first
}

// Stale is the share of the module's hot weight that no longer matches the source.
func (r StaleReport) Stale() float64 { return r.Moved + r.Changed + r.Missing }

// decl is a function or method declaration in the current source.
type decl struct {
	file       string // relative to the module root, slash-separated
	start, end int    // lines of the func keyword and the closing brace
}

// srcPkg is one package of the module as it is now.
type srcPkg struct {
	dir   string // relative, slash-separated; "." for the root
	name  string
	decls map[string][]decl // by funcKey: "F", "T.M", "(*T).M"
}

// Staleness compares the module functions hot in p with the module's current source in moduleDir
// (which holds go.mod): whether each still exists, in the same file, spanning the profiled lines.
// Test files, testdata, vendor, and nested modules are not part of the module's code.
func Staleness(p *profile.Profile, moduleDir string) (StaleReport, error) {
	module, err := modulePath(filepath.Join(moduleDir, "go.mod"))
	if err != nil {
		return StaleReport{}, fmt.Errorf("pgo: staleness: %w", err)
	}
	pkgs, err := parseModule(moduleDir)
	if err != nil {
		return StaleReport{}, fmt.Errorf("pgo: staleness: %w", err)
	}
	r := StaleReport{Module: module}
	ci := cpuIndex(p)
	if ci < 0 {
		return r, fmt.Errorf("pgo: staleness: %w", because(ErrNotCPU, "%s, want a CPU profile", describeKind(p)))
	}

	hot := moduleWeights(p, ci, module)
	r.Total, r.ModuleWeight = hot.total, hot.module

	// Profiles of several binaries (replicas of different builds) hold several Function
	// records for one function; report it once.
	byName := map[string]*StaleFunc{}
	for fn, w := range hot.weights {
		status, cur := judge(fn, hot.lines[fn], module, pkgs)
		sf := byName[fn.Name+"\x00"+fn.Filename]
		if sf == nil {
			sf = &StaleFunc{Name: fn.Name, File: fn.Filename, CurrentFile: cur, Status: status}
			byName[fn.Name+"\x00"+fn.Filename] = sf
		} else if rank(status) > rank(sf.Status) {
			sf.Status, sf.CurrentFile = status, cur
		}
		sf.Weight += w
	}
	for _, sf := range byName {
		sf.Share = float64(sf.Weight) / float64(max(r.ModuleWeight, 1))
		switch sf.Status {
		case StatusCurrent:
			r.Current += sf.Share
		case StatusMoved:
			r.Moved += sf.Share
		case StatusChanged:
			r.Changed += sf.Share
		default:
			r.Missing += sf.Share
		}
		r.Functions = append(r.Functions, *sf)
	}
	sort.Slice(r.Functions, func(i, j int) bool {
		a, b := r.Functions[i], r.Functions[j]
		if a.Weight != b.Weight {
			return a.Weight > b.Weight
		}
		return a.Name < b.Name
	})
	return r, nil
}

// hotFunctions is where a profile's CPU time went in a module's code.
type hotFunctions struct {
	weights map[*profile.Function]int64   // by the innermost module function of each sample
	lines   map[*profile.Function][]int64 // the lines those samples were at
	total   int64                         // all samples
	module  int64                         // samples with a module function
}

// moduleWeights charges each sample of p (value ci) to its innermost function of module.
func moduleWeights(p *profile.Profile, ci int, module string) hotFunctions {
	h := hotFunctions{weights: map[*profile.Function]int64{}, lines: map[*profile.Function][]int64{}}
	for _, s := range p.Sample {
		v := s.Value[ci]
		h.total += v
	frames:
		for _, l := range s.Location {
			for _, ln := range l.Line {
				if ln.Function != nil && ln.Function.Filename != "<autogenerated>" && inModule(ln.Function, module) {
					h.weights[ln.Function] += v
					h.lines[ln.Function] = append(h.lines[ln.Function], ln.Line)
					h.module += v
					break frames
				}
			}
		}
	}
	return h
}

func rank(status string) int {
	switch status {
	case StatusCurrent:
		return 0
	case StatusChanged:
		return 1
	case StatusMoved:
		return 2
	}
	return 3
}

// judge finds fn in the current source.
func judge(fn *profile.Function, profiled []int64, module string, pkgs []*srcPkg) (status, current string) {
	pkgPath, rest := splitFuncName(fn.Name)
	k, closure := funcKey(rest)
	var candidates []*srcPkg
	for _, sp := range pkgs {
		if pkgPath == "main" {
			if sp.name == "main" {
				candidates = append(candidates, sp)
			}
		} else if symbolPath(module, sp.dir) == pkgPath {
			candidates = append(candidates, sp)
		}
	}
	// For package main, prefer the package whose directory the profiled file is in.
	if pkgPath == "main" && len(candidates) > 1 {
		var in []*srcPkg
		for _, sp := range candidates {
			if sameDir(fn.Filename, sp.dir, module) {
				in = append(in, sp)
			}
		}
		if len(in) > 0 {
			candidates = in
		}
	}
	var moved string
	for _, sp := range candidates {
		for _, d := range sp.decls[k] {
			if !sameFile(fn.Filename, d.file, module) {
				moved = d.file
				continue
			}
			if !closure && fn.StartLine > 0 {
				for _, line := range profiled {
					if off := line - fn.StartLine; off < 0 || off > int64(d.end-d.start) {
						return StatusChanged, d.file
					}
				}
			}
			return StatusCurrent, d.file
		}
	}
	if moved != "" {
		return StatusMoved, moved
	}
	return StatusMissing, ""
}

// symbolPath is the package path of module directory dir as it appears in symbol names.
func symbolPath(module, dir string) string {
	if dir == "." {
		return moduleSymbolPrefix(module)
	}
	return moduleSymbolPrefix(module + "/" + dir)
}

// sameFile reports whether a file name from a profile (module-prefixed under -trimpath,
// absolute otherwise) is the module file rel.
func sameFile(profiled, rel, module string) bool {
	profiled = filepath.ToSlash(profiled)
	return profiled == module+"/"+rel || profiled == rel || strings.HasSuffix(profiled, "/"+rel)
}

func sameDir(profiled, dir, module string) bool {
	d := path.Dir(filepath.ToSlash(profiled))
	if dir == "." {
		return d == module || d == "."
	}
	return d == module+"/"+dir || strings.HasSuffix(d, "/"+dir)
}

// modulePath reads the module line of a go.mod file.
func modulePath(gomod string) (string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	if m := modfile.ModulePath(data); m != "" {
		return m, nil
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}

// parseModule reads every package of the module rooted at root.
func parseModule(root string) ([]*srcPkg, error) {
	byDir := map[string]*srcPkg{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p == root {
				return nil
			}
			if name == "vendor" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil // a file that does not parse cannot be built either; its functions count as missing
		}
		relFile, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		relFile = filepath.ToSlash(relFile)
		dir := path.Dir(relFile)
		sp := byDir[dir]
		if sp == nil {
			sp = &srcPkg{dir: dir, name: f.Name.Name, decls: map[string][]decl{}}
			byDir[dir] = sp
		}
		for _, dd := range f.Decls {
			fd, ok := dd.(*ast.FuncDecl)
			if !ok {
				continue
			}
			k := fd.Name.Name
			if fd.Recv != nil && len(fd.Recv.List) == 1 {
				k = recvName(fd.Recv.List[0].Type) + "." + k
			}
			sp.decls[k] = append(sp.decls[k], decl{file: relFile, start: fset.Position(fd.Pos()).Line, end: fset.Position(fd.End()).Line})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pkgs := make([]*srcPkg, 0, len(byDir))
	for _, sp := range byDir {
		pkgs = append(pkgs, sp)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].dir < pkgs[j].dir })
	return pkgs, nil
}

// recvName renders a receiver type as symbol names do: T or (*T), without type parameters.
func recvName(e ast.Expr) string {
	ptr := false
	if s, ok := e.(*ast.StarExpr); ok {
		ptr, e = true, s.X
	}
	if p, ok := e.(*ast.ParenExpr); ok {
		e = p.X
	}
	switch x := e.(type) {
	case *ast.IndexExpr:
		e = x.X
	case *ast.IndexListExpr:
		e = x.X
	}
	name := "?"
	if id, ok := e.(*ast.Ident); ok {
		name = id.Name
	}
	if ptr {
		return "(*" + name + ")"
	}
	return name
}
