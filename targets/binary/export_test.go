package binary

import "io"

// WriteTable prints reports as scratchkit's Verify table: it is render.VerifyTable, which
// render_test.go sets before any test runs. The table lives in cmd/scratchkit/render, which imports
// this package, so the tests here that check what a person reads (table_test.go, the fuzz
// test) reach it through this variable rather than by importing it.
var WriteTable func(w io.Writer, reports []Report, colour bool) error
