//go:build mage

// A team's pipeline composed from scratchkit's targets with steps of its own.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	//mage:import sk
	"github.com/scratchkit/scratchkit/targets"
)

func init() {
	// Settings that belong to the pipeline rather than to scratchkit.yaml.
	targets.Configure(targets.Config{
		Platforms: []string{"linux/amd64", "linux/arm64"},
	})
}

// Test runs the service's own tests.
func Test() error { return sh.RunV("go", "test", "./...") }

// Ship tests the service, pushes it to the primary and mirror registries, smoke-tests and signs it.
func Ship(ctx context.Context) error {
	primary, mirror := os.Getenv("PRIMARY_REPO"), os.Getenv("MIRROR_REPO")
	if primary == "" || mirror == "" {
		return fmt.Errorf("set PRIMARY_REPO and MIRROR_REPO to the two registry repositories")
	}
	mg.CtxDeps(ctx, Test)
	// Serially: one registry after the other, then the smoke test of what was pushed, then the
	// signatures of every pushed digest, in both registries.
	mg.SerialCtxDeps(ctx, mg.F(targets.ImageTo, primary), mg.F(targets.ImageTo, mirror))
	mg.SerialCtxDeps(ctx, targets.Smoke, targets.SignRecorded)
	return nil
}
