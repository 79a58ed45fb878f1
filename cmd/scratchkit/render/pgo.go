package render

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scratchkit/scratchkit/targets/pgo"
)

// PGOReport prints what a PGO collection found: the inputs, the top functions by flat and
// cumulative CPU, and the staleness against the current source when r.Stale is set.
func PGOReport(w io.Writer, r pgo.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "PGO profile: %d of %d inputs, %d samples, %s CPU over %s of profiling\n",
		r.Used, len(r.Inputs), r.Samples, r.CPU.Round(time.Millisecond), r.Duration.Round(time.Millisecond))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, in := range r.Inputs {
		if in.Err != nil {
			fmt.Fprintf(tw, "  ✗ %s\t%s\n", in.Kind, in.Err)
			continue
		}
		extra := ""
		if in.Load != nil {
			extra = fmt.Sprintf("\tload: %d requests (%.0f/s), %d errors", in.Load.Requests, in.Load.Throughput(), in.Load.Errors)
		}
		fmt.Fprintf(tw, "  ✓ %s\t%s\t%d samples\t%s CPU in %s\t×%.3g%s\n", in.Kind, in.Source, in.Samples,
			in.CPU.Round(time.Millisecond), in.Duration.Round(time.Millisecond), in.Scale, extra)
	}
	tw.Flush()
	for _, list := range []struct {
		title string
		fs    []pgo.FuncShare
	}{{"top by flat (own) CPU", r.Flat}, {"top by cumulative CPU", r.Cum}} {
		if len(list.fs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s:\n", list.title)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, f := range list.fs {
			fmt.Fprintf(tw, "%5.1f%%\t%s\t  %s\n", 100*f.Share, f.CPU.Round(time.Millisecond), f.Name)
		}
		tw.Flush()
	}
	if r.Stale != nil {
		writeStaleness(&b, *r.Stale)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeStaleness says how much of a profile's hot module code still matches the source, and
// names the heaviest functions that do not.
func writeStaleness(b *strings.Builder, r pgo.StaleReport) {
	if r.ModuleWeight == 0 {
		fmt.Fprintf(b, "staleness: no samples in module %s\n", r.Module)
		return
	}
	fmt.Fprintf(b, "staleness: %.1f%% of the profile's CPU runs through %s; of that, %.1f%% matches the current source",
		100*float64(r.ModuleWeight)/float64(max(r.Total, 1)), r.Module, 100*r.Current)
	if r.Stale() > 0 {
		fmt.Fprintf(b, ", %.1f%% is in functions missing now, %.1f%% moved to another file, %.1f%% changed shape; refresh the profile when this grows",
			100*r.Missing, 100*r.Moved, 100*r.Changed)
	}
	b.WriteString("\n")
	shown := 0
	for _, f := range r.Functions {
		if f.Status == pgo.StatusCurrent || shown == 10 {
			continue
		}
		shown++
		where := f.File
		if f.CurrentFile != "" {
			where += " → " + f.CurrentFile
		}
		fmt.Fprintf(b, "  %-7s %5.1f%%  %s (%s)\n", f.Status, 100*f.Share, f.Name, where)
	}
}
