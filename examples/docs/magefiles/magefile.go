//go:build mage

// The docs service's build: scratchkit's targets, imported as they are (run from here: go tool mage -w .. image).
package main

import (
	//mage:import
	_ "github.com/scratchkit/scratchkit/targets"
)
