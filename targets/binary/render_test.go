package binary_test

import (
	"github.com/scratchkit/scratchkit/cmd/scratchkit/render"
	"github.com/scratchkit/scratchkit/targets/binary"
)

// The table a person reads is printed by cmd/scratchkit/render; see WriteTable in export_test.go.
func init() { binary.WriteTable = render.VerifyTable }
