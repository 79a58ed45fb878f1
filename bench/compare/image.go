package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
)

// koVersion is the ko CLI compared against: the line scratchkit's publishers come from.
const koVersion = "v0.19.1"

// koTool returns the ko CLI at koVersion, installing it with go install when it is absent.
func (b *bench) koTool(ctx context.Context) (string, error) {
	dir := b.opts.tools
	if dir == "" {
		dir = os.Getenv("SCRATCHKIT_TOOLS")
	}
	if dir == "" {
		dir = filepath.Join(b.root, ".ci", "bin")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	ko := filepath.Join(dir, "ko")
	if out, err := exec.CommandContext(ctx, ko, "version").Output(); err == nil && strings.TrimSpace(string(out)) == koVersion {
		return ko, nil
	}
	fmt.Fprintf(os.Stderr, "compare: installing ko %s into %s\n", koVersion, dir)
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/google/ko@"+koVersion)
	cmd.Dir = b.tmp
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("install ko %s into %s: %w\n%s", koVersion, dir, err, out)
	}
	return ko, nil
}

// pushBase builds scratchkit's static base for each platform in-process, joins the images in
// an index and pushes it to the registry, returning its digest.
func pushBase(ctx context.Context, registry string, platforms []string) (v1.Hash, error) {
	goroot, err := image.GoRoot(ctx)
	if err != nil {
		return v1.Hash{}, err
	}
	var entries []image.IndexEntry
	for _, s := range platforms {
		p, err := platform.Parse(s)
		if err != nil {
			return v1.Hash{}, err
		}
		img, err := image.StaticBase(ctx, goroot, p.OCI())
		if err != nil {
			return v1.Hash{}, fmt.Errorf("static base %s: %w", p, err)
		}
		entries = append(entries, image.IndexEntry{Platform: p, Image: img})
	}
	idx, err := image.MergeIndex(nil, entries...)
	if err != nil {
		return v1.Hash{}, err
	}
	ref, err := name.ParseReference(registry + "/base:static")
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx)); err != nil {
		return v1.Hash{}, fmt.Errorf("push the base to %s: %w", ref, err)
	}
	return idx.Digest()
}

// imageSize is what a pushed image costs per platform: compressed layers plus config.
type imageSize struct {
	bytes  int64
	layers int
}

// sizes reads the manifest(s) of a pushed reference.
func sizes(ctx context.Context, ref string) (map[string]imageSize, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", ref, err)
	}
	out := map[string]imageSize{}
	one := func(img v1.Image, platform string) error {
		m, err := img.Manifest()
		if err != nil {
			return err
		}
		s := imageSize{bytes: m.Config.Size, layers: len(m.Layers)}
		for _, l := range m.Layers {
			s.bytes += l.Size
		}
		out[platform] = s
		return nil
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, m := range im.Manifests {
			if m.Platform == nil {
				continue // e.g. an attestation manifest
			}
			img, err := idx.Image(m.Digest)
			if err != nil {
				return nil, err
			}
			if err := one(img, m.Platform.String()); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	img, err := desc.Image()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	return out, one(img, cf.Platform().String())
}

// imageTool is one tool pushing the example through its own counting proxy.
type imageTool struct {
	name  string
	proxy *proxy
	last  string // the reference pushed last
	// run pushes the image for platforms; cold, when set, holds empty caches for the run.
	run func(ctx context.Context, platforms string, cold *coldCaches) (string, error)
}

// variant makes the row variant of the tool: platforms, fresh empty caches per run when cold.
func (t *imageTool) variant(b *bench, platforms string, cold bool, prep func() error) *variant {
	return &variant{name: t.name, prep: prep, run: func(ctx context.Context) (sample, error) {
		var caches *coldCaches
		if cold {
			c, err := b.freshCaches(strings.NewReplacer(" ", "-", "+", "", "`", "").Replace(t.name))
			if err != nil {
				return sample{}, err
			}
			defer os.RemoveAll(c.root)
			caches = c
		}
		t.proxy.reset()
		var s sample
		start := time.Now()
		ref, err := t.run(ctx, platforms, caches)
		s.d = time.Since(start)
		s.bytes = t.proxy.uploaded()
		t.last = ref
		return s, err
	}}
}

// compareImage times `mage image` against `ko build` to the same registry on the same base.
func compareImage(ctx context.Context, b *bench) error {
	fmt.Printf("\n## image: mage image vs ko build %s\n", koVersion)
	ko, err := b.koTool(ctx)
	if err != nil {
		return err
	}
	registry, err := b.startRegistry(ctx)
	if err != nil {
		return err
	}
	host := "linux/" + runtime.GOARCH
	both := []string{"linux/amd64", "linux/arm64"}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		both = []string{host, "linux/amd64"}
	}
	baseDigest, err := pushBase(ctx, registry, both)
	if err != nil {
		return err
	}
	p, err := b.newProject("image")
	if err != nil {
		return err
	}
	// The first mage run builds the core engine into the project's empty SCRATCHKIT_CACHE
	// (untimed) and prints the go build line; ko gets the ldflags scratchkit passes, from a
	// .ko.yaml outside the project (KO_CONFIG_PATH), so scratchkit does not read it.
	g, err := p.firstBuild(ctx, []string{"SCRATCHKIT_PLATFORMS=" + host})
	if err != nil {
		return err
	}
	koConfig := filepath.Join(b.tmp, "image", "ko-config", ".ko.yaml")
	if err := os.MkdirAll(filepath.Dir(koConfig), 0o755); err != nil {
		return err
	}
	koYAML := fmt.Sprintf("builds:\n  - id: hello\n    main: .\n    ldflags: [%q]\n", g.ldflags())
	if err := os.WriteFile(koConfig, []byte(koYAML), 0o644); err != nil {
		return err
	}
	if err := p.compile(ctx); err != nil {
		return err
	}

	newTool := func(name string) (*imageTool, error) {
		px, err := b.startProxy(registry)
		if err != nil {
			return nil, err
		}
		return &imageTool{name: name, proxy: px}, nil
	}
	skEnv := func(t *imageTool, repo, platforms string, extra []string) []string {
		return append([]string{
			"SCRATCHKIT_IMAGE_REPO=" + t.proxy.host + "/" + repo,
			"SCRATCHKIT_IMAGE_BASE=" + t.proxy.host + "/base@" + baseDigest.String(),
			"SCRATCHKIT_PLATFORMS=" + platforms,
		}, extra...)
	}
	pushed := func() (string, error) {
		rec, err := artifacts.Load(filepath.Join(p.dir, "dist"))
		if err != nil {
			return "", err
		}
		for _, img := range rec.Images {
			if img.Destination == publish.Registry {
				return img.Ref, nil
			}
		}
		return "", fmt.Errorf("dist/artifacts.json records no registry image")
	}
	// scratchkit's ways in: mage (cold: every cache empty, so mage compiles the magefile and the
	// targets build the engine), go tool mage (cold: the go command also builds mage), the
	// compiled magefile (mage's parse and build left out), and the engine alone (prebuilt; cold:
	// an empty GOCACHE only).
	skTool := func(name, repo string, cmd func(ctx context.Context, env []string) *exec.Cmd, coldEnv func(*coldCaches) []string) (*imageTool, error) {
		t, err := newTool(name)
		if err != nil {
			return nil, err
		}
		t.run = func(ctx context.Context, platforms string, cold *coldCaches) (string, error) {
			var extra []string
			if cold != nil {
				extra = coldEnv(cold)
			}
			if _, err := run(cmd(ctx, skEnv(t, repo, platforms, extra))); err != nil {
				return "", err
			}
			return pushed()
		}
		return t, nil
	}
	allEmpty := func(c *coldCaches) []string { return c.env() }
	goCacheOnly := func(c *coldCaches) []string { return []string{"GOCACHE=" + c.gocache} }
	mageTool, err := skTool("mage image", "sk-mage", func(ctx context.Context, env []string) *exec.Cmd { return p.mage(ctx, env, "image") }, allEmpty)
	if err != nil {
		return err
	}
	goToolTool, err := skTool("go tool mage image", "sk-gotool", func(ctx context.Context, env []string) *exec.Cmd { return p.goToolMage(ctx, env, "image") }, allEmpty)
	if err != nil {
		return err
	}
	directTool, err := skTool("compiled magefile image", "sk-compiled", func(ctx context.Context, env []string) *exec.Cmd { return p.direct(ctx, env, "image") }, allEmpty)
	if err != nil {
		return err
	}
	engineTool, err := skTool("scratchkit image", "sk-engine", func(ctx context.Context, env []string) *exec.Cmd { return p.engineCmd(ctx, env, "image") }, goCacheOnly)
	if err != nil {
		return err
	}

	refs := filepath.Join(b.tmp, "image", "ko-refs")
	koBuild := func(ctx context.Context, t *imageTool, koBin, repo, platforms string, extra []string) (string, error) {
		env := append([]string{
			"KO_DOCKER_REPO=" + t.proxy.host + "/" + repo,
			"KO_DEFAULTBASEIMAGE=" + t.proxy.host + "/base@" + baseDigest.String(),
			"KO_CONFIG_PATH=" + koConfig,
		}, extra...)
		cmd := b.command(ctx, p.dir, env, koBin, "build", "--bare", "--sbom="+b.opts.koSBOM, "--platform="+platforms, "--image-refs="+refs, ".")
		if _, err := run(cmd); err != nil {
			return "", err
		}
		data, err := os.ReadFile(refs)
		if err != nil {
			return "", err
		}
		// An index comes first, then its platform images.
		first, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
		return first, nil
	}
	koTool, err := newTool("ko build")
	if err != nil {
		return err
	}
	koTool.run = func(ctx context.Context, platforms string, cold *coldCaches) (string, error) {
		var extra []string
		if cold != nil {
			extra = goCacheOnly(cold)
		}
		return koBuild(ctx, koTool, ko, "ko/hello", platforms, extra)
	}
	// A CI job without ko: go install it, then ko build, both in the same empty GOCACHE.
	koInstallTool, err := newTool("go install ko + ko build")
	if err != nil {
		return err
	}
	koInstallTool.run = func(ctx context.Context, platforms string, cold *coldCaches) (string, error) {
		if cold == nil {
			return "", fmt.Errorf("go install ko + ko build is a cold-row variant only")
		}
		install := b.command(ctx, b.tmp, []string{"GOCACHE=" + cold.gocache, "GOBIN=" + cold.gobin}, "go", "install", "github.com/google/ko@"+koVersion)
		if _, err := run(install); err != nil {
			return "", err
		}
		return koBuild(ctx, koInstallTool, filepath.Join(cold.gobin, "ko"), "ko-installed/hello", platforms, goCacheOnly(cold))
	}

	fmt.Printf("\nregistry: docker-registry on %s, one counting proxy per tool; base: scratchkit's static base for %s pushed as %s/base@%s, given to both\n",
		registry, strings.Join(both, ", "), registry, baseDigest)
	fmt.Printf("ko: %s build --bare --sbom=%s --platform=... ., KO_CONFIG_PATH .ko.yaml: builds: [{main: ., ldflags: [%q]}] (ko adds -trimpath, CGO_ENABLED=0)\n", ko, b.opts.koSBOM, g.ldflags())
	fmt.Printf("scratchkit: image.sbom spdx (default: SPDX written to dist/sbom, not pushed); mage image runs build, verify and image in the core engine %s\n", p.engine)
	fmt.Printf("cold runs: empty GOCACHE (and for mage, empty SCRATCHKIT_CACHE and MAGEFILE_CACHE; for go install ko, an empty GOBIN); the module cache (GOMODCACHE) stays warm\n")

	type result struct {
		row  string
		cold bool
		res  map[string][]sample
	}
	var results []result
	measure := func(row string, n int, warm bool, platforms string, cold bool, change bool, tools ...*imageTool) error {
		var vs []*variant
		for _, t := range tools {
			var prep func() error
			switch {
			case change:
				prep = p.stamp
			case cold:
				// A CI job's first run has no dist/: no earlier binary for go build to find up
				// to date (which would skip the compile of main and the link).
				prep = func() error { return os.RemoveAll(filepath.Join(p.dir, "dist")) }
			}
			vs = append(vs, t.variant(b, platforms, cold, prep))
		}
		if cold {
			fmt.Fprintf(os.Stderr, "compare: image: %s, %d run(s) per variant, each with empty caches (minutes)\n", row, n)
		}
		res, err := b.alternate(ctx, "image "+row, n, warm, vs...)
		if err != nil {
			return err
		}
		results = append(results, result{row: row, cold: cold, res: res})
		return nil
	}
	n := b.opts.n
	if b.opts.cold {
		// Untimed: make sure the module cache holds ko's modules, so go install measures a build,
		// not a download (scratchkit's modules are there already: the engine was built above).
		warmKo := b.command(ctx, b.tmp, []string{"GOBIN=" + filepath.Join(b.tmp, "image", "ko-warm")}, "go", "install", "github.com/google/ko@"+koVersion)
		if _, err := run(warmKo); err != nil {
			return err
		}
		if err := measure("cold cache", b.opts.coldN, false, host, true, false, mageTool, goToolTool, engineTool, koInstallTool, koTool); err != nil {
			return err
		}
	}
	warmTools := []*imageTool{mageTool, goToolTool, directTool, engineTool, koTool}
	if err := measure("warm no-op", n, true, host, false, false, warmTools...); err != nil {
		return err
	}
	if err := measure("one-file change", n, false, host, false, true, warmTools...); err != nil {
		return err
	}
	if err := measure("two platforms, no-op", n, true, strings.Join(both, ","), false, false, warmTools...); err != nil {
		return err
	}
	if err := measure("two platforms, one-file change", n, false, strings.Join(both, ","), false, true, warmTools...); err != nil {
		return err
	}

	var times, bytes []row
	var goals []func()
	for _, r := range results {
		koRuns := durations(r.res[koTool.name])
		sk := func(t *imageTool) []float64 { return durations(r.res[t.name]) }
		if r.cold {
			installed := durations(r.res[koInstallTool.name])
			times = append(times,
				row{name: r.row + ": `mage image` vs `go install ko` + `ko build`", sk: sk(mageTool), other: installed},
				row{name: r.row + ": `go tool mage image` vs `go install ko` + `ko build`", sk: sk(goToolTool), other: installed},
				row{name: r.row + ": `mage image` vs `ko build` (ko preinstalled)", sk: sk(mageTool), other: koRuns},
				row{name: r.row + ": engine alone, `scratchkit image` (engine prebuilt) vs `ko build` (ko preinstalled)", sk: sk(engineTool), other: koRuns})
			// Later cold runs push what the first one did; only the first push says something.
			bytes = append(bytes, row{name: r.row + " (first push)", sk: uploads(r.res[mageTool.name][:1]), other: uploads(r.res[koTool.name][:1]), unit: byteSize})
			goals = append(goals, func() {
				goal("`mage image` from empty caches / `go install ko` + `ko build` from an empty GOCACHE", sk(mageTool), installed, 0.75)
			})
			continue
		}
		times = append(times,
			row{name: r.row + ": `mage image`", sk: sk(mageTool), other: koRuns},
			row{name: r.row + ": `go tool mage image`", sk: sk(goToolTool), other: koRuns},
			row{name: r.row + ": compiled magefile `image` (launch + engine)", sk: sk(directTool), other: koRuns},
			row{name: r.row + ": engine alone, `scratchkit image`", sk: sk(engineTool), other: koRuns})
		bytes = append(bytes, row{name: r.row, sk: uploads(r.res[mageTool.name]), other: uploads(r.res[koTool.name]), unit: byteSize})
		switch r.row {
		case "warm no-op":
			goals = append(goals, func() { goal("warm no-op `mage image` / `ko build`", sk(mageTool), koRuns, 0.5) })
		case "one-file change":
			goals = append(goals, func() { goal("one-file change `mage image` / `ko build`", sk(mageTool), koRuns, 0.8) })
		}
	}
	printTable(fmt.Sprintf("image: wall time, medians (ratio = scratchkit / ko; ko --sbom=%s, scratchkit SBOM on)", b.opts.koSBOM), "scratchkit", "ko", times)
	fmt.Println()
	for _, r := range results {
		if r.cold {
			printRuns(r.row, r.res, mageTool.name, goToolTool.name, engineTool.name, koInstallTool.name, koTool.name)
		}
	}
	for _, g := range goals {
		g()
	}
	printTable("image: bytes uploaded to the registry per run (blob upload and manifest bodies), medians", "mage image", "ko build", bytes)

	// Sizes of the images pushed last, in the two-platform rows (the single-platform rows give
	// the same per-platform images).
	skSizes, err := sizes(ctx, mageTool.last)
	if err != nil {
		return err
	}
	koSizes, err := sizes(ctx, koTool.last)
	if err != nil {
		return err
	}
	var sizeRows []row
	var platforms []string
	for pl := range skSizes {
		platforms = append(platforms, pl)
	}
	sort.Strings(platforms)
	for _, pl := range platforms {
		sk, other := skSizes[pl], koSizes[pl]
		sizeRows = append(sizeRows,
			row{name: pl + ": compressed layers + config", sk: []float64{float64(sk.bytes)}, other: []float64{float64(other.bytes)}, unit: exactBytes},
			row{name: pl + ": layers", sk: []float64{float64(sk.layers)}, other: []float64{float64(other.layers)}, unit: count})
	}
	printTable("image: size of the pushed images (from the manifests)", "mage image", "ko build", sizeRows)
	fmt.Printf("\nlast pushed: scratchkit %s\n             ko         %s\n", mageTool.last, koTool.last)
	return nil
}
