package binary

import (
	"bytes"
	"fmt"
	"io"
)

// Packed describes an executable compressed by UPX.
//
// Detection follows what UPX writes for ELF (upx/upx src/p_unix.cpp, p_lx_elf.cpp,
// packhead.cpp): right after the ELF and program headers comes a 12-byte l_info whose
// l_magic is "UPX!" (followed by the 12-byte p_info with the original file size), and the
// file ends with UPX's 32-byte pack header (starting "UPX!", with version, format and a
// checksum byte) followed by the 4-byte offset of the compressed data. Either structure is
// proof; the "$Info: This file is packed with the UPX executable packer" string in the
// appended loader is looked for only then, as further evidence, since any program (this one
// included) may contain it.
type Packed struct {
	Packer       string   `json:"packer"`                  // "UPX"
	Version      int      `json:"version"`                 // UPX header version (14 for UPX 4's ELF packer)
	Format       int      `json:"format"`                  // UPX format id, e.g. 22 for linux/amd64 ELF
	FormatName   string   `json:"format_name,omitempty"`   // e.g. "linux/amd64 ELF"
	OriginalSize int64    `json:"original_size,omitempty"` // size of the file before packing
	Evidence     []string `json:"evidence"`
}

const upxMagic = "UPX!"

// upxIdent is the start of the identification string UPX's packer puts in the loader it
// appends near the end of the file (src/packer.cpp, getIdentstr). It is evidence, never proof:
// this very package contains it.
const upxIdent = "$Info: This file is packed with the UPX executable packer"

// upxLoaderSearch is how far from the end the loader, and so the identification string, is
// looked for: UPX's loaders are a few kilobytes.
const upxLoaderSearch = 256 << 10

// upxFormatName names the UPX format ids of the Linux ELF packers (src/conf.h).
func upxFormatName(f int) string {
	switch f {
	case 12:
		return "linux/386 ELF"
	case 22:
		return "linux/amd64 ELF"
	case 23:
		return "linux/arm ELF"
	case 30:
		return "linux/mipsle ELF"
	case 39:
		return "linux/ppc64le ELF"
	case 42:
		return "linux/arm64 ELF"
	case 132:
		return "linux/ppc ELF"
	case 133:
		return "linux/armeb ELF"
	case 137:
		return "linux/mips ELF"
	case 140:
		return "linux/ppc64 ELF"
	}
	return ""
}

// detectUPX sets info.Packed when the file carries UPX's structures.
func detectUPX(r io.ReaderAt, size int64, h *elfHeader, info *Info) error {
	p := &Packed{Packer: "UPX"}
	bo := h.order

	// l_info + p_info right after the program header table.
	linfoOff := h.phoff + h.phnum*h.phentsize // precheckELF made sure this does not overflow
	if h.phnum > 0 && linfoOff+24 <= uint64(size) {
		var b [24]byte
		if n, err := r.ReadAt(b[:], int64(linfoOff)); n < len(b) {
			return fmt.Errorf("read after program headers: %w", orEOF(err))
		}
		if string(b[4:8]) == upxMagic {
			p.Version, p.Format = int(b[10]), int(b[11])
			p.OriginalSize = int64(bo.Uint32(b[16:]))
			p.Evidence = append(p.Evidence, fmt.Sprintf("l_info with magic %q right after the program headers (offset %d)", upxMagic, linfoOff+4))
		}
	}

	// Pack header + overlay offset at the end (trailing zero padding allowed, as UPX allows).
	tailLen := min(size, 2*4096+80)
	tail := make([]byte, tailLen)
	if n, err := r.ReadAt(tail, size-tailLen); int64(n) < tailLen {
		return fmt.Errorf("read end of file: %w", orEOF(err))
	}
	end := len(tail)
	for end > 0 && tail[end-1] == 0 {
		end--
	}
	from := max(0, end-(32+4)-8)
	if i := bytes.LastIndex(tail[from:], []byte(upxMagic)); i >= 0 && from+i+36 <= len(tail) {
		ph := tail[from+i : from+i+36]
		var sum int
		for _, c := range ph[4:31] {
			sum += int(c)
		}
		overlay := int64(bo.Uint32(ph[32:]))
		if byte(sum%251) == ph[31] && overlay > 0 && overlay < size {
			if p.Version == 0 {
				p.Version, p.Format = int(ph[4]), int(ph[5])
			}
			if p.OriginalSize == 0 && ph[5] < 128 {
				p.OriginalSize = int64(uint32(ph[24]) | uint32(ph[25])<<8 | uint32(ph[26])<<16 | uint32(ph[27])<<24)
			}
			off := size - tailLen + int64(from+i)
			p.Evidence = append(p.Evidence, fmt.Sprintf("UPX pack header %q at the end of the file (offset %d, version %d, format %d, checksum valid) pointing at the compressed data at offset %d", upxMagic, off, ph[4], ph[5], overlay))
		}
	}
	if len(p.Evidence) == 0 {
		return nil
	}
	n := min(size, upxLoaderSearch)
	loader := make([]byte, n)
	if m, _ := r.ReadAt(loader, size-n); int64(m) == n && bytes.Contains(loader, []byte(upxIdent)) {
		p.Evidence = append(p.Evidence, fmt.Sprintf("UPX's identification string %q in the loader", upxIdent+" ... $"))
	}
	p.FormatName = upxFormatName(p.Format)
	if info.ELF != nil && !info.ELF.SectionHeaders {
		p.Evidence = append(p.Evidence, "no section headers")
	}
	info.Packed = p
	return nil
}
