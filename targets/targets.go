// Package targets gives a magefile scratchkit's targets: import it with //mage:import.
//
//	//mage:import
//	_ "github.com/scratchkit/scratchkit/targets"
//
// Every target reads scratchkit.yaml (and .ko.yaml) in the working directory, then what the
// magefile passed to Configure, then the environment. Each stage runs at most once per mage
// invocation, however many targets depend on it.
//
// The targets are thin: they run the scratchkit engine (cmd/scratchkit), which is built once per
// scratchkit version (or per change to a replaced checkout), Go version and host, and cached
// under the user cache directory (SCRATCHKIT_CACHE overrides it). So a magefile importing this
// package compiles only the standard library, mage's mg and this, and signing (cosign) is
// compiled only the first time a target needs it.
package targets

import (
	"context"

	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/launch"
)

// Config is the configuration a magefile can set; its fields mirror scratchkit.yaml.
type Config = config.Config

// run is this mage invocation's use of the engine.
var run launch.Session

// Configure sets configuration from the magefile, over scratchkit.yaml and under the environment.
// Mage ignores it as a target because it takes a parameter.
func Configure(c Config) { run.Configure(c) }

// Build cross-compiles every main package into static binaries under dist/.
func Build(ctx context.Context) error { return run.Run(ctx, "build", "", false) }

// Verify proves every built binary static, stripped and clean, and says why when it is not.
func Verify(ctx context.Context) error { return run.Run(ctx, "verify", "", false) }

// VerifyFiles checks binaries from elsewhere: mage verifyFiles "bin/app bin/worker".
func VerifyFiles(ctx context.Context, paths string) error {
	return run.Run(ctx, "verifyFiles", paths, false)
}

// Image builds, verifies and assembles an image per build, then publishes it (default: dist/).
func Image(ctx context.Context) error { return run.Run(ctx, "image", "", false) }

// ImageTo publishes the images to one more registry repository: mage imageTo ghcr.io/acme.
func ImageTo(ctx context.Context, repo string) error { return run.Run(ctx, "imageTo", repo, false) }

// Index joins per-platform images into one index: mage index "amd64/artifacts.json arm64/artifacts.json".
func Index(ctx context.Context, sources string) error { return run.Run(ctx, "index", sources, false) }

// Smoke checks each image's filesystem and runs it in a real container with its probes.
func Smoke(ctx context.Context) error { return run.Run(ctx, "smoke", "", false) }

// PGO collects CPU profiles, validates and merges them, and places default.pgo for each build.
func PGO(ctx context.Context) error { return run.Run(ctx, "pgo", "", false) }

// PGOCheck measures what a new profile buys on pgo.workload, built with and without it side by side, and places nothing.
func PGOCheck(ctx context.Context) error { return run.Run(ctx, "pgoCheck", "", false) }

// Resolve runs Image, then writes resolve.files with each ko://<import path> replaced by that image's reference by digest.
func Resolve(ctx context.Context) error { return run.Run(ctx, "resolve", "", false) }

// Dev rebuilds, verifies and reruns (or pushes) the host platform's image on every saved change, until Ctrl-C.
func Dev(ctx context.Context) error { return run.Run(ctx, "dev", "", false) }

// Dockerfile writes the equivalent multi-stage Dockerfile, for teams that must keep one.
func Dockerfile(ctx context.Context) error { return run.Run(ctx, "dockerfile", "", false) }

// Sign signs every pushed image digest with cosign, attests SBOM and provenance, signs SHA256SUMS.
func Sign(ctx context.Context) error { return run.Run(ctx, "sign", "", true) }

// SignRecorded signs the image digests artifacts.json records, without running Image first.
func SignRecorded(ctx context.Context) error { return run.Run(ctx, "signRecorded", "", true) }

// VerifySignatures checks the signatures and attestations of artifacts.json with the public key.
func VerifySignatures(ctx context.Context) error {
	return run.Run(ctx, "verifySignatures", "", true)
}

// Keygen writes a cosign key pair (cosign.key, cosign.pub), encrypted with COSIGN_PASSWORD.
func Keygen(ctx context.Context) error { return run.Run(ctx, "keygen", "", false) }

// Release runs Build, Verify, Image, Smoke and Sign, each once, and prints what went where.
func Release(ctx context.Context) error { return run.Run(ctx, "release", "", true) }
