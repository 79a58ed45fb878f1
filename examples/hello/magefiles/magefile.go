//go:build mage

// The hello service's build: scratchkit's targets, imported as they are.
//
//	mage build    # static binaries under dist/
//	mage image    # verified, imaged: OCI layout + docker-loadable tarball under dist/
//	mage -l       # every target
package main

import (
	//mage:import
	_ "github.com/scratchkit/scratchkit/targets"
)
