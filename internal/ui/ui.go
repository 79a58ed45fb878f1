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

// Table prints rows under a header, aligned.
func (p *Printer) Table(header []string, rows [][]string) {
	w := tabwriter.NewWriter(p.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
}
