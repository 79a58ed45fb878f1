package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/image"
	"github.com/scratchkit/scratchkit/targets/publish"
)

// Index joins platform images pushed separately (image.per_platform: true, one runner per
// platform) into one index per image, pushed and tagged under image.repo: the index a single run
// building every platform makes (image.Join), on the base the runners recorded (image.base for
// bare references). sources lists the runners' artifacts.json files and/or
// repo/name@sha256:… references, separated by spaces or commas.
func (e *Run) Index(ctx context.Context, sources string) error {
	return e.Stage(ctx, "index "+sources, func(ctx context.Context) error { return e.index(ctx, sources) })
}

func (e *Run) index(ctx context.Context, sources string) error {
	if e.Config.Image.Repo == "" {
		return fmt.Errorf("index: no repository: set image.repo or KO_DOCKER_REPO to where the platform images were pushed")
	}
	list := strings.FieldsFunc(sources, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
	if len(list) == 0 {
		return fmt.Errorf("index: nothing to join: run e.g. mage index \"amd64/artifacts.json arm64/artifacts.json\"")
	}
	refs := map[string][]string{}
	manifests := map[string][]artifacts.Manifest{}
	bases := map[string]string{} // the base each image was built on, as recorded
	for _, s := range list {
		if strings.Contains(s, "@sha256:") {
			name := path.Base(strings.SplitN(s, "@", 2)[0])
			refs[name] = append(refs[name], s)
			continue
		}
		data, err := os.ReadFile(e.Abs(s))
		if err != nil {
			return fmt.Errorf("index: %s is neither a repo@sha256 reference nor a readable artifacts.json: %w", s, err)
		}
		var rec artifacts.Artifacts
		if err := json.Unmarshal(data, &rec); err != nil {
			return fmt.Errorf("index: %s is not an artifacts.json: %w", s, err)
		}
		n := 0
		for _, img := range rec.Images {
			if img.Destination == publish.RegistryPlatform {
				refs[img.Name] = append(refs[img.Name], img.Ref)
				manifests[img.Name] = append(manifests[img.Name], img.Manifests...)
				if prev := bases[img.Name]; prev != "" && img.Base != "" && prev != img.Base {
					return fmt.Errorf("index: %s: the runners built it on different bases, %s and %s", img.Name, prev, img.Base)
				}
				bases[img.Name] = cmp.Or(img.Base, bases[img.Name])
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("index: %s records no platform image: build it with image.per_platform: true and a registry repository", s)
		}
	}
	reg, err := publish.NewRegistry(publish.RegistryOptions{Repo: e.Config.Image.Repo, Keys: registryKeys(e.Config.Where("image.repo") + ": image.repo"), Tags: e.Config.Image.Tags, Insecure: e.Config.Image.Insecure, Progress: summaryProgress(e),
		ResponseTimeout: e.Config.Image.ResponseTimeout.D(), RequestTimeout: e.Config.Image.RequestTimeout.D()})
	if err != nil {
		return err
	}
	rec, err := e.Record()
	if err != nil {
		rec = &artifacts.Artifacts{} // this runner built nothing: the record holds the index alone
		e.mu.Lock()
		e.rec = rec
		e.mu.Unlock()
	}
	var results []*publish.Result
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		imgs, err := reg.ReadPlatforms(ctx, n, refs[n])
		if err != nil {
			return err
		}
		entries := make([]image.IndexEntry, len(imgs))
		for i, img := range imgs {
			entries[i] = image.IndexEntry{Image: img}
		}
		joined, err := image.Join(ctx, e.baseSpec(n, cmp.Or(bases[n], e.Config.Image.Base)), entries...)
		if err != nil {
			return fmt.Errorf("index: %w", err)
		}
		r, err := reg.Publish(ctx, publish.Artifact{Name: n, Index: joined.Index, Tags: e.Config.Image.Tags})
		if err != nil {
			return err
		}
		results = append(results, r)
		rec.SetImage(artifacts.Image{Name: n, Ref: r.Ref, Digest: r.Digest.String(), Platforms: r.Platforms, Destination: publish.Registry, Tags: r.Tags,
			Base: joined.BaseName, BaseDigest: joined.BaseDigest, Size: r.Size, Manifests: manifests[n]})
	}
	e.UI.Heading("Index")
	if err := render.ImageTable(e.UI.Out, results); err != nil {
		return err
	}
	return e.Save()
}
