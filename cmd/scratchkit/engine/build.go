package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/ui"
	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/internal/bytesize"
	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/internal/tick"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/config/load"
	"github.com/scratchkit/scratchkit/targets/gobuild"
)

// Build cross-compiles every configured build for every platform and writes dist/artifacts.json.
func (e *Run) Build(ctx context.Context) error { return e.Stage(ctx, StageBuild, e.build) }

func (e *Run) build(ctx context.Context) error {
	builds, info, err := e.ResolveBuilds(ctx)
	if err != nil {
		return err
	}
	dist := e.DistDir()
	env, err := e.GoEnviron(ctx)
	if err != nil {
		return err
	}
	if len(e.Config.Builds) == 0 {
		var names []string
		for _, b := range builds {
			names = append(names, fmt.Sprintf("%s (%s)", b.Name, b.ImportPath))
		}
		e.UI.Info("no builds configured: each main package of the module, named (binary and image) for its import path's last element: %s; builds[].name in %s renames one", strings.Join(names, ", "), load.FileName)
	}
	toolchain, _ := e.Toolchain(ctx)
	if toolchain != "" {
		e.UI.Info("building with %s (build.toolchain %s)", toolchain, e.Config.Build.Toolchain)
	}
	opts := gobuild.Options{Dist: dist, Env: env, Relink: e.relink}
	if e.Verbose {
		opts.Verbose = stderr
	}
	var mu sync.Mutex
	pending := map[string]bool{}
	for _, b := range builds {
		for _, p := range b.Platforms {
			pending[b.Name+" "+p.String()] = true
		}
	}
	stop := stillBuilding(e, &mu, pending)
	defer stop()
	opts.Done = func(r gobuild.Result) {
		mu.Lock()
		defer mu.Unlock()
		delete(pending, r.Name+" "+r.Platform.String())
		if r.Err != nil {
			e.UI.Fail("%s %s  %s", r.Name, r.Platform, r.Duration.Round(10*time.Millisecond))
			return
		}
		took := r.Duration.Round(10 * time.Millisecond).String()
		if r.Relinked {
			took += ", relinked"
		}
		e.UI.OK("%s %s  %s  %s", r.Name, r.Platform, bytesize.Format(r.Size), ui.Faint(took))
	}
	results, buildErr := gobuild.Run(ctx, builds, opts)
	stop()

	rows := make([][]string, 0, len(results))
	for _, r := range results {
		status, size := ui.Green("ok"), bytesize.Format(r.Size)
		if r.Err != nil {
			status, size = ui.Red("FAILED"), "-"
		}
		rows = append(rows, []string{r.Name, r.Platform.String(), status, size, e.Rel(r.Path)})
	}
	e.UI.Heading("Build")
	e.UI.Table([]string{"BINARY", "PLATFORM", "STATUS", "SIZE", "PATH"}, rows)
	if buildErr != nil {
		return fmt.Errorf("build: %w", buildErr)
	}

	rec := &artifacts.Artifacts{Version: info.Version, Commit: info.Commit, Date: info.Date}
	for _, r := range results {
		b := artifacts.Binary{
			Name: r.Name, Platform: r.Platform, Path: e.Rel(r.Path), SHA256: r.SHA256, Size: r.Size,
			Main: r.Build.ImportPath, Linkage: string(r.Build.Linkage), Toolchain: toolchain, GlibcRuntime: r.GlibcRuntime,
		}
		for _, w := range r.Warnings {
			e.UI.Warn("%s %s: go build: %s", r.Name, r.Platform, w)
		}
		if r.Build.InModule {
			b.Dir = e.Rel(r.Build.PkgDir)
		} else {
			// Not this machine's module cache path: the module version says where it is.
			b.Module = r.Build.Module + "@" + r.Build.ModuleVersion
		}
		if p := pgoFile(r.Build); p != "" {
			b.PGO = e.Rel(p)
			if data, err := os.ReadFile(p); err == nil {
				b.PGOSHA256 = sha256Hex(data)
			}
		}
		rec.Binaries = append(rec.Binaries, b)
	}
	// What profiles were measured to buy outlives a rebuild: the provenance reads it.
	if prev, err := artifacts.Load(dist); err == nil {
		rec.PGOChecks = prev.PGOChecks
	}
	// Keep the previous record for Verify's size comparison.
	if prev, err := os.ReadFile(artifacts.Path(dist)); err == nil {
		if err := atomicfile.WriteFile(filepath.Join(dist, artifacts.PrevFileName), prev, 0o644); err != nil {
			return err
		}
	}
	return e.SetRecord(rec)
}

// pgoFile is the profile a build used: its explicit file, or default.pgo next to its main package.
func pgoFile(b *gobuild.Build) string {
	switch b.PGO {
	case "off":
		return ""
	case "", "auto":
		p := filepath.Join(b.PkgDir, "default.pgo")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return ""
	}
	return b.PGO
}

// ResolveBuilds turns the configured builds (or, with none, every main package of the module)
// into gobuild builds with rendered ldflags. It asks go and git once per Run.
func (e *Run) ResolveBuilds(ctx context.Context) ([]gobuild.Build, gobuild.Info, error) {
	e.mu.Lock()
	cached := e.builds
	e.mu.Unlock()
	if cached != nil {
		return cached.builds, cached.info, nil
	}
	builds, info, err := e.resolveAndRender(ctx)
	if err != nil {
		return nil, info, err
	}
	e.mu.Lock()
	e.builds = &resolvedBuilds{builds: builds, info: info}
	e.mu.Unlock()
	return builds, info, nil
}

func (e *Run) resolveAndRender(ctx context.Context) ([]gobuild.Build, gobuild.Info, error) {
	// git describes the checkout while go finds the packages.
	var info gobuild.Info
	var infoErr error
	described := make(chan struct{})
	go func() {
		defer close(described)
		info, infoErr = gobuild.Describe(ctx, e.Dir, secrets.Environ(), e.Config.Version, os.Getenv("SOURCE_DATE_EPOCH"))
	}()
	builds, err := e.resolveBuilds(ctx)
	<-described
	if err == nil {
		err = infoErr
	}
	if err != nil {
		return nil, info, err
	}
	var errs []error
	for i := range builds {
		prefix := fmt.Sprintf("builds[%d]", builds[i].Index)
		for j, l := range builds[i].Ldflags {
			out, err := gobuild.Render(l, info)
			if err != nil {
				errs = append(errs, e.Config.Errorf(fmt.Sprintf("%s.ldflags[%d]", prefix, j), "%v", err))
			}
			builds[i].Ldflags[j] = out
		}
	}
	return builds, info, errors.Join(errs...)
}

// resolveBuilds finds the configured builds' main packages, with their ldflags unrendered.
func (e *Run) resolveBuilds(ctx context.Context) ([]gobuild.Build, error) {
	var specs []gobuild.Spec
	if len(e.Config.Builds) == 0 {
		mains, err := gobuild.MainPackages(ctx, e.Dir)
		if err != nil {
			return nil, err
		}
		if len(mains) == 0 {
			if parent, ok := magefilesOf(ctx, e.Dir); ok {
				return nil, fmt.Errorf("no main package in %s, which is a magefiles module (its go.mod requires github.com/magefile/mage): run mage with -w .. so that scratchkit works on the service's module in %s, e.g. go tool mage -w .. image", e.Dir, parent)
			}
			return nil, fmt.Errorf("no main package in %s: add builds: [{main: ./cmd/<name>}] to %s", e.Dir, load.FileName)
		}
		byName := map[string]string{}
		for _, m := range mains {
			rel, err := filepath.Rel(e.Dir, m.Dir)
			if err != nil {
				return nil, err
			}
			main := "./" + filepath.ToSlash(rel)
			name := gobuild.DefaultName(m.ImportPath)
			if other, dup := byName[name]; dup {
				return nil, fmt.Errorf("main packages %s and %s would both be named %q: list them under builds: in %s with a name each", other, main, name, load.FileName)
			}
			byName[name] = main
			specs = append(specs, gobuild.Spec{Build: gobuild.Build{
				Main: main, Linkage: binary.LinkageStatic, PGO: "auto", Platforms: e.Config.PlatformsOf(-1),
			}})
		}
	} else {
		for i, b := range e.Config.Builds {
			prefix := fmt.Sprintf("builds[%d]", i)
			spec := gobuild.Spec{
				Build: gobuild.Build{
					Name: b.Name, Main: b.Main, Flags: b.Flags, Tags: b.Tags, Env: b.Env,
					Linkage: binary.Linkage(b.Linkage), CC: b.CC, PGO: b.PGO, Install: b.Install, Platforms: e.Config.PlatformsOf(i),
				},
				Where: func(key string) string { return e.Config.Where(prefix+"."+key) + ": " + prefix + "." + key },
			}
			spec.Dir = b.Dir
			if b.PGO != "auto" && b.PGO != "off" && b.PGO != "" {
				spec.PGO = e.Abs(b.PGO)
				if _, err := os.Stat(spec.PGO); err != nil {
					return nil, e.Config.Errorf(prefix+".pgo", "profile %s: %v; write auto, off or the path of a profile", b.PGO, err)
				}
			}
			spec.Ldflags = append([]string(nil), b.Ldflags...)
			spec.Index = i
			specs = append(specs, spec)
		}
	}
	builds, err := gobuild.Resolve(ctx, e.Dir, specs)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for i := range builds {
		e.dependencyPGO(&builds[i])
	}
	for _, b := range builds {
		if names[b.Name] {
			return nil, fmt.Errorf("two builds are named %q: give each build its own name in %s", b.Name, load.FileName)
		}
		names[b.Name] = true
	}
	return builds, nil
}

// BuildConfig returns the configured build of a name, or a zero one for discovered builds.
func (e *Run) BuildConfig(name string) config.Build {
	if i := e.buildIndex(name); i >= 0 {
		return e.Config.Builds[i]
	}
	return config.Build{Linkage: string(binary.LinkageStatic)}
}

// buildIndex is the position in builds: of the build called name (named, or after its main
// package), or -1.
func (e *Run) buildIndex(name string) int {
	for i, b := range e.Config.Builds {
		if b.Name == name {
			return i
		}
	}
	for i, b := range e.Config.Builds {
		if b.Name == "" && gobuild.DefaultName(strings.TrimPrefix(b.Main, "./")) == name {
			return i
		}
	}
	return -1
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// stillBuilding says every ten seconds which builds are still running (a first build compiles
// the standard library for each platform: minutes), until the returned func is called.
func stillBuilding(e *Run, mu *sync.Mutex, pending map[string]bool) (stop func()) {
	start := time.Now()
	return tick.Every(10*time.Second, func() {
		mu.Lock()
		names := sortedKeys(pending)
		mu.Unlock()
		if len(names) > 0 {
			e.UI.Info("… still building %s (%s)", strings.Join(names, ", "), time.Since(start).Round(time.Second))
		}
	})
}

// magefilesOf reports whether dir is the root of a magefiles module (a go.mod requiring mage)
// whose parent directory holds a module with a main package: the working directory mage runs
// scratchkit in when -w .. was left out. It returns that parent.
func magefilesOf(ctx context.Context, dir string) (string, bool) {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", false
	}
	mf, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		return "", false
	}
	mage := false
	for _, r := range mf.Require {
		mage = mage || r.Mod.Path == "github.com/magefile/mage"
	}
	for _, t := range mf.Tool {
		mage = mage || strings.HasPrefix(t.Path, "github.com/magefile/mage")
	}
	if !mage {
		return "", false
	}
	parent := filepath.Dir(dir)
	if _, err := os.Stat(filepath.Join(parent, "go.mod")); err != nil {
		return "", false
	}
	mains, err := gobuild.MainPackages(ctx, parent)
	return parent, err == nil && len(mains) > 0
}
