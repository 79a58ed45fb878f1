package bytesize

import (
	"math"
	"testing"
)

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 812: "812 B", 1023: "1023 B", 1024: "1.0 KiB", 973107: "950.3 KiB",
		1048575: "1.0 MiB", 1 << 20: "1.0 MiB", 43411046: "41.4 MiB", 256 << 20: "256.0 MiB",
		1288490189: "1.2 GiB", -3072: "-3.0 KiB", math.MaxInt64: "8.0 EiB", math.MinInt64: "-8.0 EiB",
	} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "±0 B", 1258291: "+1.2 MiB", -3072: "-3.0 KiB"} {
		if got := Signed(n); got != want {
			t.Errorf("Signed(%d) = %q, want %q", n, got, want)
		}
	}
}
