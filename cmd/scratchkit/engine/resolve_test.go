package engine

import (
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/config/load"
	"github.com/scratchkit/scratchkit/targets/platform"
	"github.com/scratchkit/scratchkit/targets/publish"
)

// Each imaged main package resolves to its image at the best destination a cluster pulls from;
// one without says why.
func TestPullableRefs(t *testing.T) {
	const d1, d2 = "sha256:1111", "sha256:2222"
	rec := &artifacts.Artifacts{
		Binaries: []artifacts.Binary{
			{Name: "app", Platform: platform.MustParse("linux/amd64"), Main: "example.com/app"},
			{Name: "app", Platform: platform.MustParse("linux/arm64"), Main: "example.com/app"},
			{Name: "tool", Platform: platform.MustParse("linux/amd64"), Main: "github.com/acme/tools/cmd/tool"},
			{Name: "local", Platform: platform.MustParse("linux/amd64"), Main: "example.com/app/cmd/local"},
			{Name: "files", Platform: platform.MustParse("linux/amd64"), Main: "example.com/app/cmd/files"},
			{Name: "split", Platform: platform.MustParse("linux/amd64"), Main: "example.com/app/cmd/split"},
			{Name: "single", Platform: platform.MustParse("linux/amd64"), Main: "example.com/app/cmd/single"},
			{Name: "cli", Platform: platform.MustParse("darwin/arm64"), Main: "example.com/app/cmd/cli"},
		},
		Images: []artifacts.Image{
			{Name: "app", Destination: publish.Layout, Ref: "dist/layout@" + d1},
			{Name: "app", Destination: publish.Registry, Ref: "mirror.example/x/app@" + d1},
			{Name: "app", Destination: publish.Registry, Ref: "registry.example/team/app@" + d1},
			{Name: "app", Destination: publish.Daemon, Ref: "ko.local/app:1111"},
			{Name: "tool", Destination: publish.Daemon, Ref: "ko.local/tool:2222"},
			{Name: "tool", Destination: publish.Tarball, Ref: "dist/tool.tar"},
			{Name: "local", Destination: publish.Kind, Ref: "kind.local/local:3333"},
			{Name: "local", Destination: publish.Daemon, Ref: "ko.local/local:3333"},
			{Name: "files", Destination: publish.Tarball, Ref: "dist/files.tar"},
			{Name: "files", Destination: publish.Layout, Ref: "dist/layout@" + d2},
			{Name: "split", Destination: publish.RegistryPlatform, Ref: "registry.example/team/split@sha256:a"},
			{Name: "split", Destination: publish.RegistryPlatform, Ref: "registry.example/team/split@sha256:b"},
			{Name: "single", Destination: publish.RegistryPlatform, Ref: "registry.example/team/single@sha256:c"},
		},
	}
	e := &Run{Config: &load.Resolved{}}
	e.Config.Image.Repo = "registry.example/team"
	refs, names, why := e.pullableRefs(rec)
	want := map[string]string{
		"example.com/app":                "registry.example/team/app@" + d1,
		"github.com/acme/tools/cmd/tool": "ko.local/tool:2222",
		"example.com/app/cmd/local":      "kind.local/local:3333",
		"example.com/app/cmd/single":     "registry.example/team/single@sha256:c",
	}
	for main, ref := range want {
		if refs[main] != ref {
			t.Errorf("%s → %q, want %q (%s)", main, refs[main], ref, why[main])
		}
	}
	if len(refs) != len(want) {
		t.Errorf("refs %v", refs)
	}
	if names["github.com/acme/tools/cmd/tool"] != "tool" || names["example.com/app/cmd/cli"] != "" {
		t.Errorf("names %v", names)
	}
	for main, words := range map[string][]string{
		"example.com/app/cmd/files": {"image files was published to layout and tarball only", "KO_DOCKER_REPO"},
		"example.com/app/cmd/split": {"2 platform images without an index", "mage index"},
	} {
		for _, w := range words {
			if !strings.Contains(why[main], w) {
				t.Errorf("%s: %q lacks %q", main, why[main], w)
			}
		}
	}
}
