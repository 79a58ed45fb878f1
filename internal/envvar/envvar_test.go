package envvar

import "testing"

func TestSplit(t *testing.T) {
	for kv, want := range map[string][2]string{
		"A=1":          {"A", "1"},
		"_x=":          {"_x", ""},
		"PATH=/a:/b=c": {"PATH", "/a:/b=c"},
		"A9_b=v":       {"A9_b", "v"},
	} {
		n, v, err := Split(kv)
		if err != nil || n != want[0] || v != want[1] {
			t.Errorf("Split(%q) = %q, %q, %v; want %q, %q", kv, n, v, err, want[0], want[1])
		}
	}
	for _, kv := range []string{"HOME", "=x", "9A=1", "A B=1", "A-B=1", "A\x00=1", "É=1"} {
		if _, _, err := Split(kv); err == nil {
			t.Errorf("Split(%q): no error", kv)
		}
	}
}
