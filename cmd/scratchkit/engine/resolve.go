package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/config/load"
	"github.com/scratchkit/scratchkit/targets/gobuild"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
	"github.com/scratchkit/scratchkit/targets/resolve"
)

// Resolve is scratchkit's `ko resolve`: it reads resolve.files and checks every ko://<import
// path> in them against the builds and the destinations, runs Image (which builds, verifies and
// publishes), then writes the files as one stream with each reference replaced by the reference
// of the image built from that main package, and records the substitutions in artifacts.json.
// Nothing is built when a reference cannot be resolved, and nothing is written on any error.
func (e *Run) Resolve(ctx context.Context) error {
	return e.Stage(ctx, StageResolve, e.resolve)
}

func (e *Run) resolve(ctx context.Context) error {
	out := e.resolveOutput()
	stream, files, err := e.readResolveFiles(out)
	if err != nil {
		return err
	}
	if err := e.checkReferences(ctx, stream); err != nil {
		return err
	}
	if err := e.Image(ctx); err != nil {
		return err
	}
	rec, err := e.Record()
	if err != nil {
		return err
	}
	refs, names, why := e.pullableRefs(rec)
	var p problems
	for _, r := range stream.References() {
		if refs[r.ImportPath] == "" {
			advice := why[r.ImportPath]
			if advice == "" {
				advice = "no image in artifacts.json was built from " + r.ImportPath
			}
			p.add(r, "has no image a cluster can pull", advice)
		}
	}
	if err := p.err(len(stream.References())); err != nil {
		return err
	}
	data, subs, err := stream.Resolve(refs)
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}

	e.UI.Heading("Resolve")
	rows := make([][]string, 0, len(subs))
	for _, s := range subs {
		rows = append(rows, []string{s.Where(), s.String(), s.Ref})
	}
	if len(rows) > 0 {
		e.UI.Table([]string{"WHERE", "REFERENCE", "IMAGE"}, rows)
	} else {
		e.UI.Info("no ko:// reference in %s: the stream is the files as they are", plural(len(files), "file", "files"))
	}

	written, where := "-", "standard output"
	if out == "" {
		if _, err := e.stdout.Write(data); err != nil {
			return fmt.Errorf("resolve: write the stream to standard output: %w", err)
		}
	} else {
		if err := atomicfile.WriteFile(out, data, 0o644); err != nil {
			return fmt.Errorf("resolve: %w", err)
		}
		written = e.Rel(out)
		where = written
	}
	sum := sha256.Sum256(data)
	res := &artifacts.Resolved{Path: written, SHA256: hex.EncodeToString(sum[:]), Substitutions: []artifacts.Substitution{}}
	for _, s := range subs {
		res.Substitutions = append(res.Substitutions, artifacts.Substitution{File: s.File, Line: s.Line, Main: s.ImportPath, Image: names[s.ImportPath], Ref: s.Ref})
	}
	rec.Resolved = res
	if err := e.Save(); err != nil {
		return err
	}
	e.UI.OK("%s: %s from %s, %s replaced", where, plural(stream.Documents(), "document", "documents"), plural(len(files), "file", "files"), plural(len(subs), "reference", "references"))
	return nil
}

// resolveOutput is the absolute path of the stream, or "" for standard output.
func (e *Run) resolveOutput() string {
	switch o := e.Config.Resolve.Output; o {
	case "-":
		return ""
	case "":
		return filepath.Join(e.DistDir(), "resolved.yaml")
	default:
		return e.Abs(o)
	}
}

// readResolveFiles expands and parses resolve.files, each file once, in order. The dist folder
// and the output are left out of directories and globs: a second run must not read the first
// one's stream.
func (e *Run) readResolveFiles(out string) (*resolve.Stream, []resolve.File, error) {
	if len(e.Config.Resolve.Files) == 0 {
		return nil, nil, fmt.Errorf("resolve: no files to resolve: set resolve.files in %s (e.g. files: [config/]) or SCRATCHKIT_RESOLVE_FILES", load.FileName)
	}
	dist := e.DistDir()
	skip := func(p string) bool { return p == out || p == dist }
	var paths []string
	seen := map[string]bool{}
	var errs []error
	for i, entry := range e.Config.Resolve.Files {
		found, err := resolve.Expand(e.Dir, entry, skip)
		if err != nil {
			errs = append(errs, e.Config.Errorf(fmt.Sprintf("resolve.files[%d]", i), "%v", err))
			continue
		}
		for _, p := range found {
			if !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	files, err := resolve.Read(e.Dir, paths, resolve.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("resolve: %w", err)
	}
	stream, err := resolve.Parse(files, resolve.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("resolve:\n%w", err)
	}
	return stream, files, nil
}

// checkReferences refuses, before anything is built, references that no image will answer: an
// import path that is no build's main package (or several builds'), a build without a linux
// platform, and any reference when no destination is one a cluster pulls from.
func (e *Run) checkReferences(ctx context.Context, stream *resolve.Stream) error {
	refs := stream.References()
	if len(refs) == 0 {
		return nil
	}
	builds, _, err := e.ResolveBuilds(ctx)
	if err != nil {
		return err
	}
	byMain := map[string][]gobuild.Build{}
	var mains []string
	for _, b := range builds {
		if len(byMain[b.ImportPath]) == 0 {
			mains = append(mains, b.ImportPath)
		}
		byMain[b.ImportPath] = append(byMain[b.ImportPath], b)
	}
	slices.Sort(mains)
	pullable := slices.ContainsFunc(e.Config.Destinations(), func(d string) bool { return pullRank[d] > 0 })
	var p problems
	for _, r := range refs {
		bs := byMain[r.ImportPath]
		switch {
		case len(bs) == 0:
			p.add(r, "matches no build", fmt.Sprintf("the builds' main packages are %s: add a build for each import path above to builds in %s or .ko.yaml (main: <import path>), or correct the path",
				strings.Join(mains, ", "), load.FileName))
		case len(bs) > 1:
			var names []string
			for _, b := range bs {
				names = append(names, b.Name)
			}
			p.add(r, fmt.Sprintf("is the main package of builds %s, so it names no one image", strings.Join(names, " and ")), "keep one build per main package")
		case !slices.ContainsFunc(bs[0].Platforms, platform.Platform.Linux):
			p.add(r, fmt.Sprintf("is build %s, which has no linux platform and so no image", bs[0].Name), "add a linux platform to the platforms of each build above")
		case !pullable:
			where := "no image.repo or KO_DOCKER_REPO is set, so the images go to dist/ as an OCI layout and a tarball"
			if len(e.Config.Image.Publish) > 0 {
				where = fmt.Sprintf("%s: image.publish is %s", e.Config.Where("image.publish"), strings.Join(e.Config.Image.Publish, ", "))
			}
			p.add(r, "is published nowhere a cluster can pull from", where+"; set KO_DOCKER_REPO (or image.repo) to a registry repository, ko.local for the docker daemon or kind.local for a kind cluster")
		}
	}
	return p.err(len(refs))
}

// problems are references that cannot be resolved, each with what to do; the same advice is
// given once.
type problems struct {
	lines, advice []string
}

func (p *problems) add(r resolve.Reference, what, advice string) {
	p.lines = append(p.lines, fmt.Sprintf("%s: %s %s", r.Where(), r, what))
	if !slices.Contains(p.advice, advice) {
		p.advice = append(p.advice, advice)
	}
}

func (p *problems) err(total int) error {
	if len(p.lines) == 0 {
		return nil
	}
	return fmt.Errorf("resolve: %d of %s cannot be resolved:\n%s\n%s", len(p.lines), plural(total, "ko:// reference", "ko:// references"),
		strings.Join(p.lines, "\n"), strings.Join(p.advice, "\n"))
}

// pullRank orders the destinations a cluster can pull an image from, best first: a registry
// (a per-platform registry image only when it is the image's one platform), a kind cluster's
// nodes, the docker daemon (ko.local, for clusters that share it). Tarballs and layouts are
// files: 0.
var pullRank = map[string]int{publish.Registry: 4, publish.Kind: 3, publish.Daemon: 2, publish.RegistryPlatform: 1}

// pullableRefs maps the main package of every imaged build to the reference of its image at
// the best destination a cluster can pull from, with the image names; why says, for a main
// package without one, what to do.
func (e *Run) pullableRefs(rec *artifacts.Artifacts) (refs, names, why map[string]string) {
	refs, names, why = map[string]string{}, map[string]string{}, map[string]string{}
	for _, b := range rec.Binaries {
		if b.Platform.Linux() && b.Main != "" {
			names[b.Main] = b.Name
		}
	}
	repo := strings.TrimSuffix(e.Config.Image.Repo, "/") + "/"
	for main, name := range names {
		var best *artifacts.Image
		var dests []string
		perPlatform := 0
		for i := range rec.Images {
			img := &rec.Images[i]
			if img.Name != name {
				continue
			}
			if !slices.Contains(dests, img.Destination) {
				dests = append(dests, img.Destination)
			}
			if img.Destination == publish.RegistryPlatform {
				perPlatform++
			}
			if pullRank[img.Destination] == 0 {
				continue
			}
			switch {
			case best == nil, pullRank[img.Destination] > pullRank[best.Destination]:
				best = img
			case img.Destination == publish.Registry && best.Destination == publish.Registry &&
				strings.HasPrefix(img.Ref, repo) && !strings.HasPrefix(best.Ref, repo):
				best = img // the configured repository's over one another target pushed to
			}
		}
		switch {
		case best == nil && len(dests) == 0:
			why[main] = fmt.Sprintf("build %s has no image in artifacts.json", name)
		case best == nil:
			slices.Sort(dests)
			why[main] = fmt.Sprintf("image %s was published to %s only, which no cluster can pull from; set image.repo or KO_DOCKER_REPO to a registry repository (or ko.local for the docker daemon, kind.local for a kind cluster)", name, strings.Join(dests, " and "))
		case best.Destination == publish.RegistryPlatform && perPlatform > 1:
			why[main] = fmt.Sprintf("image %s was pushed as %d platform images without an index (image.per_platform); join them with mage index, or resolve without image.per_platform", name, perPlatform)
		default:
			refs[main] = best.Ref
		}
	}
	return refs, names, why
}
