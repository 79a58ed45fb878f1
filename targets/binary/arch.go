package binary

import (
	"debug/elf"
	"fmt"

	"github.com/scratchkit/scratchkit/targets/platform"
)

// checkPlatform says whether this package knows the ELF encoding of p's architecture.
func checkPlatform(p platform.Platform) error {
	if _, ok := archSpecFor(p.Arch); !ok {
		return fmt.Errorf("platform %s: unknown architecture %q: its ELF encoding is not known here", p, p.Arch)
	}
	return nil
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
