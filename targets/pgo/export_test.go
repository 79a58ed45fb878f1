package pgo

import "io"

// WriteReport prints a report as scratchkit's PGO stage does: it is render.PGOReport, which
// render_test.go sets before any test runs. The report is printed by cmd/scratchkit/render, which
// imports this package, so the tests here that check what a person reads reach it through this
// variable rather than by importing it.
var WriteReport func(w io.Writer, r Report) error
