package binary

import (
	"cmp"
	"fmt"
	"slices"
)

// Sizes is the size record of one binary that a run keeps (e.g. in artifacts.json) so the
// next run can show what changed. Info.Sizes produces it; Expect.Prev takes it back.
type Sizes struct {
	Total    int64            `json:"total"`
	Sections map[string]int64 `json:"sections,omitempty"` // file bytes per ELF section
	Packages map[string]int64 `json:"packages,omitempty"` // code bytes per Go package
}

// Sizes returns the sizes of the inspected file, for the next run to compare against.
func (i *Info) Sizes() Sizes {
	s := Sizes{Total: i.Size}
	if len(i.Sections) > 0 {
		s.Sections = map[string]int64{}
		for _, sec := range i.Sections {
			if sec.Size > 0 {
				s.Sections[sec.Name] += sec.Size
			}
		}
	}
	if len(i.Packages) > 0 {
		s.Packages = map[string]int64{}
		for _, p := range i.Packages {
			s.Packages[p.Name] = p.Size
		}
	}
	return s
}

// Breakdown is where a binary's bytes go.
type Breakdown struct {
	Total     int64 `json:"total"`
	PrevTotal int64 `json:"prev_total,omitempty"` // 0 when there is no previous run
	// Sections are file bytes per ELF section, largest first; the bytes outside any section
	// (ELF and program headers, alignment padding) are "(headers and padding)".
	Sections []SizeItem `json:"sections,omitempty"`
	// Packages are the largest Go packages by code size (from the function table, which
	// stripped Go binaries keep), then "(N more packages)".
	Packages []SizeItem `json:"packages,omitempty"`
	// Code is the total Go code the function table accounts for.
	Code int64 `json:"code,omitempty"`
}

// SizeItem is one line of a Breakdown.
type SizeItem struct {
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	Prev    int64  `json:"prev,omitempty"`
	HasPrev bool   `json:"has_prev,omitempty"` // Prev is known (the previous run recorded this name)
}

// breakdownPackages is how many packages a breakdown lists by name.
const breakdownPackages = 15

// Breakdown computes where the bytes go, compared with prev when given.
func (i *Info) Breakdown(prev *Sizes) *Breakdown {
	b := &Breakdown{Total: i.Size}
	if prev != nil {
		b.PrevTotal = prev.Total
	}
	item := func(name string, size int64, m map[string]int64) SizeItem {
		it := SizeItem{Name: name, Size: size}
		if prev != nil && m != nil {
			it.Prev, it.HasPrev = m[name]
		}
		return it
	}
	var prevSec, prevPkg map[string]int64
	if prev != nil {
		prevSec, prevPkg = prev.Sections, prev.Packages
	}
	bySec := map[string]int64{}
	var inSections int64
	for _, s := range i.Sections {
		if s.Size > 0 {
			bySec[s.Name] += s.Size
			inSections += s.Size
		}
	}
	for name, size := range bySec {
		b.Sections = append(b.Sections, item(name, size, prevSec))
	}
	sortItems(b.Sections)
	if len(i.Sections) > 0 && i.Size > inSections {
		b.Sections = append(b.Sections, SizeItem{Name: "(headers and padding)", Size: i.Size - inSections})
	}
	pk := slices.Clone(i.Packages)
	slices.SortStableFunc(pk, func(a, c PackageSize) int { return cmp.Compare(c.Size, a.Size) })
	var rest, restPrev int64
	restN := 0
	for n, p := range pk {
		b.Code += p.Size
		if n < breakdownPackages {
			b.Packages = append(b.Packages, item(p.Name, p.Size, prevPkg))
			continue
		}
		rest += p.Size
		restPrev += prevPkg[p.Name]
		restN++
	}
	if restN > 0 {
		b.Packages = append(b.Packages, SizeItem{Name: fmt.Sprintf("(%d more packages)", restN), Size: rest, Prev: restPrev, HasPrev: prevPkg != nil})
	}
	return b
}

func sortItems(items []SizeItem) {
	slices.SortStableFunc(items, func(a, b SizeItem) int {
		if c := cmp.Compare(b.Size, a.Size); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
}
