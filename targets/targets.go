// Package targets gives a magefile scratchkit's targets: import it with //mage:import.
//
//	//mage:import
//	_ "github.com/scratchkit/scratchkit/targets"
//
// Every target reads scratchkit.yaml (and .ko.yaml) in the working directory, then what the
// magefile passed to Configure, then the environment. Each runs at most once per mage invocation,
// however many targets depend on it.
//
// This package links everything, cosign and ko's publishers included. A team that does not sign
// can import github.com/scratchkit/scratchkit/targets/lite instead and not pay for them.
package targets

import (
	"context"

	"github.com/magefile/mage/mg"

	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/internal/signstage"
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

// Sign signs every pushed image digest with cosign, attests SBOM and provenance, signs SHA256SUMS.
func Sign(ctx context.Context) error { return stage.Deps(ctx, sign) }

// VerifySignatures checks the signatures and attestations of artifacts.json with the public key.
func VerifySignatures(ctx context.Context) error { return signstage.VerifySignatures(ctx) }

// Keygen writes a cosign key pair (cosign.key, cosign.pub), encrypted with COSIGN_PASSWORD.
func Keygen(ctx context.Context) error { return signstage.Keygen(ctx) }

// sign is the Sign stage after Image; unexported so mage does not list it.
func sign(ctx context.Context) error {
	if err := stage.Deps(ctx, image); err != nil {
		return err
	}
	return signstage.Sign(ctx)
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
	return stage.ImageTo(ctx, koPublishers, repo)
}

// SignRecorded signs the image digests artifacts.json records, without running Image first.
func SignRecorded(ctx context.Context) error { return signstage.Sign(ctx) }

// Smoke checks each image's filesystem and runs it in a real container with its probes.
func Smoke(ctx context.Context) error { return stage.Deps(ctx, smoke) }

// smoke is the Smoke stage after Image; unexported so mage does not list it.
func smoke(ctx context.Context) error {
	if err := stage.Deps(ctx, image); err != nil {
		return err
	}
	return stage.Smoke(ctx)
}

// Release runs Build, Verify, Image, Smoke and Sign, each once, and prints what went where.
func Release(ctx context.Context) error {
	if err := stage.Deps(ctx, smoke); err != nil {
		return err
	}
	if err := stage.Deps(ctx, sign); err != nil {
		return err
	}
	return stage.Summary(ctx)
}
