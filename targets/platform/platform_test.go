package platform

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]Platform{
		"linux/amd64":      {OS: "linux", Arch: "amd64"},
		"linux/amd64/v3":   {OS: "linux", Arch: "amd64", Variant: "v3"},
		"linux/arm":        {OS: "linux", Arch: "arm", Variant: "v7"},
		"linux/arm/v6":     {OS: "linux", Arch: "arm", Variant: "v6"},
		"linux/arm64":      {OS: "linux", Arch: "arm64"},
		"linux/arm64/v8":   {OS: "linux", Arch: "arm64", Variant: "v8"},
		"linux/arm64/v9":   {OS: "linux", Arch: "arm64", Variant: "v9"},
		"linux/arm64/v8.2": {OS: "linux", Arch: "arm64", Variant: "v8.2"},
		" darwin/arm64 ":   {OS: "darwin", Arch: "arm64"},
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, want := range map[string][]string{
		"linux":            {"want os/arch"},
		"linux/amd64/v1/":  {"want os/arch"},
		"linux/amd46":      {"not a platform Go builds for", `unknown architecture "amd46"`, "linux/amd64"},
		"darwin/mips":      {"not a platform Go builds for", "darwin/amd64"},
		"linux/arm/v9":     {"variant", "v5, v6, v7"},
		"linux/amd64/v5":   {"variant", "v1, v2, v3, v4"},
		"linux/riscv64/x":  {"no variants"},
		"linux/arm64/v8.0": {"variant", "v8, v8.1"},
		"linux/arm64/v10":  {"variant", "v9.5"},
	} {
		_, err := Parse(in)
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Parse(%q): error %v, want one containing %q", in, err, w)
			}
		}
	}
}

func TestLevel(t *testing.T) {
	for _, c := range []struct {
		platform, key, value string
		matches, mismatches  []string
	}{
		{"linux/arm/v7", "GOARM", "7", []string{"7", "7,hardfloat"}, []string{"6", "5,softfloat"}},
		{"linux/amd64/v3", "GOAMD64", "v3", []string{"v3"}, []string{"v1", "v4"}},
		{"linux/arm64/v8", "GOARM64", "v8.0", []string{"v8.0", "v8.0,lse"}, []string{"v8.1"}},
		{"linux/arm64/v9", "GOARM64", "v9.0", []string{"v9.0", "v9.0,crypto"}, []string{"v8.0", "v9.1"}},
		{"linux/arm64/v8.2", "GOARM64", "v8.2", []string{"v8.2"}, []string{"v8.0"}},
		{"linux/amd64", "", "", []string{"v1", "v4"}, nil},
		{"linux/riscv64", "", "", []string{"rva20u64"}, nil},
	} {
		p, err := Parse(c.platform)
		if err != nil {
			t.Fatal(err)
		}
		if k, v := p.Level(); k != c.key || v != c.value {
			t.Errorf("%s: Level() = %s=%s, want %s=%s", p, k, v, c.key, c.value)
		}
		for _, l := range c.matches {
			if !p.LevelMatches(l) {
				t.Errorf("%s: a binary built with level %s does not match", p, l)
			}
		}
		for _, l := range c.mismatches {
			if p.LevelMatches(l) {
				t.Errorf("%s: a binary built with level %s matches", p, l)
			}
		}
	}
}

func TestEnv(t *testing.T) {
	for in, want := range map[string]string{
		"linux/amd64":    "GOOS=linux GOARCH=amd64",
		"linux/amd64/v2": "GOOS=linux GOARCH=amd64 GOAMD64=v2",
		"linux/arm":      "GOOS=linux GOARCH=arm GOARM=7",
		"linux/arm64":    "GOOS=linux GOARCH=arm64",
		"linux/arm64/v9": "GOOS=linux GOARCH=arm64 GOARM64=v9.0",
	} {
		p, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(p.Env(), " "); got != want {
			t.Errorf("%s: Env() = %s, want %s", in, got, want)
		}
	}
}

func TestOCI(t *testing.T) {
	p := Platform{OS: "linux", Arch: "arm", Variant: "v7"}
	o := p.OCI()
	if o.String() != p.String() || FromOCI(&o) != p {
		t.Errorf("OCI() = %+v, FromOCI of it = %+v, want %+v", o, FromOCI(&o), p)
	}
	if FromOCI(nil) != (Platform{}) || FromOCI(&v1.Platform{OS: "linux", Architecture: "amd64", OSVersion: "x"}) != (Platform{OS: "linux", Arch: "amd64"}) {
		t.Error("FromOCI keeps what a Platform does not hold")
	}
	for arch, want := range map[string]string{"arm": "v7", "arm64": "v8", "amd64": "v1", "riscv64": ""} {
		if got := DefaultVariant(arch); got != want {
			t.Errorf("DefaultVariant(%s) = %q, want %q", arch, got, want)
		}
	}
	if h := Host(); !h.Linux() || (h.Arch == "arm") != (h.Variant == "v7") {
		t.Errorf("Host() = %+v", h)
	}
}

// Records carry a platform as its string; reading one back parses it, so a hand-edited record
// with a platform Go does not build for is refused, and the zero Platform is "".
func TestPlatformText(t *testing.T) {
	type rec struct {
		P  Platform   `json:"p"`
		Z  Platform   `json:"z,omitzero"`
		PS []Platform `json:"ps"`
	}
	data, err := json.Marshal(rec{P: MustParse("linux/arm"), PS: []Platform{MustParse("linux/amd64"), MustParse("linux/arm64/v8")}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"p":"linux/arm/v7","ps":["linux/amd64","linux/arm64/v8"]}`; string(data) != want {
		t.Errorf("marshalled %s, want %s", data, want)
	}
	var back rec
	if err := json.Unmarshal(data, &back); err != nil || back.P != MustParse("linux/arm/v7") || len(back.PS) != 2 || !back.Z.IsZero() {
		t.Errorf("unmarshalled %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"p":"linux/sparc"}`), &back); err == nil || !strings.Contains(err.Error(), "not a platform Go builds for") {
		t.Errorf("a bad platform in a record: %v", err)
	}
	if Platform.String(Platform{}) != "" {
		t.Error("the zero Platform's string is not empty")
	}
}
