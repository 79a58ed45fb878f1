package render

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/scratchkit/scratchkit/cmd/scratchkit/ui"
	"github.com/scratchkit/scratchkit/internal/bytesize"
	"github.com/scratchkit/scratchkit/targets/binary"
)

// VerifyTable writes one table for all binaries — name, platform, size, then one column per
// check — followed by the diagnosis of every failure and warning, the notes, the Go build
// settings (PGO, tags), and the size breakdowns that were asked for or caused by a size
// failure. colour selects ANSI colours; callers pass ui.Colour(), false when NO_COLOR is set or
// standard output is not a terminal.
//
// A Result whose check is none of binary.CheckNames (a check the caller ran itself, such as the
// engine's vulnerability scan) gets a column of its own after them. A Detail's lines after the
// first are printed as indented paragraphs of their own.
func VerifyTable(w io.Writer, reports []binary.Report, colour bool) error {
	bw := bufio.NewWriter(w)
	p := newPainter(colour)
	checks := binary.CheckNames()
	for _, r := range reports {
		for _, res := range r.Results {
			if res.Check != binary.CheckInspect && res.Check != binary.CheckConfig && !slices.Contains(checks, res.Check) {
				checks = append(checks, res.Check)
			}
		}
	}

	header := append([]string{"BINARY", "PLATFORM", "SIZE"}, checks...)
	rows := make([][]cell, 0, len(reports))
	for _, r := range reports {
		size := bytesize.Format(r.Size)
		if r.PrevSize > 0 {
			size += " (" + bytesize.Signed(r.Size-r.PrevSize) + ")"
		}
		if r.Size == 0 && r.Format == "" {
			size = "-"
		}
		row := []cell{{text: r.Name}, {text: orDash(r.Platform.String())}, {text: size}}
		if res, ok := r.Unchecked(); ok {
			row[0].status = binary.StatusFail
			for range checks {
				row = append(row, cell{text: "-"})
			}
			row[3] = cell{text: strings.ToUpper(res.Check) + " FAILED", status: binary.StatusFail}
		} else {
			for _, name := range checks {
				res, ok := r.Result(name)
				if !ok {
					row = append(row, cell{text: "-"})
					continue
				}
				row = append(row, cell{text: cellText(res), status: res.Status})
			}
			if r.Failed() {
				row[0].status = binary.StatusFail
			}
		}
		rows = append(rows, row)
	}
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	for _, row := range rows {
		for i, c := range row {
			if i < len(widths) {
				widths[i] = max(widths[i], len(c.text))
			}
		}
	}
	writeRow := func(cells []cell) {
		for i, c := range cells {
			if i > 0 {
				bw.WriteString("  ")
			}
			bw.WriteString(p.paint(c.status, c.text))
			if i < len(cells)-1 {
				bw.WriteString(strings.Repeat(" ", widths[i]-len(c.text)))
			}
		}
		bw.WriteString("\n")
	}
	hcells := make([]cell, len(header))
	for i, h := range header {
		hcells[i] = cell{text: h, status: "header"}
	}
	writeRow(hcells)
	for _, row := range rows {
		writeRow(row)
	}

	// Every failure's diagnosis, every warning, every note.
	for _, r := range reports {
		var lines []string
		for _, res := range r.Results {
			switch res.Status {
			case binary.StatusFail:
				lines = append(lines, p.paint(binary.StatusFail, "FAIL")+" "+res.Check+": "+res.Detail)
			case binary.StatusWarn:
				lines = append(lines, p.paint(binary.StatusWarn, "warn")+" "+res.Check+": "+res.Detail)
			}
		}
		for _, n := range r.Notes {
			lines = append(lines, "note: "+n)
		}
		if len(lines) == 0 {
			continue
		}
		verdict := "passed"
		if r.Failed() {
			verdict = p.paint(binary.StatusFail, "FAILED")
		}
		fmt.Fprintf(bw, "\n%s (%s) %s\n", p.Bold(r.Name), orDash(r.Platform.String()), verdict)
		for _, l := range lines {
			paras := strings.Split(l, "\n")
			bw.WriteString(wrap(paras[0], 100, "  ", "      "))
			for _, para := range paras[1:] {
				bw.WriteString(wrap(para, 100, "      ", "        "))
			}
		}
	}

	// What the Go toolchain recorded: PGO and tags.
	var build []string
	for _, r := range reports {
		if r.GoVersion == "" {
			continue
		}
		pgo, tags, mode := "off", "none", r.BuildMode
		if r.PGO != "" {
			pgo = r.PGO
		}
		if len(r.Tags) > 0 {
			tags = strings.Join(r.Tags, ",")
		}
		if mode == "" {
			mode = "exe"
		}
		build = append(build, fmt.Sprintf("  %s (%s): %s, -buildmode=%s, pgo: %s, tags: %s\n", r.Name, orDash(r.Platform.String()), r.GoVersion, mode, pgo, tags))
	}
	if len(build) > 0 {
		fmt.Fprintf(bw, "\n%s\n", p.Bold("Go build settings"))
		for _, b := range build {
			bw.WriteString(b)
		}
	}

	for _, r := range reports {
		if r.Breakdown != nil {
			writeBreakdown(bw, p, r)
		}
	}

	failed := 0
	for _, r := range reports {
		if r.Failed() {
			failed++
		}
	}
	switch {
	case len(reports) == 0:
		fmt.Fprintf(bw, "\nno binaries to verify\n")
	case failed > 0:
		fmt.Fprintf(bw, "\n%s\n", p.paint(binary.StatusFail, fmt.Sprintf("%d of %d binaries failed verification", failed, len(reports))))
	default:
		fmt.Fprintf(bw, "\n%s\n", p.paint(binary.StatusPass, fmt.Sprintf("%d of %d binaries passed verification", len(reports), len(reports))))
	}
	return bw.Flush()
}

func writeBreakdown(w io.Writer, p painter, r binary.Report) {
	b := r.Breakdown
	change := ""
	if b.PrevTotal > 0 {
		change = fmt.Sprintf(" (%s since the previous run)", bytesize.Signed(b.Total-b.PrevTotal))
	}
	fmt.Fprintf(w, "\n%s %s (%s): %s%s\n", p.Bold("Size breakdown"), r.Name, orDash(r.Platform.String()), bytesize.Format(b.Total), change)
	list := func(title string, items []binary.SizeItem, total int64) {
		if len(items) == 0 {
			return
		}
		width := len(title)
		for _, it := range items {
			width = max(width, len(it.Name)+2)
		}
		fmt.Fprintf(w, "  %-*s  %10s  %6s  %s\n", width, title, "size", "share", "change")
		for _, it := range items {
			ch := ""
			switch {
			case it.HasPrev:
				ch = bytesize.Signed(it.Size - it.Prev)
			case b.PrevTotal > 0:
				ch = "new"
			}
			share := ""
			if total > 0 {
				share = fmt.Sprintf("%5.1f%%", 100*float64(it.Size)/float64(total))
			}
			fmt.Fprintf(w, "  %-*s  %10s  %6s  %s\n", width, "  "+it.Name, bytesize.Format(it.Size), share, ch)
		}
	}
	list("ELF sections", b.Sections, b.Total)
	if len(b.Packages) > 0 {
		list("Go packages by code size", b.Packages, b.Code)
	}
}

type cell struct {
	text   string
	status binary.Status
}

// cellText is what a result shows in the table.
func cellText(r binary.Result) string {
	switch r.Status {
	case binary.StatusFail:
		return "FAIL"
	case binary.StatusWarn:
		return "warn"
	case binary.StatusSkip:
		return "-"
	case binary.StatusNA:
		return "n/a"
	case binary.StatusInfo:
		return r.Value
	}
	switch r.Check {
	case binary.CheckLinkage, binary.CheckCgo, binary.CheckPIE, binary.CheckRELRO, binary.CheckNX:
		if r.Value != "" {
			return r.Value
		}
	}
	return "ok"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// painter colours text by status, or leaves it alone.
type painter struct{ ui.Palette }

func newPainter(on bool) painter { return painter{ui.NewPalette(on)} }

func (p painter) paint(s binary.Status, text string) string {
	switch s {
	case binary.StatusFail:
		return p.Red(text)
	case binary.StatusWarn:
		return p.Yellow(text)
	case binary.StatusPass:
		return p.Green(text)
	case binary.StatusInfo, binary.StatusSkip, binary.StatusNA:
		return p.Faint(text)
	case "header":
		return p.Bold(text)
	}
	return text
}

// wrap breaks s into lines of at most width columns (longer words stay whole), the first
// line prefixed with first, the others with rest.
func wrap(s string, width int, first, rest string) string {
	var b strings.Builder
	line := first
	n := len(first)
	empty := true
	for _, word := range strings.Fields(s) {
		wl := visibleLen(word)
		if !empty && n+1+wl > width {
			b.WriteString(line + "\n")
			line, n, empty = rest, len(rest), true
		}
		if !empty {
			line += " "
			n++
		}
		line += word
		n += wl
		empty = false
	}
	b.WriteString(line + "\n")
	return b.String()
}

// visibleLen is the length of s without ANSI escape sequences.
func visibleLen(s string) int {
	n := 0
	in := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == 0x1b:
			in = true
		case in && s[i] == 'm':
			in = false
		case !in:
			n++
		}
	}
	return n
}
