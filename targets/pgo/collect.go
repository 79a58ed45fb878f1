package pgo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/pprof/profile"
)

// source is one input to collect: how to get its bytes.
type source struct {
	in  Input
	get func(ctx context.Context) ([]byte, *LoadResult, error)
}

// Collect gets every configured profile concurrently (all endpoints and the workload profile at
// the same time, so N replicas take one profile length, not N), validates each, scales them to
// equal weight and merges them (see the package doc). Inputs lists every source in the order
// endpoints, files, workload, each with its error or its numbers.
//
// The error wraps ErrTooFewSources when fewer than Options.MinSources inputs are valid (all of
// them when MinSources is 0), and lists every bad input with its reason. Cancelling ctx stops
// every fetch and the workload.
func Collect(ctx context.Context, opts Options) (*profile.Profile, []Input, error) {
	srcs, err := sources(&opts)
	if err != nil {
		return nil, nil, err
	}
	need := opts.MinSources
	if need <= 0 {
		need = len(srcs)
	}
	if need > len(srcs) {
		return nil, nil, fmt.Errorf("pgo: %w: at least %d valid profiles are required but only %d sources are configured", ErrConfig, need, len(srcs))
	}

	inputs := make([]Input, len(srcs))
	profiles := make([]*profile.Profile, len(srcs))
	var wg sync.WaitGroup
	for i, s := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inputs[i], profiles[i] = collectOne(ctx, s, &opts)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, inputs, fmt.Errorf("pgo: collect: %w", err)
	}

	var good []*profile.Profile
	var goodIdx []int
	var bad []error
	for i, in := range inputs {
		if in.Err != nil {
			bad = append(bad, in.Err)
			continue
		}
		good = append(good, profiles[i])
		goodIdx = append(goodIdx, i)
	}
	if len(good) < need {
		return nil, inputs, &CollectError{Usable: len(good), Total: len(srcs), Need: need, Bad: bad}
	}
	if len(bad) > 0 {
		opts.logf("pgo: going on with %d of %d profiles (%d required); left out:\n%s", len(good), len(srcs), need, indent(bad))
	}

	weights := scaleEqual(good)
	for k, i := range goodIdx {
		inputs[i].Scale = weights[k].scale
		inputs[i].Weight = weights[k].weight
	}
	merged, err := profile.Merge(good)
	if err != nil {
		return nil, inputs, fmt.Errorf("pgo: merge %d profiles: %w", len(good), err)
	}
	if err := Validate(merged, opts.MainModule); err != nil {
		return nil, inputs, fmt.Errorf("pgo: merged profile: %w", err)
	}
	return merged, inputs, nil
}

// CollectError is Collect's error when too few inputs are valid. It matches ErrTooFewSources and
// each bad input's error with errors.Is.
type CollectError struct {
	Usable, Total, Need int
	Bad                 []error // one per bad input, each naming its source
}

func (e *CollectError) Error() string {
	return fmt.Sprintf("pgo: %v: %d of %d profiles are usable, %d required:\n%s", ErrTooFewSources, e.Usable, e.Total, e.Need, indent(e.Bad))
}

func indent(errs []error) string {
	var lines []string
	for _, err := range errs {
		lines = append(lines, "  "+err.Error())
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns ErrTooFewSources and the bad inputs' errors.
func (e *CollectError) Unwrap() []error { return append([]error{ErrTooFewSources}, e.Bad...) }

func sources(opts *Options) ([]source, error) {
	var srcs []source
	for _, ep := range opts.Endpoints {
		f, err := newFetcher(ep, opts, opts.seconds())
		name := shown(strings.TrimSpace(ep.URL))
		if f != nil {
			name = shown(f.url)
		}
		s := source{in: Input{Source: name, Kind: "endpoint"}}
		if err != nil {
			s.get = func(context.Context) ([]byte, *LoadResult, error) { return nil, nil, err }
		} else {
			s.get = func(ctx context.Context) ([]byte, *LoadResult, error) {
				opts.logf("pgo: fetching %ds CPU profile from %s", f.seconds, name)
				data, err := f.fetch(ctx)
				return data, nil, err
			}
		}
		srcs = append(srcs, s)
	}
	for _, path := range opts.Files {
		srcs = append(srcs, source{in: Input{Source: path, Kind: "file"}, get: func(context.Context) ([]byte, *LoadResult, error) {
			data, err := readProfileFile(path)
			return data, nil, err
		}})
	}
	if w := opts.Workload; w != nil {
		srcs = append(srcs, source{in: Input{Source: workloadSource(w), Kind: "workload"}, get: func(ctx context.Context) ([]byte, *LoadResult, error) {
			return runWorkload(ctx, w, opts)
		}})
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("pgo: %w: no profile sources: give endpoints, files or a local workload", ErrConfig)
	}
	return srcs, nil
}

// collectOne gets, parses, validates and normalizes one input.
func collectOne(ctx context.Context, s source, opts *Options) (Input, *profile.Profile) {
	in := s.in
	data, load, err := s.get(ctx)
	in.Load = load
	var p *profile.Profile
	if err == nil {
		p, err = Parse(data)
	}
	if err == nil {
		err = Validate(p, opts.MainModule)
		if ci := cpuIndex(p); ci >= 0 {
			in.CPU = time.Duration(total(p, ci))
		}
		if si := sampleIndex(p, "samples", "count"); si >= 0 {
			in.Samples = total(p, si)
		}
		in.Duration = time.Duration(p.DurationNanos)
	}
	if err != nil {
		in.Err = fmt.Errorf("%s: %w", in.Source, err)
		return in, nil
	}
	normalize(p)
	opts.logf("pgo: %s: %d samples, %s CPU in %s", in.Source, in.Samples, in.CPU, in.Duration.Round(time.Millisecond))
	return in, p
}

// normalize reduces a valid CPU profile to what PGO uses and what merging needs to be uniform:
// exactly the sample types samples/count and cpu/nanoseconds in that order, and no labels.
func normalize(p *profile.Profile) {
	si, ci := sampleIndex(p, "samples", "count"), cpuIndex(p)
	for _, s := range p.Sample {
		s.Value = []int64{s.Value[si], s.Value[ci]}
		s.Label, s.NumLabel, s.NumUnit = nil, nil, nil
	}
	p.SampleType = []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}}
	p.PeriodType = &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}
	p.DefaultSampleType = ""
}

type scaled struct {
	scale  float64
	weight int64
}

// scaleEqual multiplies every (normalized) profile by max(total)/total of its cpu/nanoseconds,
// so each weighs as much as the busiest one, and returns the factors and resulting weights.
func scaleEqual(ps []*profile.Profile) []scaled {
	const cpu = 1 // after normalize
	var most int64
	for _, p := range ps {
		most = max(most, total(p, cpu))
	}
	out := make([]scaled, len(ps))
	for i, p := range ps {
		r := float64(most) / float64(total(p, cpu))
		p.Scale(r)
		out[i] = scaled{scale: r, weight: total(p, cpu)}
	}
	return out
}
