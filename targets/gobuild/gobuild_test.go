package gobuild

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// example copies examples/hello into a fresh directory, so tests never write into the repository
// and so two copies prove that outputs do not depend on where the source lives.
func example(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "hello")
	src, err := filepath.Abs("../../examples/hello")
	if err != nil {
		t.Fatal(err)
	}
	testenv.CopyFiles(t, src, dst, "go.mod", "main.go")
	return dst
}

func mustPlatforms(t *testing.T, list ...string) []platform.Platform {
	t.Helper()
	var out []platform.Platform
	for _, s := range list {
		p, err := platform.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func resolve(t *testing.T, dir string, b Build) []Build {
	t.Helper()
	builds, err := Resolve(context.Background(), dir, []Spec{{Build: b}})
	if err != nil {
		t.Fatal(err)
	}
	return builds
}

var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM}

// checkStatic asserts what a scratch image needs of an ELF: the machine, no interpreter, no
// shared libraries, no symbol table or DWARF, and none of the build directory's bytes.
func checkStatic(t *testing.T, path string, p platform.Platform, buildDir string) *elf.File {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	if f.Machine != machines[p.Arch] {
		t.Errorf("%s: machine %v, want %v", p, f.Machine, machines[p.Arch])
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("%s: has PT_INTERP: it would need a dynamic loader in scratch", p)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s: needs shared libraries %v", p, libs)
	}
	for _, s := range f.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			t.Errorf("%s: not stripped: has %s", p, s.Name)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(buildDir)) {
		t.Errorf("%s: the binary contains the build directory %s", p, buildDir)
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: build info: %v", p, err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["-trimpath"] != "true" || settings["GOOS"] != "linux" || settings["GOARCH"] != p.Arch {
		t.Errorf("%s: build settings %v", p, settings)
	}
	if p.Arch == "arm" && settings["GOARM"] != strings.TrimPrefix(p.Variant, "v") {
		t.Errorf("%s: GOARM=%q", p, settings["GOARM"])
	}
	return f
}

func TestCrossCompileStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three platforms")
	}
	dir := example(t)
	dist := filepath.Join(dir, "dist")
	ps := mustPlatforms(t, "linux/amd64", "linux/arm64", "linux/arm/v7")
	builds := resolve(t, dir, Build{Main: ".", Linkage: binary.LinkageStatic, PGO: "auto", Platforms: ps, Ldflags: []string{"-X main.version=1.2.3"}})
	if builds[0].Name != "hello" || builds[0].ImportPath != "example.com/hello" || !builds[0].InModule {
		t.Fatalf("resolved %+v", builds[0])
	}
	var done int
	results, err := Run(context.Background(), builds, Options{Dist: dist, Done: func(Result) { done++ }})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 || done != 3 {
		t.Fatalf("%d results, %d reported", len(results), done)
	}
	for _, r := range results {
		want := filepath.Join(dist, "hello", r.Platform.Dir(), "hello")
		if r.Path != want {
			t.Errorf("path %s, want %s", r.Path, want)
		}
		sum, size, err := hashFile(r.Path)
		if err != nil || sum != r.SHA256 || size != r.Size {
			t.Errorf("%s: recorded %s/%d, file %s/%d (%v)", r.Platform, r.SHA256, r.Size, sum, size, err)
		}
		checkStatic(t, r.Path, r.Platform, dir)
		if f, _ := elf.Open(r.Path); f != nil {
			if f.Type != elf.ET_EXEC {
				t.Errorf("%s: type %v, want ET_EXEC", r.Platform, f.Type)
			}
			f.Close()
		}
		if strings.Contains(r.Command, "CGO_ENABLED=1") || !strings.Contains(r.Command, "CGO_ENABLED=0") {
			t.Errorf("command %s", r.Command)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dist, "hello", "*", ".*tmp*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
	// The host binary runs and carries the ldflags.
	if runtime.GOARCH == "amd64" {
		out, err := exec.Command(filepath.Join(dist, "hello", "linux_amd64", "hello"), "-version").Output()
		if err != nil || strings.TrimSpace(string(out)) != "hello 1.2.3" {
			t.Errorf("hello -version: %q, %v", out, err)
		}
	}
}

// TestReproducible builds the same source from two directories with two empty build caches:
// the binaries must be byte-identical.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the standard library twice")
	}
	var sums []string
	for i := 0; i < 2; i++ {
		dir := example(t)
		builds := resolve(t, dir, Build{Main: ".", Linkage: binary.LinkageStatic, PGO: "auto", Platforms: mustPlatforms(t, "linux/amd64")})
		env := append(os.Environ(), "GOCACHE="+t.TempDir())
		results, err := Run(context.Background(), builds, Options{Dist: filepath.Join(dir, "dist"), Env: env})
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, results[0].SHA256)
	}
	if sums[0] != sums[1] {
		t.Errorf("two clean builds differ: %s vs %s", sums[0], sums[1])
	}
}

func TestFailedPlatformLeavesOthers(t *testing.T) {
	dir := example(t)
	dist := filepath.Join(dir, "dist")
	// linux/arm64 builds; linux/s390x with cgo-static has no C compiler here (or fails to link).
	builds := resolve(t, dir, Build{Main: ".", Linkage: binary.LinkageStatic, PGO: "auto", Platforms: mustPlatforms(t, "linux/amd64")})
	bad := builds[0]
	bad.Name, bad.Linkage, bad.CC, bad.Platforms = "broken", binary.LinkageCgoStatic, "/nonexistent/cc", mustPlatforms(t, "linux/amd64")
	results, err := Run(context.Background(), append(builds, bad), Options{Dist: dist})
	if err == nil {
		t.Fatal("a build with a missing C compiler succeeded")
	}
	if !strings.Contains(err.Error(), "build broken for linux/amd64 failed") || !strings.Contains(err.Error(), "/nonexistent/cc") {
		t.Errorf("error does not name the build, platform and compiler output: %v", err)
	}
	if results[0].Err != nil {
		t.Errorf("the good build failed too: %v", results[0].Err)
	}
	if _, err := os.Stat(filepath.Join(dist, "broken")); err == nil {
		entries, _ := filepath.Glob(filepath.Join(dist, "broken", "*", "*"))
		if len(entries) > 0 {
			t.Errorf("failed build left files: %v", entries)
		}
	}
}

func TestCgoEnvironmentRefused(t *testing.T) {
	dir := example(t)
	builds := resolve(t, dir, Build{Main: ".", Linkage: binary.LinkageStatic, Platforms: mustPlatforms(t, "linux/amd64")})
	_, err := Run(context.Background(), builds, Options{Dist: filepath.Join(dir, "dist"), Env: append(os.Environ(), "CGO_ENABLED=1")})
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=1") || !strings.Contains(err.Error(), "cgo-static") {
		t.Fatalf("CGO_ENABLED=1 with a static build: %v", err)
	}
}

func TestStaticPIE(t *testing.T) {
	if testing.Short() {
		t.Skip("links with the C toolchain")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		testenv.Missing(t, "gcc is not installed")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("static-pie end-to-end runs on amd64")
	}
	dir := example(t)
	dist := filepath.Join(dir, "dist")
	builds := resolve(t, dir, Build{Main: ".", Linkage: binary.LinkageStaticPIE, PGO: "auto", Platforms: mustPlatforms(t, "linux/amd64")})
	results, err := Run(context.Background(), builds, Options{Dist: dist})
	if err != nil {
		t.Fatal(err)
	}
	f := checkStatic(t, results[0].Path, results[0].Platform, dir)
	if f.Type != elf.ET_DYN {
		t.Errorf("static-pie: type %v, want ET_DYN (position independent)", f.Type)
	}
	if !strings.Contains(results[0].Command, "-extldflags=-static-pie") || !strings.Contains(results[0].Command, "-buildmode=pie") {
		t.Errorf("command: %s", results[0].Command)
	}
	// It runs with nothing else in the root filesystem.
	out := runInEmptyRoot(t, results[0].Path, "-version")
	if !strings.HasPrefix(out, "hello ") {
		t.Errorf("static-pie in an empty root: %q", out)
	}
}

// runInEmptyRoot runs a binary with runc in a root filesystem that holds only that binary.
func runInEmptyRoot(t *testing.T, bin string, args ...string) string {
	t.Helper()
	testenv.Root(t)
	runc := testenv.Tool(t, "runc")
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "app"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, runc, "spec", "--bundle", bundle)
	specPath := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = append([]any{"/app"}, toAny(args)...)
	spec["root"].(map[string]any)["readonly"] = true
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(specPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	id := "sk-gobuild-" + filepath.Base(bundle)
	out, err := testenv.Output(runc, "run", "--bundle", bundle, id)
	if err != nil {
		t.Fatalf("runc run: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func TestResolveErrors(t *testing.T) {
	dir := example(t)
	if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lib", "lib.go"), []byte("package lib\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	where := func(k string) string { return "scratchkit.yaml:4: builds[0]." + k }
	cases := map[string][]string{
		"./cmd/helo":            {"scratchkit.yaml:4: builds[0].main", "./cmd/helo does not exist", "main packages here: ./."},
		"./lib":                 {"builds[0].main", "package lib, not package main"},
		"example.com/nowhere/x": {"builds[0].main", "example.com/nowhere/x", "module graph"},
	}
	for main, want := range cases {
		_, err := Resolve(context.Background(), dir, []Spec{{Build: Build{Main: main}, Where: where}})
		if err == nil {
			t.Errorf("main %s: no error", main)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("main %s: error %q lacks %q", main, err, w)
			}
		}
	}
}

func TestMissingCrossCompiler(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	p, _ := platform.Parse("linux/arm64")
	_, _, err := Args(&Build{Name: "db", Linkage: binary.LinkageStaticPIE}, p, "out")
	if err == nil || !strings.Contains(err.Error(), "gcc-aarch64-linux-gnu") || !strings.Contains(err.Error(), "zig") || !strings.Contains(err.Error(), "set cc") {
		t.Fatalf("missing cross compiler: %v", err)
	}
}

func TestArgs(t *testing.T) {
	p, _ := platform.Parse("linux/arm/v7")
	args, env, err := Args(&Build{Name: "a", Main: "./cmd/a", Linkage: binary.LinkageStatic, Tags: []string{"netgo"}, Ldflags: []string{"-X main.v=1"}, Env: []string{"GOFIPS140=latest"}}, p, "out")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(args, " ") + " | " + strings.Join(env, " ")
	for _, want := range []string{"-trimpath", "-ldflags=-s -w -X main.v=1", "-tags=netgo", "-pgo=auto", "./cmd/a", "GOARM=7", "GOARCH=arm", "CGO_ENABLED=0", "GOFIPS140=latest"} {
		if !strings.Contains(line, want) {
			t.Errorf("args lack %q: %s", want, line)
		}
	}
	if strings.Contains(line, "-buildmode") {
		t.Errorf("static build must not be PIE without cgo (it would ask for the loader): %s", line)
	}
	// Non-linux platforms cannot use cgo linkages.
	w, _ := platform.Parse("windows/amd64")
	if _, _, err := Args(&Build{Name: "a", Linkage: binary.LinkageStaticPIE}, w, "out"); err == nil {
		t.Error("static-pie for windows accepted")
	}
}

func TestRender(t *testing.T) {
	info := Info{Version: "v1.2.3", Commit: "abc", Date: "2024-01-01T00:00:00Z", Env: map[string]string{"TEAM": "core"}}
	out, err := Render("-X main.v={{.Version}} -X main.team={{.Env.TEAM}}", info)
	if err != nil || out != "-X main.v=v1.2.3 -X main.team=core" {
		t.Errorf("Render = %q, %v", out, err)
	}
	if _, err := Render("-X main.v={{.Env.NOPE}}", info); err == nil || !strings.Contains(err.Error(), "NOPE is not set") {
		t.Errorf("missing env: %v", err)
	}
	if _, err := Render("-X main.v={{.Verson}}", info); err == nil || !strings.Contains(err.Error(), ".Version") {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := Render("-X main.v={{.Version", info); err == nil || !strings.Contains(err.Error(), "not a valid template") {
		t.Errorf("syntax: %v", err)
	}
}

func TestDescribeUsesSourceDateEpoch(t *testing.T) {
	info, err := Describe(context.Background(), t.TempDir(), nil, "", "1700000000")
	if err != nil {
		t.Fatal(err)
	}
	if info.Date != "2023-11-14T22:13:20Z" || info.Version != "devel" {
		t.Errorf("Describe = %+v", info)
	}
	if _, err := Describe(context.Background(), t.TempDir(), nil, "", "yesterday"); err == nil {
		t.Error("bad SOURCE_DATE_EPOCH accepted")
	}
	// Outside git and without SOURCE_DATE_EPOCH the date is the epoch, never the wall clock.
	info, _ = Describe(context.Background(), t.TempDir(), nil, "", "")
	if info.Date != "1970-01-01T00:00:00Z" {
		t.Errorf("date without git or SOURCE_DATE_EPOCH = %s", info.Date)
	}
}

func TestDefaultName(t *testing.T) {
	for in, want := range map[string]string{"example.com/hello": "hello", "example.com/cmd/API": "api", "example.com/tool/v2": "tool"} {
		if got := DefaultName(in); got != want {
			t.Errorf("DefaultName(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestDescribeGit(t *testing.T) {
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.email=t@example.com", "-c", "user.name=t"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "f")
	git("commit", "-qm", "one", "--date=2024-01-02T03:04:05Z")
	git("tag", "v1.2.3")
	info, err := Describe(context.Background(), dir, nil, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != "v1.2.3" || info.Git.Tag != "v1.2.3" || !info.Git.IsClean || len(info.Commit) != 40 || !strings.HasPrefix(info.Commit, info.ShortCommit) {
		t.Errorf("tagged: %+v", info)
	}
	// The commit time, not the wall clock, unless SOURCE_DATE_EPOCH says otherwise.
	if info.Git.CommitDate == "" || info.Date != info.Git.CommitDate {
		t.Errorf("date %q, commit date %q", info.Date, info.Git.CommitDate)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("2"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, _ = Describe(context.Background(), dir, nil, "", "")
	if info.Version != "v1.2.3-dirty" || !info.Git.IsDirty || info.Git.TreeState != "dirty" || info.Git.Tag != "v1.2.3" {
		t.Errorf("dirty: %+v", info.Git)
	}
	git("commit", "-qam", "two")
	info, _ = Describe(context.Background(), dir, nil, "", "")
	if info.Git.Tag != "" || !strings.HasPrefix(info.Version, "v1.2.3-1-g") {
		t.Errorf("after the tag: version %q tag %q", info.Version, info.Git.Tag)
	}
}

// A compile error that every platform hits is said once, naming every platform.
func TestSameFailureSaidOnce(t *testing.T) {
	dir := example(t)
	if err := os.WriteFile(filepath.Join(dir, "broken.go"), []byte("package main\n\nfunc broken() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	builds := resolve(t, dir, Build{Main: ".", Linkage: binary.LinkageStatic, Platforms: mustPlatforms(t, "linux/amd64", "linux/arm64")})
	_, err := Run(context.Background(), builds, Options{Dist: t.TempDir()})
	if err == nil {
		t.Fatal("a broken package built")
	}
	msg := err.Error()
	if n := strings.Count(msg, "undefinedThing"); n != 1 || !strings.Contains(msg, "for linux/amd64, linux/arm64 failed") {
		t.Errorf("want the compiler output once, for both platforms:\n%s", msg)
	}
}
