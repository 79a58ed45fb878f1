package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/publish"
)

// The large service: a module of its own whose main package runs Caddy with its standard
// modules (a well-known Go web server; a binary of about 40 MB stripped), as a team embedding
// it writes it. Its modules come from the module proxy once, untimed; its first build (minutes
// on 2 CPUs) is untimed too. A one-file change rewrites the version line of its main.go: main
// recompiles and the whole binary relinks.
const (
	largeModule  = "github.com/caddyserver/caddy/v2"
	largeVersion = "v2.11.9"
	largeName    = "bigsvc"
)

const largeMain = `// Command bigsvc is Caddy with its standard modules, as a service team embeds it.
package main

import (
	"fmt"
	"os"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var version = "devel"

func main() {
	if len(os.Args) == 2 && os.Args[1] == "bigsvc-version" {
		fmt.Println(version)
		return
	}
	caddycmd.Main()
}
`

// the ldflags scratchkit renders for both services (its -s -w, then the configured -X), given
// to ko as they are.
const benchLdflags = "-s -w -X main.version=devel"

// newLargeProject writes the large service's module to <tmp>/<name>/bigsvc and resolves its
// dependencies (go get, go mod tidy: the module proxy, untimed).
func (b *bench) newLargeProject(ctx context.Context, name string) (*project, error) {
	p := &project{b: b, dir: filepath.Join(b.tmp, name, largeName), skcache: filepath.Join(b.tmp, name, "scratchkit-cache")}
	for _, d := range []string{p.dir, p.skcache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	files := map[string]string{
		"go.mod":          "module example.com/" + largeName + "\n\ngo 1.26\n",
		"main.go":         largeMain,
		"scratchkit.yaml": "builds:\n  - name: " + largeName + "\n    main: .\n    ldflags: [\"-X main.version={{.Version}}\"]\n",
	}
	for f, body := range files {
		if err := os.WriteFile(filepath.Join(p.dir, f), []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	for _, args := range [][]string{{"get", largeModule + "@" + largeVersion}, {"mod", "tidy"}} {
		if _, err := output(b.command(ctx, p.dir, nil, "go", args...)); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// engineBinary builds the core engine from the measured source once, as the targets build it.
func (b *bench) engineBinary(ctx context.Context) (string, error) {
	out := filepath.Join(b.tmp, "engine", "scratchkit-core")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if _, err := output(b.command(ctx, b.src, nil, "go", "build", "-tags", "scratchkit_core", "-o", out, "./cmd/scratchkit")); err != nil {
		return "", err
	}
	return out, nil
}

// registryRef is the reference by digest the project's last Image pushed.
func registryRef(dir string) (string, error) {
	rec, err := artifacts.Load(filepath.Join(dir, "dist"))
	if err != nil {
		return "", err
	}
	for _, img := range rec.Images {
		if img.Destination == publish.Registry {
			return img.Ref, nil
		}
	}
	return "", fmt.Errorf("%s/dist/artifacts.json records no registry image", dir)
}

// koVariant is `ko build` of dir, pushing through its own proxy, with ko's defaults (sbom "")
// or --sbom=<sbom>.
func (b *bench) koVariant(name, dir, ko, koConfig, base, sbom string, px *proxy, prep func() error) *variant {
	return &variant{name: name, prep: prep, run: func(ctx context.Context) (sample, error) {
		args := []string{"build", "--bare", "--platform=linux/" + runtime.GOARCH}
		if sbom != "" {
			args = append(args, "--sbom="+sbom)
		}
		env := []string{"KO_DOCKER_REPO=" + px.host + "/ko/" + filepath.Base(dir), "KO_DEFAULTBASEIMAGE=" + px.host + "/base@" + base, "KO_CONFIG_PATH=" + koConfig}
		px.reset()
		d, err := run(b.command(ctx, dir, env, ko, append(args, ".")...))
		return sample{d: d, bytes: px.uploaded()}, err
	}}
}

// writeKoConfig writes a .ko.yaml outside the project holding scratchkit's ldflags.
func writeKoConfig(dir, id string) (string, error) {
	path := filepath.Join(dir, ".ko.yaml")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	body := fmt.Sprintf("builds:\n  - id: %s\n    main: .\n    ldflags: [%q]\n", id, benchLdflags)
	return path, os.WriteFile(path, []byte(body), 0o644)
}

// compareLarge times `scratchkit image` against `ko build` (with its defaults, and with
// --sbom=none) on the large service: a no-op and a one-file change.
func compareLarge(ctx context.Context, b *bench) error {
	fmt.Printf("\n## large: scratchkit image vs ko build %s on a large service (Caddy %s with its standard modules)\n", koVersion, largeVersion)
	ko, engine, registry, host, base, err := b.hostSetup(ctx)
	if err != nil {
		return err
	}
	p, err := b.newLargeProject(ctx, "large")
	if err != nil {
		return err
	}
	koConfig, err := writeKoConfig(filepath.Join(b.tmp, "large", "ko-config"), largeName)
	if err != nil {
		return err
	}
	pxs := map[string]*proxy{}
	for _, n := range []string{"sk", "ko", "ko-none"} {
		if pxs[n], err = b.startProxy(registry); err != nil {
			return err
		}
	}
	sk := &variant{name: "scratchkit image", run: func(ctx context.Context) (sample, error) {
		env := []string{"SCRATCHKIT_CACHE=" + p.skcache, "SCRATCHKIT_IMAGE_REPO=" + pxs["sk"].host + "/sk", "SCRATCHKIT_IMAGE_BASE=" + pxs["sk"].host + "/base@" + base.String(), "SCRATCHKIT_PLATFORMS=" + host}
		pxs["sk"].reset()
		d, err := run(b.command(ctx, p.dir, env, engine, "image"))
		return sample{d: d, bytes: pxs["sk"].uploaded()}, err
	}}
	koDefault := b.koVariant("ko build (defaults: SPDX SBOM pushed)", p.dir, ko, koConfig, base.String(), "", pxs["ko"], nil)
	koNone := b.koVariant("ko build --sbom=none", p.dir, ko, koConfig, base.String(), "none", pxs["ko-none"], nil)

	// The first build of the large service, untimed: its packages into the Go cache.
	fmt.Fprintf(os.Stderr, "compare: large: first build of %s (untimed; minutes)\n", largeName)
	if _, err := sk.run(ctx); err != nil {
		return err
	}
	bin := filepath.Join(p.dir, "dist", largeName, "linux_"+runtime.GOARCH, largeName)
	fi, err := os.Stat(bin)
	if err != nil {
		return err
	}
	fmt.Printf("\nservice: example.com/%s, main package over %s@%s; binary %s (stripped, as both tools build it); ldflags %q; base: scratchkit's static base pushed as %s/base@%s\n",
		largeName, largeModule, largeVersion, formatBytes(float64(fi.Size())), benchLdflags, registry, base)
	fmt.Printf("scratchkit: the core engine alone (`scratchkit image`: build, verify, image; SPDX SBOM written to dist/sbom, not pushed)\n")

	var rows, bytes []row
	for _, c := range []struct {
		row    string
		change bool
	}{{"no-op", false}, {"one-file change", true}} {
		var prep func() error
		if c.change {
			prep = p.stamp
		}
		sk.prep, koDefault.prep, koNone.prep = prep, prep, prep
		res, err := b.alternate(ctx, "large "+c.row, b.opts.n, !c.change, sk, koDefault, koNone)
		if err != nil {
			return err
		}
		rows = append(rows,
			row{name: c.row + ": vs ko with its defaults", sk: durations(res[sk.name]), other: durations(res[koDefault.name])},
			row{name: c.row + ": vs ko --sbom=none", sk: durations(res[sk.name]), other: durations(res[koNone.name])})
		bytes = append(bytes,
			row{name: c.row + ": vs ko with its defaults", sk: uploads(res[sk.name]), other: uploads(res[koDefault.name]), unit: byteSize},
			row{name: c.row + ": vs ko --sbom=none", sk: uploads(res[sk.name]), other: uploads(res[koNone.name]), unit: byteSize})
	}
	printTable("large: wall time, medians (ratio = scratchkit / ko)", "scratchkit image", "ko build", rows)
	printTable("large: bytes uploaded per run, medians", "scratchkit image", "ko build", bytes)
	return nil
}

// devRun is a `scratchkit dev` process pushing each cycle's image; it reads the digests the
// process prints.
type devRun struct {
	cmd    *exec.Cmd
	pushed chan string // the reference of each pushed image, in order
	log    *strings.Builder
}

var pushedLine = regexp.MustCompile(`dev: cycle [0-9]+: \S+ pushed (\S+@sha256:[0-9a-f]{64})`)

func (b *bench) startDev(ctx context.Context, dir string, env []string, engine string) (*devRun, error) {
	cmd := b.command(context.WithoutCancel(ctx), dir, env, engine, "dev")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	d := &devRun{cmd: cmd, pushed: make(chan string, 16), log: &strings.Builder{}}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.log.WriteString(sc.Text() + "\n")
			if m := pushedLine.FindStringSubmatch(sc.Text()); m != nil {
				d.pushed <- m[1]
			}
		}
		close(d.pushed)
	}()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b.cleanups = append(b.cleanups, func() error {
		d.stop()
		pw.Close()
		return nil
	})
	return d, nil
}

// next waits for the next pushed reference.
func (d *devRun) next(ctx context.Context) (string, error) {
	select {
	case ref, ok := <-d.pushed:
		if !ok {
			return "", fmt.Errorf("scratchkit dev ended:\n%s", tail(d.log.String(), 40))
		}
		return ref, nil
	case <-time.After(10 * time.Minute):
		return "", fmt.Errorf("scratchkit dev pushed nothing for 10 minutes:\n%s", tail(d.log.String(), 40))
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (d *devRun) stop() {
	if d.cmd.Process != nil && d.cmd.ProcessState == nil {
		d.cmd.Process.Signal(syscall.SIGINT)
		d.cmd.Wait()
	}
}

// hostSetup is what the large and dev cases share: ko at koVersion, the core engine, a registry,
// and scratchkit's static base for the host's platform pushed there by digest.
func (b *bench) hostSetup(ctx context.Context) (ko, engine, registry, host string, base v1.Hash, err error) {
	if ko, err = b.koTool(ctx); err != nil {
		return
	}
	if engine, err = b.engineBinary(ctx); err != nil {
		return
	}
	if registry, err = b.startRegistry(ctx); err != nil {
		return
	}
	host = "linux/" + runtime.GOARCH
	base, err = pushBase(ctx, registry, []string{host})
	return
}

// compareDev times `scratchkit dev` (dev.run: push) from the save of a one-file change to the
// pushed digest it prints, against `ko build` after the same change (a copy of the project of
// its own, so that dev never sees ko's changes), on the example and on the large service.
func compareDev(ctx context.Context, b *bench) error {
	fmt.Printf("\n## dev: save to pushed digest, scratchkit dev vs ko build %s after the same change\n", koVersion)
	ko, engine, registry, host, base, err := b.hostSetup(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("\nscratchkit dev: SCRATCHKIT_DEV_RUN=push, the core engine; a cycle is timed from just before the bench writes main.go to the moment it reads dev's line with the new digest\n")
	fmt.Printf("ko: ko build --bare --platform=%s . after the same change in its own copy, with its defaults and with --sbom=none; ldflags %q\n", host, benchLdflags)
	var rows []row
	var goals []func()
	for _, svc := range []struct {
		name  string
		large bool
		goal  float64
	}{{"hello", false, 0.6}, {largeName, true, 0.5}} {
		mk := func(copy string) (*project, error) {
			if svc.large {
				return b.newLargeProject(ctx, "dev-"+copy)
			}
			p, err := b.newProject("dev-" + copy)
			if err != nil {
				return nil, err
			}
			// dev and ko see the service alone, not a magefiles module in it.
			return p, os.RemoveAll(filepath.Join(p.dir, "magefiles"))
		}
		devP, err := mk(svc.name + "-dev")
		if err != nil {
			return err
		}
		koP, err := mk(svc.name + "-ko")
		if err != nil {
			return err
		}
		koConfig, err := writeKoConfig(filepath.Join(b.tmp, "dev-"+svc.name+"-ko-config"), svc.name)
		if err != nil {
			return err
		}
		skPx, err := b.startProxy(registry)
		if err != nil {
			return err
		}
		koPx, err := b.startProxy(registry)
		if err != nil {
			return err
		}
		koNonePx, err := b.startProxy(registry)
		if err != nil {
			return err
		}
		env := []string{"SCRATCHKIT_CACHE=" + devP.skcache, "SCRATCHKIT_DEV_RUN=push", "SCRATCHKIT_IMAGE_REPO=" + skPx.host + "/dev", "SCRATCHKIT_IMAGE_BASE=" + skPx.host + "/base@" + base.String()}
		fmt.Fprintf(os.Stderr, "compare: dev %s: first cycle (untimed)\n", svc.name)
		dev, err := b.startDev(ctx, devP.dir, env, engine)
		if err != nil {
			return err
		}
		last, err := dev.next(ctx)
		if err != nil {
			return err
		}
		devV := &variant{name: "scratchkit dev", run: func(ctx context.Context) (sample, error) {
			skPx.reset()
			start := time.Now()
			if err := devP.stamp(); err != nil {
				return sample{}, err
			}
			ref, err := dev.next(ctx)
			s := sample{d: time.Since(start), bytes: skPx.uploaded()}
			if err == nil && ref == last {
				err = fmt.Errorf("dev pushed %s again after a change", ref)
			}
			last = ref
			return s, err
		}}
		koDefault := b.koVariant("ko build (defaults)", koP.dir, ko, koConfig, base.String(), "", koPx, koP.stamp)
		koNone := b.koVariant("ko build --sbom=none", koP.dir, ko, koConfig, base.String(), "none", koNonePx, koP.stamp)
		// ko's first build of its copy, untimed (the Go cache is shared with dev's copy).
		if _, err := koNone.run(ctx); err != nil {
			return err
		}
		res, err := b.alternate(ctx, "dev "+svc.name, b.opts.n, false, devV, koDefault, koNone)
		dev.stop()
		if err != nil {
			return err
		}
		rows = append(rows,
			row{name: svc.name + ": vs ko with its defaults", sk: durations(res[devV.name]), other: durations(res[koDefault.name])},
			row{name: svc.name + ": vs ko --sbom=none", sk: durations(res[devV.name]), other: durations(res[koNone.name])})
		g, skRuns, koRuns := svc.goal, durations(res[devV.name]), durations(res[koDefault.name])
		what := svc.name + ": `scratchkit dev` save to pushed digest / `ko build` (defaults)"
		goals = append(goals, func() { goal(what, skRuns, koRuns, g) })
	}
	printTable("dev: one-file change to pushed digest, medians (ratio = scratchkit dev / ko build)", "scratchkit dev", "ko build", rows)
	fmt.Println()
	for _, g := range goals {
		g()
	}
	return nil
}
