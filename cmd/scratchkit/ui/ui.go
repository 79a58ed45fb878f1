// Package ui prints what the targets report for a person: a line per finished item, tables, and
// colour through fatih/color, which honours NO_COLOR and turns itself off when not on a terminal.
package ui

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/fatih/color"
)

// Printer writes to Out (default os.Stdout).
type Printer struct {
	Out io.Writer
}

// New returns a Printer on standard output.
func New() *Printer { return &Printer{Out: os.Stdout} }

var (
	green  = color.New(color.FgGreen).SprintFunc()
	red    = color.New(color.FgRed, color.Bold).SprintFunc()
	yellow = color.New(color.FgYellow).SprintFunc()
	bold   = color.New(color.Bold).SprintFunc()
	faint  = color.New(color.Faint).SprintFunc()
)

// OK prints a finished item.
func (p *Printer) OK(format string, args ...any) {
	fmt.Fprintf(p.Out, "%s %s\n", green("✓"), fmt.Sprintf(format, args...))
}

// Fail prints a failed item.
func (p *Printer) Fail(format string, args ...any) {
	fmt.Fprintf(p.Out, "%s %s\n", red("✗"), fmt.Sprintf(format, args...))
}

// Warn prints a warning.
func (p *Printer) Warn(format string, args ...any) {
	fmt.Fprintf(p.Out, "%s %s\n", yellow("!"), fmt.Sprintf(format, args...))
}

// Info prints a plain line.
func (p *Printer) Info(format string, args ...any) {
	fmt.Fprintf(p.Out, "  %s\n", fmt.Sprintf(format, args...))
}

// Heading prints a section title.
func (p *Printer) Heading(format string, args ...any) {
	fmt.Fprintf(p.Out, "\n%s\n", bold(fmt.Sprintf(format, args...)))
}

// Faint renders secondary text.
func Faint(s string) string { return faint(s) }

// Green and Red render a status word.
func Green(s string) string { return green(s) }
func Red(s string) string   { return red(s) }

// Colour reports whether standard output gets colour: it is a terminal and NO_COLOR is unset.
func Colour() bool { return !color.NoColor }

// Palette colours text as its owner decides, whatever standard output is: for a report written
// to a buffer, or for a caller that has already asked Colour.
type Palette struct {
	red, yellow, green, bold, faint *color.Color
}

// NewPalette returns a Palette that colours when on, and returns text unchanged otherwise.
func NewPalette(on bool) Palette {
	mk := func(a ...color.Attribute) *color.Color {
		c := color.New(a...)
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	return Palette{
		red:    mk(color.FgRed, color.Bold),
		yellow: mk(color.FgYellow),
		green:  mk(color.FgGreen),
		bold:   mk(color.Bold),
		faint:  mk(color.Faint),
	}
}

// Red renders a failure, Yellow a warning, Green a success, Bold a title and Faint what matters
// less, as the Printer's marks do.
func (p Palette) Red(s string) string    { return p.red.Sprint(s) }
func (p Palette) Yellow(s string) string { return p.yellow.Sprint(s) }
func (p Palette) Green(s string) string  { return p.green.Sprint(s) }
func (p Palette) Bold(s string) string   { return p.bold.Sprint(s) }
func (p Palette) Faint(s string) string  { return p.faint.Sprint(s) }

// Table prints rows under a header, aligned.
func (p *Printer) Table(header []string, rows [][]string) {
	w := tabwriter.NewWriter(p.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
}
