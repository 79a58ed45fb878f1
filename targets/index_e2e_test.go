package targets_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// TestIndexSameFromOneOrTwoRunners: a release can be re-derived on one machine. The same commit,
// built for linux/amd64 and linux/arm64 by one runner, and by two runners of one platform each
// (image.per_platform) joined by `mage index`, gives one index digest: the same platform
// manifests, and the same index manifest around them, its annotations on the index.
func TestIndexSameFromOneOrTwoRunners(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	crane := testenv.Tool(t, "crane")
	// Each runner's dist folder is ignored, as in a CI checkout: an untracked file would make
	// the binaries' vcs.modified differ between runs.
	dir := project(t, map[string]string{".gitignore": "/dist*/\n"})
	gitInit(t, dir, "https://example.com/acme/hello.git") // the origin is the source annotation
	head, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	// What a release pipeline fixes for every job: the time and the version.
	inputs := func(kv ...string) []string {
		return append([]string{"SOURCE_DATE_EPOCH=1700000000", "SCRATCHKIT_VERSION=v1.2.3"}, kv...)
	}
	load := func(dist string) *artifacts.Artifacts {
		t.Helper()
		rec, err := artifacts.Load(filepath.Join(dir, dist))
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}

	// One runner, both platforms.
	oneRepo := reg.Host + "/one"
	mustRun(t, dir, inputs("KO_DOCKER_REPO="+oneRepo, "SCRATCHKIT_PLATFORMS=linux/amd64,linux/arm64", "SCRATCHKIT_DIST=dist-one"), "image")
	one := load("dist-one").Images
	if len(one) != 1 || len(one[0].Manifests) != 2 {
		t.Fatalf("one runner recorded %+v", one)
	}

	// Two runners, one platform each, then the index.
	twoRepo := reg.Host + "/two"
	var records []string
	platformDigests := map[platform.Platform]string{}
	for _, p := range []string{"linux/arm64", "linux/amd64"} {
		dist := "dist-" + strings.ReplaceAll(p, "/", "-")
		mustRun(t, dir, inputs("KO_DOCKER_REPO="+twoRepo, "SCRATCHKIT_IMAGE_PER_PLATFORM=true", "SCRATCHKIT_PLATFORMS="+p, "SCRATCHKIT_DIST="+dist), "image")
		for _, m := range load(dist).Images[0].Manifests {
			platformDigests[m.Platform] = m.Digest
		}
		records = append(records, dist+"/artifacts.json")
	}
	mustRun(t, dir, inputs("KO_DOCKER_REPO="+twoRepo), "index", strings.Join(records, " "))
	two := load("dist").Images
	if len(two) != 1 {
		t.Fatalf("index recorded %+v", two)
	}

	// The same platform manifests, and the same index around them.
	for _, m := range one[0].Manifests {
		if platformDigests[m.Platform] != m.Digest {
			t.Errorf("%s: one runner made %s, its own runner %s", m.Platform, m.Digest, platformDigests[m.Platform])
			t.Logf("one runner:\n%s\nits own runner:\n%s", testenv.Run(t, crane, "manifest", "--insecure", oneRepo+"/hello@"+m.Digest),
				testenv.Run(t, crane, "manifest", "--insecure", twoRepo+"/hello@"+platformDigests[m.Platform]))
		}
	}
	if one[0].Digest != two[0].Digest {
		t.Errorf("one runner made index %s, two runners and mage index %s", one[0].Digest, two[0].Digest)
		t.Logf("one runner:\n%s", testenv.Run(t, crane, "manifest", "--insecure", one[0].Ref))
		t.Logf("two runners:\n%s", testenv.Run(t, crane, "manifest", "--insecure", two[0].Ref))
	}
	if one[0].Destination != two[0].Destination || one[0].BaseDigest != two[0].BaseDigest || one[0].Base != two[0].Base {
		t.Errorf("records differ: one runner %s base %s %s, index %s base %s %s",
			one[0].Destination, one[0].Base, one[0].BaseDigest, two[0].Destination, two[0].Base, two[0].BaseDigest)
	}
	// What the registries hold under the tag, read by crane, not by us.
	for _, repo := range []string{oneRepo, twoRepo} {
		if got := strings.TrimSpace(testenv.Run(t, crane, "digest", "--insecure", repo+"/hello:latest")); got != one[0].Digest {
			t.Errorf("%s/hello:latest is %s, want %s", repo, got, one[0].Digest)
		}
	}
	var index struct {
		Annotations map[string]string
		Manifests   []struct {
			Annotations map[string]string
		}
	}
	unmarshal(t, testenv.Run(t, crane, "manifest", "--insecure", two[0].Ref), &index)
	want := map[string]string{
		"org.opencontainers.image.source":      "https://example.com/acme/hello",
		"org.opencontainers.image.revision":    strings.TrimSpace(string(head)),
		"org.opencontainers.image.version":     "v1.2.3",
		"org.opencontainers.image.created":     "2023-11-14T22:13:20Z",
		"org.opencontainers.image.base.digest": one[0].BaseDigest,
	}
	for k, v := range want {
		if index.Annotations[k] != v {
			t.Errorf("index annotation %s = %q, want %q", k, index.Annotations[k], v)
		}
	}
	for i, m := range index.Manifests {
		if len(m.Annotations) != 0 {
			t.Errorf("index descriptor %d carries annotations %v; they belong to the index and the manifest", i, m.Annotations)
		}
	}
}
