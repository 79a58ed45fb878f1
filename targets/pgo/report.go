package pgo

import (
	"sort"
	"time"

	"github.com/google/pprof/profile"
)

// FuncShare is one function's part of the profile.
type FuncShare struct {
	Name  string
	CPU   time.Duration // of the merged (scaled) profile
	Share float64       // of the merged profile's total, 0..1
}

// Report summarizes a collection: what went in and what is hot.
type Report struct {
	Inputs   []Input
	Used     int           // inputs merged
	Samples  int64         // samples/count in the inputs used, as collected
	CPU      time.Duration // cpu/nanoseconds in the inputs used, as collected
	Duration time.Duration // the inputs' profile windows added up
	Flat     []FuncShare   // top functions by their own CPU time
	Cum      []FuncShare   // top functions by CPU time including what they call
	Stale    *StaleReport  // set by the caller after Staleness, or nil
}

// Summarize reports the inputs and the top functions of p by flat and cumulative share.
func Summarize(p *profile.Profile, inputs []Input, top int) Report {
	r := Report{Inputs: inputs}
	for _, in := range inputs {
		if in.Used() {
			r.Used++
			r.Samples += in.Samples
			r.CPU += in.CPU
			r.Duration += in.Duration
		}
	}
	if p == nil {
		return r
	}
	ci := cpuIndex(p)
	if ci < 0 {
		return r
	}
	flat, cum := map[string]int64{}, map[string]int64{}
	var all int64
	for _, s := range p.Sample {
		v := s.Value[ci]
		all += v
		seen := map[string]bool{}
		for li, l := range s.Location {
			for j, ln := range l.Line {
				if ln.Function == nil {
					continue
				}
				name := ln.Function.Name
				if li == 0 && j == 0 {
					flat[name] += v
				}
				if !seen[name] {
					seen[name] = true
					cum[name] += v
				}
			}
		}
	}
	r.Flat = topShares(flat, all, top)
	r.Cum = topShares(cum, all, top)
	return r
}

func topShares(m map[string]int64, all int64, top int) []FuncShare {
	out := make([]FuncShare, 0, len(m))
	for name, v := range m {
		out = append(out, FuncShare{Name: name, CPU: time.Duration(v), Share: float64(v) / float64(max(all, 1))})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CPU != out[j].CPU {
			return out[i].CPU > out[j].CPU
		}
		return out[i].Name < out[j].Name
	})
	if top > 0 && len(out) > top {
		out = out[:top]
	}
	return out
}
