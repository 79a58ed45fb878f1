// Package render prints what the engine packages report for a person: Verify's table of
// binaries, Image's push progress and table, Smoke's report and the PGO report. The engine
// packages under targets/ return data; the engine (cmd/scratchkit/engine) renders it with this
// package, taking colour from cmd/scratchkit/ui and sizes from internal/bytesize.
package render
