// Package lite gives a magefile scratchkit's targets without signing and without ko's daemon and
// kind publishers, so a magefile that imports it compiles a fraction of the packages (see the
// README's numbers). Import it instead of github.com/scratchkit/scratchkit/targets, not beside it:
//
//	//mage:import
//	_ "github.com/scratchkit/scratchkit/targets/lite"
//
// Images still go to a registry, an OCI layout or a docker-loadable tarball.
package lite

import (
	"context"

	"github.com/magefile/mage/mg"

	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/internal/stage"
)

// Config is the configuration a magefile can set; its fields mirror scratchkit.yaml.
type Config = config.Config

// Configure sets configuration from the magefile, over scratchkit.yaml and under the environment.
// Mage ignores it as a target because it takes a parameter.
func Configure(c Config) { stage.Configure(c) }

// Build cross-compiles every main package into static binaries under dist/.
func Build(ctx context.Context) error { return stage.Deps(ctx, stage.Build) }

// Verify proves every built binary static, stripped and clean, and says why when it is not.
func Verify(ctx context.Context) error { return stage.Deps(ctx, stage.Verify) }

// VerifyFiles checks binaries from elsewhere: mage verifyFiles "bin/app bin/worker".
func VerifyFiles(ctx context.Context, paths string) error { return stage.VerifyFiles(ctx, paths) }

// Image builds, verifies and assembles an image per build, then publishes it (default: dist/).
func Image(ctx context.Context) error { return stage.Deps(ctx, image) }

// image is the Image stage with the light publishers; unexported so mage does not list it.
func image(ctx context.Context) error {
	if err := stage.Deps(ctx, stage.Verify); err != nil {
		return err
	}
	return stage.Image(ctx, nil)
}

// Dockerfile writes the equivalent multi-stage Dockerfile, for teams that must keep one.
func Dockerfile(ctx context.Context) error { return stage.Dockerfile(ctx) }

// PGO collects CPU profiles, validates and merges them, and places default.pgo for each build.
func PGO(ctx context.Context) error { return stage.Deps(ctx, stage.PGO) }

// Index joins per-platform images into one index: mage index "amd64/artifacts.json arm64/artifacts.json".
func Index(ctx context.Context, sources string) error { return stage.Index(ctx, sources) }

// ImageTo publishes the images to one more registry repository: mage imageTo ghcr.io/acme.
func ImageTo(ctx context.Context, repo string) error { return stage.Deps(ctx, mg.F(imageTo, repo)) }

// imageTo is ImageTo after Verify; unexported so mage does not list it.
func imageTo(ctx context.Context, repo string) error {
	if err := stage.Deps(ctx, stage.Verify); err != nil {
		return err
	}
	return stage.ImageTo(ctx, nil, repo)
}

// Smoke checks each image's filesystem and runs it in a real container with its probes.
func Smoke(ctx context.Context) error { return stage.Deps(ctx, smoke) }

// smoke is the Smoke stage after Image; unexported so mage does not list it.
func smoke(ctx context.Context) error {
	if err := stage.Deps(ctx, image); err != nil {
		return err
	}
	return stage.Smoke(ctx)
}

// Release runs Build, Verify, Image and Smoke, each once, and prints what went where (no signing).
func Release(ctx context.Context) error {
	if err := stage.Deps(ctx, smoke); err != nil {
		return err
	}
	return stage.Summary(ctx)
}
