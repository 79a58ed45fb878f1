package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/internal/bytesize"
	"github.com/scratchkit/scratchkit/internal/redact"
	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
)

// Image assembles an image per build from the verified linux binaries and publishes it to every
// destination, recording each result by digest in artifacts.json; after Verify.
func (e *Run) Image(ctx context.Context) error {
	if err := e.verifyWarming(ctx); err != nil {
		return err
	}
	return e.Stage(ctx, StageImage, func(ctx context.Context) error { return e.publishImages(ctx, "") })
}

// ImageTo is Image published to one registry repository given as a target argument, which wins
// over image.repo and image.publish: a composite target calls it once per registry.
func (e *Run) ImageTo(ctx context.Context, repo string) error {
	if repo == "" {
		return fmt.Errorf("imageTo: no repository given: run e.g. mage imageTo ghcr.io/acme")
	}
	if err := e.verifyWarming(ctx); err != nil {
		return err
	}
	return e.Stage(ctx, "imageTo "+repo, func(ctx context.Context) error { return e.publishImages(ctx, repo) })
}

// verifyWarming runs Verify after Build, assembling the static base while the go command builds
// (image.WarmBase) and compressing the binaries' layers while Verify runs (image.Warm): on a
// changed binary, compression is most of Image's own time, and it needs only the bytes Verify is
// reading. Image still uses only binaries Verify passed: it checks their digests, and a layer of
// a binary that failed stays unused.
func (e *Run) verifyWarming(ctx context.Context) error {
	// Facts learned from child processes while the go command builds: Verify's leak paths need
	// `go env`, Image's annotations the source URL. Each is learned once; a second start waits.
	go e.GoEnv(ctx)
	go e.Source(ctx)
	e.mu.Lock()
	_, verified := e.done[StageVerify]
	e.mu.Unlock()
	if verified {
		return e.Verify(ctx)
	}
	baseDone := make(chan struct{})
	go func() {
		// The static base needs no binary: it is assembled while the go command builds.
		defer close(baseDone)
		spec := e.baseSpec("", e.Config.Image.Base)
		spec.GoRoot = e.goRoot(ctx)
		image.WarmBase(ctx, spec)
	}()
	defer func() { <-baseDone }()
	if err := e.Build(ctx); err != nil {
		return err
	}
	var specs []image.Spec
	if rec, err := e.Record(); err == nil {
		groups := groupLinux(rec)
		for _, name := range sortedKeys(groups) {
			spec := e.baseSpec(name, e.Config.Image.Base)
			spec.Binaries = e.imageBinaries(groups[name])
			specs = append(specs, spec)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	up := e.uploader()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, spec := range specs {
			image.Warm(wctx, spec, e.warmed)
			if up != nil {
				// Errors are the push's to meet and report.
				_ = up.Upload(wctx, spec.Name, e.warmed.Layers(spec.Name)...)
			}
		}
	}()
	err := e.Verify(ctx)
	if err != nil {
		cancel() // nothing of a binary that failed is sent on
	}
	<-done
	return err
}

// uploader is the registry the dev loop pushes to, which gets each new binary's layer while
// Verify runs (dev.run push and resolve; nil otherwise): a blob no manifest or tag names until
// the image that passed is pushed, and left unnamed (for the registry's garbage collection) when
// Verify fails. Image and release never send anything before Verify passes.
func (e *Run) uploader() *publish.RegistryPublisher {
	if e.keep == nil || len(e.Config.Image.Publish) != 1 || e.Config.Image.Publish[0] != publish.Registry {
		return nil
	}
	pubs, err := e.publishers("")
	if err != nil {
		return nil
	}
	for _, p := range pubs {
		if r, ok := p.(*publish.RegistryPublisher); ok {
			return r
		}
	}
	return nil
}

// publishImages publishes to the configured destinations, or to the registry repository repo
// alone when it is set.
func (e *Run) publishImages(ctx context.Context, repo string) error {
	rec, err := e.Record()
	if err != nil {
		return err
	}
	groups, err := linuxBinaries(rec)
	if err != nil {
		return err
	}
	pubs, err := e.publishers(repo)
	if err != nil {
		return err
	}
	meta := e.annotationsOf(ctx, rec)
	var results []*publish.Result
	var failure error
	for _, name := range sortedKeys(groups) {
		rs, err := e.imageOne(ctx, rec, name, groups[name], pubs, meta)
		results = append(results, rs...)
		if err != nil {
			failure = err
			break
		}
	}
	e.UI.Heading("Image")
	if len(results) > 0 {
		if err := render.ImageTable(e.UI.Out, results); err != nil {
			return err
		}
		for _, r := range results {
			if r.Note != "" {
				e.UI.Info("%s (%s): %s", r.Name, r.Destination, r.Note)
			}
		}
	}
	if err := e.Save(); err != nil {
		return err
	}
	return failure
}

// annotations are what every image of a run says about its source and time.
type annotations struct {
	created                   time.Time
	source, revision, version string
}

// annotationsOf is what the record's images say about their source and time.
func (e *Run) annotationsOf(ctx context.Context, rec *artifacts.Artifacts) annotations {
	created, err := time.Parse(time.RFC3339, rec.Date)
	if err != nil {
		created = time.Unix(0, 0)
	}
	return annotations{created: created, source: e.Source(ctx), revision: rec.Commit, version: rec.Version}
}

// imageOne assembles one image from its binaries, writes its SBOMs, publishes it to every
// destination and records each result in rec.
func (e *Run) imageOne(ctx context.Context, rec *artifacts.Artifacts, name string, bins []artifacts.Binary, pubs []publish.Publisher, meta annotations) ([]*publish.Result, error) {
	res, err := e.assemble(ctx, name, bins, meta)
	if err != nil {
		return nil, err
	}
	entry := artifacts.Image{Name: name, Base: res.BaseName, BaseDigest: res.BaseDigest}
	for _, p := range res.Platforms {
		entry.Platforms = append(entry.Platforms, p.Platform)
		entry.Manifests = append(entry.Manifests, artifacts.Manifest{Platform: p.Platform, Digest: p.Digest.String(), Binary: p.BinarySHA256})
	}
	art := publish.Artifact{Name: name, Image: res.Image, Index: res.Index, Tags: e.Config.Image.Tags}
	return e.publishAndRecord(ctx, rec, res, entry, art, pubs)
}

// assemble builds the image of one build's binaries: its base, layers, run config and
// annotations.
func (e *Run) assemble(ctx context.Context, name string, bins []artifacts.Binary, meta annotations) (*image.Result, error) {
	spec := e.baseSpec(name, e.Config.Image.Base)
	spec.RunConfig, spec.Annotations = e.runConfig(), e.Config.Image.Annotations
	spec.Created, spec.Source, spec.Revision, spec.Version = meta.created, meta.source, meta.revision, meta.version
	spec.GoRoot = e.goRoot(ctx)
	if _, v, ok := strings.Cut(bins[0].Module, "@"); ok {
		spec.Version = v // a dependency's main package is that module's version, not the project's
	}
	spec.Binaries = e.imageBinaries(bins)
	spec.Warmed = e.warmed
	defer e.warmed.Release(name) // built: what Warm kept of its binaries can go
	data, err := e.dataDir(ctx, name, bins[0])
	if err != nil {
		return nil, err
	}
	spec.DataDir, spec.DataLinks = data, image.DataLinks(e.Config.Image.DataLinks)
	res, err := image.Build(ctx, spec)
	if err != nil {
		var le *image.DataLinkError
		if errors.As(err, &le) {
			return nil, fmt.Errorf("image %s: %w; copy what it points at into the data directory, or set image.data_links (%s): keep to store the link unfollowed, follow to publish its target", name, err, e.Config.Where("image.data_links"))
		}
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	return res, nil
}

// publishAndRecord publishes an assembled image to every destination, then writes its SBOMs and
// records each result in rec.
func (e *Run) publishAndRecord(ctx context.Context, rec *artifacts.Artifacts, res *image.Result, entry artifacts.Image, art publish.Artifact, pubs []publish.Publisher) ([]*publish.Result, error) {
	var results []*publish.Result
	for _, p := range pubs {
		rs, err := publishOne(ctx, p, art, e.Config.Image.PerPlatform)
		results = append(results, rs...)
		if err != nil {
			// Nothing of this image is recorded and its SBOMs are not written: artifacts.json
			// and dist/sbom keep describing what the registries still hold.
			return results, err
		}
	}
	// Every destination has the image: now its SBOMs and records replace the previous ones.
	if e.Config.Image.SBOM != "none" {
		files, err := res.WriteSBOMs(filepath.Join(e.DistDir(), "sbom"))
		if err != nil {
			return results, err
		}
		for i, f := range files {
			entry.Manifests[i].SBOM = e.Rel(f.Path)
		}
		if len(files) > 0 {
			entry.SBOM = e.Rel(files[0].Path)
		}
	}
	for _, r := range results {
		img := entry
		img.Ref, img.Digest, img.Destination, img.Tags, img.Size = r.Ref, r.Digest.String(), r.Destination, r.Tags, r.Size
		img.Platforms = r.Platforms
		img.Manifests = manifestsFor(entry.Manifests, r.Platforms)
		for i := range img.Manifests {
			img.Manifests[i].Size = r.PlatformSize(img.Manifests[i].Platform)
		}
		if e.Config.Image.PerPlatform && r.Destination == publish.Registry {
			// One record per platform image, untagged: `mage index` joins them later.
			img.Destination = publish.RegistryPlatform
			rec.AddImage(img)
		} else {
			rec.SetImage(img)
		}
	}
	return results, nil
}

// registryKeys are the configuration's keys for the registry settings, for the advice in
// publish's errors; repo names where the repository came from.
func registryKeys(repo string) publish.Keys {
	return publish.Keys{Repo: repo, Insecure: "image.insecure", ResponseTimeout: "image.response_timeout", RequestTimeout: "image.request_timeout"}
}

// baseSpec is the part of an image's Spec that says where its base comes from (base, the way
// to reach it, the layer cache) and where warnings go: what Build and Join share.
func (e *Run) baseSpec(name, base string) image.Spec {
	spec := image.Spec{
		Name: name, Base: base, AllowUnpinned: e.Config.Image.AllowUnpinned, Insecure: e.Config.Image.Insecure,
		ResponseTimeout: e.Config.Image.ResponseTimeout.D(), RequestTimeout: e.Config.Image.RequestTimeout.D(),
		Warn:  func(s string) { e.UI.Warn("%s: %s", name, s) },
		Bases: &e.bases, Compression: e.compression,
	}
	if d := e.CacheDir(); d != "" {
		spec.CacheDir = filepath.Join(d, "layers")
	}
	return spec
}

// publishOne publishes to one destination; in per-platform mode, a registry gets each platform
// image by digest and no tags.
func publishOne(ctx context.Context, p publish.Publisher, a publish.Artifact, perPlatform bool) ([]*publish.Result, error) {
	if reg, ok := p.(*publish.RegistryPublisher); ok && perPlatform {
		return reg.PushPlatforms(ctx, a)
	}
	r, err := p.Publish(ctx, a)
	if err != nil {
		return nil, err
	}
	return []*publish.Result{r}, nil
}

// manifestsFor keeps the manifests of the given platforms.
func manifestsFor(all []artifacts.Manifest, platforms []platform.Platform) []artifacts.Manifest {
	var out []artifacts.Manifest
	for _, m := range all {
		for _, p := range platforms {
			if m.Platform == p {
				out = append(out, m)
			}
		}
	}
	return out
}

// linuxBinaries groups the verified linux binaries by name. Binaries for other systems are
// release binaries, not images. A binary Verify did not pass stops the run.
func linuxBinaries(rec *artifacts.Artifacts) (map[string][]artifacts.Binary, error) {
	groups := groupLinux(rec)
	var unverified []string
	for _, bins := range groups {
		for _, b := range bins {
			if !b.Verified {
				unverified = append(unverified, b.Name+" "+b.Platform.String())
			}
		}
	}
	if len(unverified) > 0 {
		sort.Strings(unverified)
		return nil, fmt.Errorf("image: %s did not pass verify; run mage verify and fix what it reports", strings.Join(unverified, ", "))
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("image: no linux binary in artifacts.json: add a linux platform to platforms")
	}
	return groups, nil
}

// groupLinux groups the record's linux binaries by name, in the record's order.
func groupLinux(rec *artifacts.Artifacts) map[string][]artifacts.Binary {
	groups := map[string][]artifacts.Binary{}
	for _, b := range rec.Binaries {
		if b.Platform.Linux() {
			groups[b.Name] = append(groups[b.Name], b)
		}
	}
	return groups
}

// imageBinaries are bins as image.Build takes them: absolute paths, each with the digest Build
// checks the file against.
func (e *Run) imageBinaries(bins []artifacts.Binary) []image.Binary {
	out := make([]image.Binary, len(bins))
	for i, b := range bins {
		out[i] = image.Binary{Platform: b.Platform, Path: e.Abs(b.Path), SHA256: b.SHA256, BuildInfo: b.BuildInfo}
	}
	return out
}

// publishers makes the configured destinations, or the registry repository repo alone.
func (e *Run) publishers(repo string) ([]publish.Publisher, error) {
	if k := e.keep; k != nil {
		k.mu.Lock()
		defer k.mu.Unlock()
		if pubs, ok := k.pubs[repo]; ok {
			return pubs, nil
		}
		pubs, err := e.makePublishers(repo)
		if err == nil {
			k.pubs[repo] = pubs
		}
		return pubs, err
	}
	return e.makePublishers(repo)
}

func (e *Run) makePublishers(repo string) ([]publish.Publisher, error) {
	dests, repoKey := e.Config.Destinations(), e.Config.Where("image.repo")+": image.repo"
	if repo != "" {
		dests, repoKey = []string{publish.Registry}, "the repository given to imageTo"
	} else {
		repo = e.Config.Image.Repo
	}
	var out []publish.Publisher
	for _, d := range dests {
		switch d {
		case publish.Registry:
			opts := publish.RegistryOptions{Repo: repo, Keys: registryKeys(repoKey), Tags: e.Config.Image.Tags, Insecure: e.Config.Image.Insecure,
				ResponseTimeout: e.Config.Image.ResponseTimeout.D(), RequestTimeout: e.Config.Image.RequestTimeout.D()}
			if e.Verbose {
				opts.Progress = render.PushProgress(e.UI.Out)
			} else {
				opts.Progress = summaryProgress(e)
			}
			r, err := publish.NewRegistry(opts)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		case publish.Tarball:
			out = append(out, publish.NewTarball(publish.TarballOptions{Dir: e.DistDir(), Tags: e.Config.Image.Tags}))
		case publish.Layout:
			out = append(out, publish.NewLayout(publish.LayoutOptions{Dir: e.LayoutDir(), Tags: e.Config.Image.Tags, PlatformRefs: true}))
		default:
			if e.extra == nil {
				return nil, fmt.Errorf("%s: image.publish: %s: %w", e.Config.Where("image.publish"), d, ErrNeedsFull)
			}
			p, err := e.extra(e, d)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// summaryProgress prints one line per pushed image: blobs uploaded and skipped, bytes sent.
func summaryProgress(e *Run) func(publish.Event) {
	return func(ev publish.Event) {
		switch ev.Kind {
		case publish.Pushed:
			e.UI.OK("%s pushed %s  (%d blobs uploaded, %d already there, %s sent)", ev.Image, ev.Ref, ev.Uploaded, ev.Skipped, bytesize.Format(ev.Sent))
		case publish.Tagged:
			e.UI.Info("tagged %s", ev.Ref)
		}
	}
}

// Source is the repository URL recorded as org.opencontainers.image.source and in provenance:
// image.source, else the origin remote, always without credentials (a CI clone URL carries a
// token in its userinfo), query or ".git".
// It is learned once per Run.
func (e *Run) Source(ctx context.Context) string {
	e.sourceOnce.Do(func() {
		u := e.Config.Image.Source
		if u == "" {
			cmd := exec.CommandContext(ctx, "git", "config", "--get", "remote.origin.url")
			cmd.Dir = e.Dir
			cmd.Env = secrets.Environ()
			if out, err := cmd.Output(); err == nil {
				u = string(out)
			}
		}
		e.source = strings.TrimSuffix(redact.URL(u), ".git")
	})
	return e.source
}

// dataDir is the directory of an image's data layer (/var/run/ko), or "" for none: the build's
// data, else image.data, each relative to the project and required to exist; else, as ko does,
// the kodata directory next to the main package when there is one.
func (e *Run) dataDir(ctx context.Context, name string, bin artifacts.Binary) (string, error) {
	key, dir := "image.data", e.Config.Image.Data
	if i := e.buildIndex(name); i >= 0 && e.Config.Builds[i].Data != "" {
		key, dir = fmt.Sprintf("builds[%d].data", i), e.Config.Builds[i].Data
	}
	if dir != "" {
		p := e.Abs(dir)
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			return "", e.Config.Errorf(key, "%s (%s) is not a directory: a configured data directory must exist (paths are relative to %s)", dir, p, e.Dir)
		}
		return p, nil
	}
	mainDir := e.Abs(bin.Dir)
	if bin.Dir == "" { // a dependency's main package, in the module cache
		builds, _, err := e.ResolveBuilds(ctx)
		if err != nil {
			return "", err
		}
		for _, b := range builds {
			if b.Name == name {
				mainDir = b.PkgDir
			}
		}
	}
	p := filepath.Join(mainDir, "kodata")
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return p, nil
	}
	return "", nil
}

// runConfig is how the configured images run, for Image and the Dockerfile alike.
func (e *Run) runConfig() image.RunConfig {
	c := e.Config.Image
	return image.RunConfig{User: c.User, Env: c.Env, Args: c.Args, Workdir: c.Workdir, Ports: c.Ports, Volumes: c.Volumes, Labels: c.Labels}
}
