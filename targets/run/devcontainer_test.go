package run

import "testing"

func TestParsePortMapping(t *testing.T) {
	for in, want := range map[string]Port{
		"8080":        {8080, 8080, "tcp"},
		"18080:8080":  {18080, 8080, "tcp"},
		"5353:53/udp": {5353, 53, "udp"},
		" 9090/tcp ":  {9090, 9090, "tcp"},
		"1:65535":     {1, 65535, "tcp"},
	} {
		got, err := ParsePortMapping(in)
		if err != nil || got != want {
			t.Errorf("ParsePortMapping(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "http", "0", "70000", "8080:", "a:b", "127.0.0.1:80:80", "80/sctp"} {
		if _, err := ParsePortMapping(in); err == nil {
			t.Errorf("ParsePortMapping(%q) accepted", in)
		}
	}
}

func TestNumericUser(t *testing.T) {
	for in, want := range map[string][2]int{"65532:65532": {65532, 65532}, "1000": {1000, 1000}, "": {0, 0}, "10:20": {10, 20}} {
		uid, gid, err := numericUser(in)
		if err != nil || uid != want[0] || gid != want[1] {
			t.Errorf("numericUser(%q) = %d:%d, %v", in, uid, gid, err)
		}
	}
	if _, _, err := numericUser("nonroot"); err == nil {
		t.Error("numericUser(nonroot) accepted a name")
	}
}
