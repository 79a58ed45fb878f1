package modsum

import "testing"

func TestHex(t *testing.T) {
	for _, tc := range []struct {
		sum, want string
		ok        bool
	}{
		// A go.sum hash; the hex is what `base64 -d | xxd -p` prints.
		{"h1:g61tztE5qeGQ89tm6NTjjM9VPIm088od1l6aSorWRWg=", "83ad6dced139a9e190f3db66e8d4e38ccf553c89b4f3ca1dd65e9a4a8ad64568", true},
		{"h2:g61tztE5qeGQ89tm6NTjjM9VPIm088od1l6aSorWRWg=", "", false},
		{"h1:not base64!", "", false},
		{"h1:AAAA", "", false}, // three bytes, not a SHA-256
		{"", "", false},
	} {
		got, ok := Hex(tc.sum)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Hex(%q) = %q, %v; want %q, %v", tc.sum, got, ok, tc.want, tc.ok)
		}
	}
}
