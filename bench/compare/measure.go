package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// sample is one timed run of one variant.
type sample struct {
	d     time.Duration
	bytes int64 // uploaded to the registry, where counted
}

// variant is one tool's way of doing a row's work.
type variant struct {
	name string
	// prep runs untimed before each run, e.g. to change a source file.
	prep func() error
	// run does the work and times it (commands are timed as a whole, see run).
	run func(ctx context.Context) (sample, error)
}

// alternate runs every variant once untimed when warm is set, then n iterations of every
// variant, in an order rotated by the iteration. It returns the samples by variant name.
func (b *bench) alternate(ctx context.Context, row string, n int, warm bool, vs ...*variant) (map[string][]sample, error) {
	res := map[string][]sample{}
	step := func(v *variant, label string) (sample, error) {
		if v.prep != nil {
			if err := v.prep(); err != nil {
				return sample{}, fmt.Errorf("%s: %s: prepare: %w", row, v.name, err)
			}
		}
		if err := ctx.Err(); err != nil {
			return sample{}, err
		}
		s, err := v.run(ctx)
		if err != nil {
			return s, fmt.Errorf("%s: %s: %w", row, v.name, err)
		}
		if b.opts.verbose {
			extra := ""
			if s.bytes > 0 {
				extra = "  uploaded " + formatBytes(float64(s.bytes))
			}
			fmt.Fprintf(os.Stderr, "  %-28s %-6s %-34s %7.3f s%s\n", row, label, v.name, s.d.Seconds(), extra)
		}
		return s, nil
	}
	if warm {
		for _, v := range vs {
			if _, err := step(v, "warmup"); err != nil {
				return nil, err
			}
		}
	}
	for i := 0; i < n; i++ {
		for j := range vs {
			v := vs[(i+j)%len(vs)]
			s, err := step(v, fmt.Sprintf("#%d", i+1))
			if err != nil {
				return nil, err
			}
			res[v.name] = append(res[v.name], s)
		}
	}
	return res, nil
}

// unit says how a row's numbers print.
type unit int

const (
	seconds unit = iota
	byteSize
	exactBytes // byteSize, plus the exact number
	count
)

// row is one line of a table: scratchkit's numbers against the other tool's.
type row struct {
	name      string
	sk, other []float64 // other may be empty: no counterpart
	unit      unit
}

func durations(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.d.Seconds()
	}
	return out
}

func uploads(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = float64(s.bytes)
	}
	return out
}

// printTable prints a markdown table of medians and ratios.
func printTable(title, skCol, otherCol string, rows []row) {
	fmt.Printf("\n### %s\n\n", title)
	fmt.Printf("| row | %s | %s | ratio | N |\n|---|---:|---:|---:|---:|\n", skCol, otherCol)
	for _, r := range rows {
		sk, other, ratio := "—", "—", "—"
		if len(r.sk) > 0 {
			sk = format(median(r.sk), r.unit)
		}
		if len(r.other) > 0 {
			other = format(median(r.other), r.unit)
		}
		if len(r.sk) > 0 && len(r.other) > 0 && median(r.other) != 0 {
			ratio = fmt.Sprintf("%.2f×", median(r.sk)/median(r.other))
		}
		n := fmt.Sprint(len(r.sk))
		if len(r.other) > 0 && len(r.other) != len(r.sk) {
			n = fmt.Sprintf("%d / %d", len(r.sk), len(r.other))
		} else if len(r.sk) == 0 {
			n = fmt.Sprint(len(r.other))
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", r.name, sk, other, ratio, n)
	}
}

// printRuns prints every run of the named variants of a row, in iteration order: for rows of
// few runs (the cold ones), where a median hides how much the shared machine moved.
func printRuns(row string, res map[string][]sample, names ...string) {
	var parts []string
	for _, name := range names {
		var runs []string
		for _, s := range res[name] {
			runs = append(runs, fmt.Sprintf("%.1f s", s.d.Seconds()))
		}
		parts = append(parts, fmt.Sprintf("%s %s", name, strings.Join(runs, ", ")))
	}
	fmt.Printf("- %s, each run: %s\n", row, strings.Join(parts, "; "))
}

func format(v float64, u unit) string {
	switch u {
	case byteSize:
		return formatBytes(v)
	case exactBytes:
		return fmt.Sprintf("%s (%.0f B)", formatBytes(v), v)
	case count:
		return fmt.Sprintf("%.0f", v)
	}
	if v < 0.1 {
		return fmt.Sprintf("%.3f s", v)
	}
	return fmt.Sprintf("%.2f s", v)
}

func formatBytes(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f MB", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f kB", v/1e3)
	}
	return fmt.Sprintf("%.0f B", v)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// splitWords splits a POSIX shell command line as gobuild prints it: words separated by blanks,
// single quotes (with '\” for a quote), double quotes and backslash escapes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
