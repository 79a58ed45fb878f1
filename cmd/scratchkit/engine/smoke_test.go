package engine

import (
	"testing"

	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/publish"
)

// One image published to the default destinations is smoked once, from the layout; platform
// images pushed one by one are each smoked.
func TestSmokeCandidates(t *testing.T) {
	got := smokeCandidates([]artifacts.Image{
		{Name: "hello", Destination: "tarball", Digest: "sha256:b"},
		{Name: "hello", Destination: "layout", Digest: "sha256:a"},
		{Name: "api", Destination: publish.RegistryPlatform, Digest: "sha256:c"},
		{Name: "api", Destination: publish.RegistryPlatform, Digest: "sha256:d"},
		{Name: "web", Destination: "daemon", Digest: "sha256:e"},
		{Name: "web", Destination: "registry", Digest: "sha256:e"},
	})
	want := []string{"hello layout", "api " + publish.RegistryPlatform, "api " + publish.RegistryPlatform, "web registry"}
	if len(got) != len(want) {
		t.Fatalf("candidates %+v", got)
	}
	for i, g := range got {
		if g.Name+" "+g.Destination != want[i] {
			t.Errorf("candidate %d: %s %s, want %s", i, g.Name, g.Destination, want[i])
		}
	}
}
