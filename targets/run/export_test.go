package run

import "io"

// WriteReport prints reports as scratchkit's Smoke report: it is render.SmokeReport, which
// render_test.go sets before any test runs. The report lives in cmd/scratchkit/render, which imports
// this package, so the smoke tests here that check what a person reads reach it through this
// variable rather than by importing it.
var WriteReport func(w io.Writer, reports []Report) error
