// Package platform is scratchkit's one platform type: it parses and names the
// os/arch[/variant] platforms scratchkit builds, checks and runs, holds the rules of their
// variants, and maps them to Go's environment (GOOS, GOARCH, GOARM, GOAMD64, GOARM64) and to
// the OCI platform of go-containerregistry.
package platform

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Platform is an os/arch[/variant] triple as OCI and Docker write it: linux/amd64, linux/arm/v7.
//
// It is a comparable value with Go's view of a platform (Env, Dir, Exe); go-containerregistry's
// v1.Platform, which images and indexes carry, is its OCI form (OCI, FromOCI).
type Platform struct {
	OS      string
	Arch    string
	Variant string
}

// FromOCI is the platform an image config or a descriptor names (ggcr's v1.Platform; OS version
// and features are not part of a Platform). nil is the zero Platform.
func FromOCI(p *v1.Platform) Platform {
	if p == nil {
		return Platform{}
	}
	return Platform{OS: p.OS, Arch: p.Architecture, Variant: p.Variant}
}

// OCI is p as go-containerregistry writes it into image configs and index descriptors.
func (p Platform) OCI() v1.Platform {
	return v1.Platform{OS: p.OS, Architecture: p.Arch, Variant: p.Variant}
}

// DefaultVariant is the variant an architecture has when none is written, as Docker and
// containerd read it: v7 for arm, v8 for arm64, v1 for amd64; "" for the others. Parse writes
// arm's, whose Go default would otherwise be ambiguous; platforms compare after defaulting.
func DefaultVariant(arch string) string {
	return defaultVariants[arch]
}

var defaultVariants = map[string]string{"arm": "v7", "arm64": "v8", "amd64": "v1"}

// ports are the GOOS/GOARCH pairs of `go tool dist list` (Go 1.26).
var ports = map[string]bool{}

func init() {
	for _, p := range strings.Fields(`aix/ppc64 android/386 android/amd64 android/arm android/arm64
	darwin/amd64 darwin/arm64 dragonfly/amd64 freebsd/386 freebsd/amd64 freebsd/arm freebsd/arm64
	illumos/amd64 ios/amd64 ios/arm64 js/wasm linux/386 linux/amd64 linux/arm linux/arm64
	linux/loong64 linux/mips linux/mips64 linux/mips64le linux/mipsle linux/ppc64 linux/ppc64le
	linux/riscv64 linux/s390x netbsd/386 netbsd/amd64 netbsd/arm netbsd/arm64 openbsd/386
	openbsd/amd64 openbsd/arm openbsd/arm64 openbsd/ppc64 openbsd/riscv64 plan9/386 plan9/amd64
	plan9/arm solaris/amd64 wasip1/wasm windows/386 windows/amd64 windows/arm64`) {
		ports[p] = true
	}
}

// levels are the architectures with variants: the Go environment variable that selects the
// variant's instruction set, and the variants, lowest first.
var levels = map[string]struct {
	env      string
	variants []string
}{
	"arm":   {"GOARM", []string{"v5", "v6", "v7"}},
	"amd64": {"GOAMD64", []string{"v1", "v2", "v3", "v4"}},
	// The GOARM64 levels v8.0, v8.1-v8.9 and v9.0-v9.5, as OCI variants: v8, v8.1, ..., v9, ...
	"arm64": {"GOARM64", []string{"v8", "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v8.9",
		"v9", "v9.1", "v9.2", "v9.3", "v9.4", "v9.5"}},
}

// Host is linux on the architecture scratchkit runs on.
func Host() Platform {
	p := Platform{OS: "linux", Arch: runtime.GOARCH}
	if p.Arch == "arm" {
		p.Variant = DefaultVariant(p.Arch)
	}
	return p
}

// Parse reads os/arch[/variant]: a port of `go tool dist list`, and a variant the architecture
// has (arm v5-v7, amd64 v1-v4, arm64 v8, v8.1-v8.9, v9, v9.1-v9.5; see Level). linux/arm
// without a variant means linux/arm/v7, as Docker does. It is the one reading of a platform
// string: configuration, Build, Verify, Image and smoke all go through it.
func Parse(s string) (Platform, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("%q: want os/arch[/variant], e.g. linux/amd64, linux/arm64 or linux/arm/v7", s)
	}
	p := Platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if !ports[p.OS+"/"+p.Arch] {
		unknown := ""
		if !knownArch(p.Arch) {
			unknown = fmt.Sprintf(" (unknown architecture %q)", p.Arch)
		}
		return Platform{}, fmt.Errorf("%q is not a platform Go builds for%s; write one of %s", s, unknown, suggest(p))
	}
	if p.Arch == "arm" && p.Variant == "" {
		p.Variant = DefaultVariant(p.Arch)
	}
	if p.Variant != "" {
		vs := levels[p.Arch].variants
		if len(vs) == 0 {
			return Platform{}, fmt.Errorf("%q: %s has no variants; write %s/%s", s, p.Arch, p.OS, p.Arch)
		}
		if !slices.Contains(vs, p.Variant) {
			return Platform{}, fmt.Errorf("%q: %s has no variant %q; write one of %s", s, p.Arch, p.Variant, strings.Join(vs, ", "))
		}
	}
	return p, nil
}

// Compare orders platforms as their strings sort: linux/amd64 before linux/arm/v7 before
// linux/arm64. It is the order of an index's manifests and of every list of platforms.
func Compare(a, b Platform) int { return strings.Compare(a.String(), b.String()) }

// Strings are ps as String writes them, for messages and lists.
func Strings(ps []Platform) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// IsZero reports whether p is the zero Platform: none given.
func (p Platform) IsZero() bool { return p == Platform{} }

// MarshalText writes p as String does, so that records (artifacts.json) carry "linux/arm/v7".
// The zero Platform writes "".
func (p Platform) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads a platform with Parse; an empty text is the zero Platform.
func (p *Platform) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*p = Platform{}
		return nil
	}
	v, err := Parse(string(text))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// MustParse is Parse for platforms written in code (tests, defaults); it panics on a bad one.
func MustParse(s string) Platform {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

// knownArch reports whether some port has arch.
func knownArch(arch string) bool {
	for k := range ports {
		if strings.HasSuffix(k, "/"+arch) {
			return true
		}
	}
	return false
}

// Level is the Go environment variable that selects p's variant, and its value: GOARM=7 for
// linux/arm/v7, GOAMD64=v3 for linux/amd64/v3, GOARM64=v9.0 for linux/arm64/v9 (v8.2 for
// v8.2). Both are empty when p has no variant.
func (p Platform) Level() (key, value string) {
	l, ok := levels[p.Arch]
	if !ok || p.Variant == "" {
		return "", ""
	}
	switch p.Arch {
	case "arm":
		return l.env, strings.TrimPrefix(p.Variant, "v")
	case "arm64":
		if !strings.Contains(p.Variant, ".") {
			return l.env, p.Variant + ".0"
		}
	}
	return l.env, p.Variant
}

// LevelMatches reports whether a binary whose Go build info records value for p's Level
// variable (GOARM=7, GOAMD64=v3, GOARM64=v8.0,lse: options after a comma aside) is built for
// p's variant. Every value matches a platform without a variant.
func (p Platform) LevelMatches(value string) bool {
	_, want := p.Level()
	got, _, _ := strings.Cut(value, ",")
	return want == "" || got == want
}

// suggest lists the ports of the same OS, or the common linux ones.
func suggest(p Platform) string {
	var same []string
	for k := range ports {
		if strings.HasPrefix(k, p.OS+"/") {
			same = append(same, k)
		}
	}
	if len(same) == 0 {
		for k := range ports {
			if strings.HasSuffix(k, "/"+p.Arch) {
				same = append(same, k)
			}
		}
	}
	if len(same) == 0 {
		return "linux/amd64, linux/arm64, linux/arm/v7 (see `go tool dist list`)"
	}
	sort.Strings(same)
	return strings.Join(same, ", ")
}

// String is os/arch[/variant].
func (p Platform) String() string {
	if p.IsZero() {
		return ""
	}
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Dir is the dist directory element: os_arch[_variant].
func (p Platform) Dir() string { return strings.ReplaceAll(p.String(), "/", "_") }

// Env is the Go environment selecting this platform: GOOS, GOARCH and, with a variant, its
// Level (GOARM, GOAMD64 or GOARM64).
func (p Platform) Env() []string {
	env := []string{"GOOS=" + p.OS, "GOARCH=" + p.Arch}
	if k, v := p.Level(); k != "" {
		env = append(env, k+"="+v)
	}
	return env
}

// Linux reports whether the platform runs in a Linux container.
func (p Platform) Linux() bool { return p.OS == "linux" }

// Exe is the executable suffix: .exe on windows.
func (p Platform) Exe() string {
	if p.OS == "windows" {
		return ".exe"
	}
	return ""
}

// Triple is the GNU target triple of the C cross compilers Debian ships for linux platforms.
func (p Platform) Triple() string {
	switch p.Arch {
	case "amd64":
		return "x86_64-linux-gnu"
	case "arm64":
		return "aarch64-linux-gnu"
	case "arm":
		return "arm-linux-gnueabihf"
	case "386":
		return "i686-linux-gnu"
	case "riscv64":
		return "riscv64-linux-gnu"
	case "ppc64le":
		return "powerpc64le-linux-gnu"
	case "s390x":
		return "s390x-linux-gnu"
	}
	return ""
}

// ZigTarget is the `zig cc -target` of a linux platform against musl.
func (p Platform) ZigTarget() string {
	switch p.Arch {
	case "amd64":
		return "x86_64-linux-musl"
	case "arm64":
		return "aarch64-linux-musl"
	case "arm":
		return "arm-linux-musleabihf"
	case "386":
		return "x86-linux-musl"
	case "riscv64":
		return "riscv64-linux-musl"
	}
	return ""
}
