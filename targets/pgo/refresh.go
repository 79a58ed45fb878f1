package pgo

import (
	"context"

	"github.com/google/pprof/profile"
)

// Result is what Refresh did.
type Result struct {
	Profile    *profile.Profile // the merged profile; nil when collection failed
	Placements []Placement
	Report     Report // Report.Stale is set when a module directory was given
}

// Refresh collects, validates and merges profiles, places them for the targets, and reports,
// with the default top-10 lists. moduleDir, when not empty, is the module root checked for
// staleness. Nothing is written unless collection succeeded and the merged profile validated, so
// an existing default.pgo survives every failed run byte for byte.
func Refresh(ctx context.Context, opts Options, targets []Target, place PlaceOptions, moduleDir string) (Result, error) {
	p, inputs, err := Collect(ctx, opts)
	res := Result{Profile: p, Report: Summarize(p, inputs, 10)}
	if err != nil {
		return res, err
	}
	if place.MainModule == "" {
		place.MainModule = opts.MainModule
	}
	res.Placements, err = Place(p, targets, place)
	if err != nil {
		return res, err
	}
	if moduleDir != "" {
		st, err := Staleness(p, moduleDir)
		if err != nil {
			return res, err
		}
		res.Report.Stale = &st
	}
	return res, nil
}
