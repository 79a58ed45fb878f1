package run_test

import (
	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/targets/run"
)

// The report a person reads is printed by cmd/scratchkit/render; see WriteReport in export_test.go.
func init() { run.WriteReport = render.SmokeReport }
