// Package bytesize writes byte counts for people. It is the one unit system of everything
// scratchkit prints, every table and every line of a run alike: binary units (1 KiB = 1024 bytes,
// 1 MiB = 1024 KiB, ...), as docker's and Kubernetes' memory limits count, with one decimal.
//
// Configuration values are read by targets/config, which accepts decimal units (20MB) as well;
// what scratchkit prints about them is in these units.
package bytesize

import (
	"fmt"
	"math"
)

// Format writes n bytes in the largest binary unit that keeps the number at least 1: "812 B",
// "950.3 KiB", "41.4 MiB", "1.2 GiB". A negative count keeps its sign.
func Format(n int64) string {
	if n < 0 {
		if n == math.MinInt64 {
			n++ // its magnitude does not fit; one byte does not show
		}
		return "-" + Format(-n)
	}
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1024, 0
	// 1023.96 KiB would print as 1024.0 KiB: move to the next unit when rounding reaches it.
	for v >= 1024-0.05 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}

// Signed is Format with an explicit sign, for changes: "+1.2 MiB", "-3.0 KiB", "±0 B".
func Signed(n int64) string {
	switch {
	case n > 0:
		return "+" + Format(n)
	case n == 0:
		return "±0 B"
	}
	return Format(n)
}
