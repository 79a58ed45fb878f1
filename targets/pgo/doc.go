// Package pgo closes Go's profile-guided optimisation loop: it collects CPU profiles from live
// services, from a local workload or from files, validates and merges them, and places the result
// as default.pgo next to each main package so the next `go build` (with the default -pgo=auto)
// compiles with it.
//
// The flow is plain data in, plain data out:
//
//	merged, inputs, err := pgo.Collect(ctx, pgo.Options{...})   // fetch, validate, scale, merge
//	placements, err := pgo.Place(merged, targets, pgo.PlaceOptions{...})
//	report := pgo.Summarize(merged, inputs, 10)                  // what went in, what is hot
//	stale, err := pgo.Staleness(merged, moduleDir)               // does the hot code still exist?
//
// Refresh does all of it in one call and never replaces an existing default.pgo unless the new
// profile validated.
//
// # Validation
//
// Every input must be a CPU profile (sample types samples/count and cpu/nanoseconds) with samples,
// symbolized (function names present, as Go's runtime writes them), from a Go program (runtime
// frames and function start lines, which the compiler needs: Go 1.20 or later), and, when
// Options.MainModule is set, with samples in that module. A bad input is reported with its source
// and the reason; see the Err* values for the kinds.
//
// # Scaling
//
// Inputs are merged so that each weighs the same: every valid input is multiplied by
// max(total)/total, where total is its cpu/nanoseconds sum, so each contributes exactly as much CPU
// time as the busiest input. Without this, a 60-second profile would count twice as much as a
// 30-second one, and a replica that happened to be busier would dominate. Scaling only up (factors
// of 1 or more) means no sample is rounded away. Both sample values are scaled, because the
// compiler reads samples/count when it is present. Sample labels are dropped (the compiler ignores
// them and they keep otherwise identical stacks apart); the merged profile is compacted.
package pgo
