package image

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// A base whose config names no os or architecture, as `crane append` on scratch makes, is taken
// as linux/amd64 (as ko does) with a warning; no message names an empty platform.
func TestRemoteBaseWithoutPlatform(t *testing.T) {
	crane := testenv.Tool(t, "crane")
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	tb, err := writeTar([]entry{fileEntry("/etc/base-marker", 0o644, []byte("appended\n"))}, baseEpoch)
	must(t, err)
	layer := filepath.Join(t.TempDir(), "layer.tar")
	must(t, os.WriteFile(layer, tb, 0o644))
	testenv.Run(t, crane, "append", "--insecure", "-f", layer, "-t", host+"/noplatform:latest")
	sum := strings.TrimSpace(testenv.Run(t, crane, "digest", "--insecure", host+"/noplatform:latest"))
	ref := host + "/noplatform@" + sum
	dref, err := name.ParseReference(ref)
	must(t, err)
	pulled, err := remote.Image(dref)
	must(t, err)
	if cf, err := pulled.ConfigFile(); err != nil || cf.OS != "" || cf.Architecture != "" {
		t.Fatalf("crane append made a base with os %q architecture %q (%v); the test wants none", cf.OS, cf.Architecture, err)
	}

	// An architecture without an os is filled in the same way.
	cf, err := empty.Image.ConfigFile()
	must(t, err)
	cf = cf.DeepCopy()
	cf.Architecture = "amd64"
	half, err := mutate.ConfigFile(mutate.MediaType(empty.Image, types.OCIManifestSchema1), cf)
	must(t, err)
	halfRef, err := name.NewTag(host + "/halfplatform:latest")
	must(t, err)
	must(t, remote.Write(halfRef, half))
	halfSum, err := half.Digest()
	must(t, err)

	for _, c := range []struct {
		name, base, missing string
	}{
		{"crane append", ref, "os/architecture"},
		{"no os", halfRef.Context().Name() + "@" + halfSum.String(), "os"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var warnings []string
			s := spec(t, "linux/amd64")
			s.Base = c.base
			s.Warn = func(m string) { warnings = append(warnings, m) }
			r := build(t, s)
			if len(warnings) != 1 || !strings.Contains(warnings[0], "names no "+c.missing) || !strings.Contains(warnings[0], "linux/amd64, as ko does") || !strings.Contains(warnings[0], c.base) {
				t.Errorf("warnings %q, want one naming the base, what is missing and linux/amd64", warnings)
			}
			if got := configOf(t, r.Image); got.OS != "linux" || got.Architecture != "amd64" {
				t.Errorf("image config platform %s/%s", got.OS, got.Architecture)
			}

			s = spec(t, "linux/amd64", "linux/arm64")
			s.Base = c.base
			_, err := Build(context.Background(), s)
			if err == nil || !strings.Contains(err.Error(), "no linux/arm64 image; it is a single image for linux/amd64") {
				t.Fatalf("arm64 on a base taken as amd64: %v", err)
			}
			for _, empty := range []string{"for .", "for  ", "only for  "} {
				if strings.Contains(err.Error(), empty) {
					t.Errorf("the error names an empty platform: %v", err)
				}
			}
		})
	}
}

// The platforms an index lists never include an empty one.
func TestIndexPlatformsSkipsEmpty(t *testing.T) {
	got := indexPlatforms([]v1.Descriptor{
		{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{}},
		{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux"}},
		{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}},
	})
	if strings.Join(got, ",") != "linux/arm64" {
		t.Errorf("indexPlatforms = %q, want linux/arm64 only", got)
	}
}
