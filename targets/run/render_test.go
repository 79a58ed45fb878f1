package run_test

import (
	"github.com/scratchkit/scratchkit/internal/render"
	"github.com/scratchkit/scratchkit/targets/run"
)

// The report a person reads is printed by internal/render; see WriteReport in export_test.go.
func init() { run.WriteReport = render.SmokeReport }
