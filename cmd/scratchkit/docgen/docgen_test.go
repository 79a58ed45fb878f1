package docgen

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/config.md")

// TestConfigReferenceCurrent fails when docs/config.md differs from the config types.
// Regenerate with: go test ./cmd/scratchkit/docgen -update
func TestConfigReferenceCurrent(t *testing.T) {
	got, err := ConfigReference("../../../targets/config")
	if err != nil {
		t.Fatal(err)
	}
	const path = "../../../docs/config.md"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run go test ./cmd/scratchkit/docgen -update", err)
	}
	if string(want) != got {
		t.Fatalf("docs/config.md is out of date with targets/config: run go test ./cmd/scratchkit/docgen -update")
	}
	for _, key := range []string{"`platforms`", "`builds[].linkage`", "`image.base`", "`SCRATCHKIT_PLATFORMS`", "`KO_DOCKER_REPO`", "`pgo.endpoints`", "`sign.recursive`", "`verify.max_size`"} {
		if !strings.Contains(got, key) {
			t.Errorf("reference lacks %s", key)
		}
	}
}
