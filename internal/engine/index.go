package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/publish"
)

// Index joins platform images pushed separately (image.per_platform: true, one runner per
// platform) into one index per image, pushed and tagged under image.repo. sources lists the
// runners' artifacts.json files and/or repo/name@sha256:… references, separated by spaces or commas.
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
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("index: %s records no platform image: build it with image.per_platform: true and a registry repository", s)
		}
	}
	reg, err := publish.NewRegistry(publish.RegistryOptions{Repo: e.Config.Image.Repo, RepoKey: e.Config.Where("image.repo") + ": image.repo", Tags: e.Config.Image.Tags, Insecure: e.Config.Image.Insecure, Progress: summaryProgress(e),
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
		r, err := reg.MergeIndex(ctx, n, refs[n], e.Config.Image.Tags)
		if err != nil {
			return err
		}
		results = append(results, r)
		rec.SetImage(artifacts.Image{Name: n, Ref: r.Ref, Digest: r.Digest.String(), Platforms: r.Platforms, Destination: publish.Registry, Tags: r.Tags, Size: r.Size, Manifests: manifests[n]})
	}
	e.UI.Heading("Index")
	if err := publish.WriteTable(e.UI.Out, results); err != nil {
		return err
	}
	return e.Save()
}
