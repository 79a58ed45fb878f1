package binary

import (
	"debug/elf"
	"fmt"
	"strings"
)

// Platform is an OCI-style platform: "linux/amd64", "linux/arm/v7", "linux/arm64/v8".
type Platform struct {
	OS, Arch, Variant string
}

// String formats p as os/arch[/variant].
func (p Platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// ParsePlatform parses "os/arch" or "os/arch/variant" and checks that arch is one this package
// knows the ELF encoding of and that the variant fits the arch.
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant, e.g. linux/arm/v7", s)
	}
	p := Platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if _, ok := archSpecFor(p.Arch); !ok {
		return Platform{}, fmt.Errorf("platform %q: unknown architecture %q", s, p.Arch)
	}
	if p.Variant != "" {
		ok := false
		switch p.Arch {
		case "arm":
			ok = p.Variant == "v5" || p.Variant == "v6" || p.Variant == "v7"
		case "amd64":
			ok = p.Variant == "v1" || p.Variant == "v2" || p.Variant == "v3" || p.Variant == "v4"
		case "arm64":
			ok = strings.HasPrefix(p.Variant, "v8") || strings.HasPrefix(p.Variant, "v9")
		default:
			ok = true
		}
		if !ok {
			return Platform{}, fmt.Errorf("platform %q: variant %q does not exist for %s", s, p.Variant, p.Arch)
		}
	}
	return p, nil
}

// archSpec is how an architecture is encoded in an ELF header.
type archSpec struct {
	class   int
	machine elf.Machine
	order   string
}

func archSpecFor(goarch string) (archSpec, bool) {
	switch goarch {
	case "amd64":
		return archSpec{64, elf.EM_X86_64, "little"}, true
	case "386":
		return archSpec{32, elf.EM_386, "little"}, true
	case "arm64":
		return archSpec{64, elf.EM_AARCH64, "little"}, true
	case "arm":
		return archSpec{32, elf.EM_ARM, "little"}, true
	case "ppc64le":
		return archSpec{64, elf.EM_PPC64, "little"}, true
	case "ppc64":
		return archSpec{64, elf.EM_PPC64, "big"}, true
	case "s390x":
		return archSpec{64, elf.EM_S390, "big"}, true
	case "riscv64":
		return archSpec{64, elf.EM_RISCV, "little"}, true
	case "loong64":
		return archSpec{64, elf.EM_LOONGARCH, "little"}, true
	case "mips":
		return archSpec{32, elf.EM_MIPS, "big"}, true
	case "mipsle":
		return archSpec{32, elf.EM_MIPS, "little"}, true
	case "mips64":
		return archSpec{64, elf.EM_MIPS, "big"}, true
	case "mips64le":
		return archSpec{64, elf.EM_MIPS, "little"}, true
	}
	return archSpec{}, false
}

// archFor is the GOARCH whose ELF encoding is class+machine+order, or "".
func archFor(class int, m elf.Machine, order string) string {
	for _, a := range []string{"amd64", "386", "arm64", "arm", "ppc64le", "ppc64", "s390x", "riscv64", "loong64", "mips", "mipsle", "mips64", "mips64le"} {
		if s, _ := archSpecFor(a); s.class == class && s.machine == m && s.order == order {
			return a
		}
	}
	return ""
}

// describeELFArch names what the header encodes, for messages: "64-bit little-endian EM_AARCH64 (arm64)".
func describeELFArch(e *ELFInfo) string {
	s := fmt.Sprintf("%d-bit %s-endian %s", e.Class, e.ByteOrder, e.Machine)
	if e.Arch != "" {
		s += " (" + e.Arch + ")"
	}
	return s
}
