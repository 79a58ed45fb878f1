package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/internal/regtransport"
	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/config/load"
	"github.com/scratchkit/scratchkit/targets/lint"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/run"
)

// Smoke checks every image Image recorded on its own filesystem and runs it in a real container
// (docker, else runc) with its probes, the way production would run it.
// It runs after Image.
func (e *Run) Smoke(ctx context.Context) error {
	if err := e.Image(ctx); err != nil {
		return err
	}
	return e.Stage(ctx, StageSmoke, e.smoke)
}

func (e *Run) smoke(ctx context.Context) error {
	rec, err := e.Record()
	if err != nil {
		return err
	}
	if len(rec.Images) == 0 {
		return fmt.Errorf("smoke: artifacts.json records no image: run mage image")
	}
	names := map[string]bool{}
	for _, img := range rec.Images {
		names[img.Name] = true
	}
	for _, n := range sortedKeys(e.Config.Smoke.Images) {
		if !names[n] {
			return e.Config.Errorf("smoke.images."+n, "no image is named %q, so its probes would never run; images: %s", n, strings.Join(sortedKeys(names), ", "))
		}
	}
	var reports []run.Report
	rec.Smoke = nil
	failed := 0
	for _, img := range smokeCandidates(rec.Images) {
		art, cleanup, err := e.openImage(ctx, img)
		if err != nil {
			return fmt.Errorf("smoke %s: %w", img.Name, err)
		}
		opts := e.smokeOptions(img)
		rep, err := run.Smoke(ctx, img.Name, art, opts)
		cleanup()
		if err != nil {
			if rep == nil {
				return fmt.Errorf("smoke %s: %w", img.Name, err)
			}
			reports = append(reports, *rep)
			render.SmokeReport(e.UI.Out, reports)
			return fmt.Errorf("smoke %s: %w", img.Name, err)
		}
		reports = append(reports, *rep)
		if rep.Failed() {
			failed++
		}
		for _, p := range rep.Platforms {
			rec.Smoke = append(rec.Smoke, smokeRecord(img.Name, p))
		}
	}
	e.UI.Heading("Smoke")
	if err := render.SmokeReport(e.UI.Out, reports); err != nil {
		return err
	}
	if err := e.Save(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("smoke: %s of %d would fail in production; the diagnosis is above", plural(failed, "image", "images"), len(reports))
	}
	for _, r := range reports {
		if n := r.NotRun(); len(n) > 0 {
			e.UI.Warn("%s: %s only statically checked, not run: artifacts.json records it with \"ran\": false", r.Name, strings.Join(platform.Strings(n), ", "))
		}
	}
	return nil
}

// smokeRecord is the artifacts.json entry of one platform's smoke test. A platform that was not
// run is recorded as such, with the reason, and never as passed.
func smokeRecord(image string, p run.PlatformReport) artifacts.Smoke {
	s := artifacts.Smoke{Image: image, Digest: p.Digest, Platform: p.Platform, Ran: p.Ran, Runtime: p.Runtime, Passed: p.Ran && !p.Failed(), Error: p.Error}
	if !p.Ran {
		s.Reason = p.Reason
	}
	for _, f := range p.Findings {
		if f.Status == binary.StatusFail {
			s.Checks = append(s.Checks, f.Check)
		}
	}
	for _, pr := range p.Probes {
		if !pr.Passed {
			s.Checks = append(s.Checks, "probe "+pr.Label())
		}
	}
	return s
}

// smokeCandidates picks one record per image, preferring where it is read exactly as it shipped:
// a registry, then the layout, the tarball, the daemon. Every destination of one Image run holds
// the same image (the tarball and the daemon only its host platform), so smoking one is enough;
// per-platform registry records are different images, one per platform, and are each kept.
func smokeCandidates(images []artifacts.Image) []artifacts.Image {
	rank := map[string]int{publish.Registry: 0, publish.RegistryPlatform: 0, publish.Layout: 1, publish.Tarball: 2, publish.Daemon: 3, publish.Kind: 4}
	best := map[string]int{}
	var out []artifacts.Image
	for _, img := range images {
		key := img.Name
		if img.Destination == publish.RegistryPlatform {
			key += "@" + img.Digest
		}
		if i, ok := best[key]; ok {
			if rank[img.Destination] < rank[out[i].Destination] {
				out[i] = img
			}
			continue
		}
		best[key] = len(out)
		out = append(out, img)
	}
	return out
}

// openImage reads a recorded image back from where it was published, by digest.
func (e *Run) openImage(ctx context.Context, img artifacts.Image) (run.Artifact, func(), error) {
	none := func() {}
	h, err := v1.NewHash(img.Digest)
	if err != nil {
		return nil, none, fmt.Errorf("recorded digest %q: %w", img.Digest, err)
	}
	switch img.Destination {
	case publish.Registry, publish.RegistryPlatform:
		ref, err := name.NewDigest(img.Ref, regtransport.NameOptions(e.Config.Image.Insecure)...)
		if err != nil {
			return nil, none, err
		}
		desc, err := remote.Get(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain),
			remote.WithTransport(regtransport.New(nil, e.Config.Image.Insecure, regtransport.WithTimeouts(regtransport.Timeouts{Response: e.Config.Image.ResponseTimeout.D(), Request: e.Config.Image.RequestTimeout.D()}))))
		if err != nil {
			return nil, none, fmt.Errorf("read %s back from the registry: %w", img.Ref, err)
		}
		if desc.MediaType.IsIndex() {
			a, err := desc.ImageIndex()
			return a, none, err
		}
		a, err := desc.Image()
		return a, none, err
	case publish.Layout:
		p, err := layout.FromPath(e.LayoutDir())
		if err != nil {
			return nil, none, fmt.Errorf("read the layout: %w", err)
		}
		if idx, err := p.ImageIndex(); err == nil {
			if m, err := idx.IndexManifest(); err == nil {
				for _, d := range m.Manifests {
					if d.Digest == h && d.MediaType.IsIndex() {
						a, err := idx.ImageIndex(h)
						return a, none, err
					}
				}
			}
			a, err := idx.Image(h)
			return a, none, err
		}
		return nil, none, fmt.Errorf("the layout at %s has no %s", p, h)
	case publish.Tarball:
		a, err := tarball.ImageFromPath(e.Abs(img.Ref), nil)
		if err != nil {
			a, err = tarball.ImageFromPath(filepath.Join(e.DistDir(), img.Name+".tar"), nil)
		}
		return a, none, err
	case publish.Daemon:
		// docker save, then read the tarball: no docker client library in this package.
		dir, err := os.MkdirTemp("", "scratchkit-smoke-")
		if err != nil {
			return nil, none, err
		}
		cleanup := func() { os.RemoveAll(dir) }
		tar := filepath.Join(dir, "image.tar")
		cmd := exec.CommandContext(ctx, "docker", "save", "-o", tar, img.Ref)
		cmd.Env = secrets.Environ()
		if out, err := cmd.CombinedOutput(); err != nil {
			cleanup()
			return nil, none, fmt.Errorf("docker save %s: %v: %s", img.Ref, err, out)
		}
		a, err := tarball.ImageFromPath(tar, nil)
		return a, cleanup, err
	}
	return nil, none, fmt.Errorf("images published to %s cannot be read back for a smoke test", img.Destination)
}

// smokeOptions maps the smoke: configuration and the image's record onto the engine's options.
func (e *Run) smokeOptions(img artifacts.Image) run.Options {
	s := e.Config.Smoke
	o := run.Options{
		Policy: lint.Policy{
			AllowRoot: s.AllowRoot, Debug: s.Debug, BaseRef: img.Base, AllowUnpinned: e.Config.Image.AllowUnpinned,
			BinarySHA256: map[platform.Platform]string{},
		},
		Runtime: s.Runtime, Memory: int64(s.Memory), Timeout: s.Timeout.D(), StopTimeout: s.StopTimeout.D(), StopExit: s.StopExit, NoEmulation: s.Emulation == "off",
		Network: s.Network, Pids: s.Pids, Env: s.Env, CacheDir: e.CacheDir(),
		Log: func(f string, a ...any) { e.UI.Info(f, a...) },
	}
	o.CapAdd, _ = run.Capabilities(s.CapAdd) // validated
	for _, m := range img.Manifests {
		o.BinarySHA256[m.Platform] = m.Binary
	}
	for _, t := range s.Tmpfs {
		mode, _ := strconv.ParseUint(t.Mode, 8, 32) // validated
		o.Tmpfs = append(o.Tmpfs, run.Tmpfs{Path: t.Path, Size: int64(t.Size), Mode: uint32(mode)})
	}
	if p, ok := s.Images[img.Name]; ok {
		o.Probes = load.Probes(p)
	}
	return o
}
