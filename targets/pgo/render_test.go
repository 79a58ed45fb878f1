package pgo_test

import (
	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/targets/pgo"
)

// The report a person reads is printed by cmd/scratchkit/render; see WriteReport in export_test.go.
func init() { pgo.WriteReport = render.PGOReport }
