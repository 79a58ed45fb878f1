package binary

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Linkage is how an ELF executable gets started: by the kernel alone (static, static-pie)
// or through a dynamic loader it names (dynamic).
type Linkage string

// Linkages Inspect can find in an ELF file.
const (
	LinkageStatic    Linkage = "static"     // ET_EXEC, no interpreter, no libraries
	LinkageStaticPIE Linkage = "static-pie" // ET_DYN, no interpreter, no libraries: relocates itself
	LinkageDynamic   Linkage = "dynamic"    // asks for an interpreter (PT_INTERP)
	// LinkageBroken names libraries (DT_NEEDED) but no interpreter to load them.
	LinkageBroken Linkage = "needs-libs-without-loader"
	// LinkageNotExec is an object file, core dump or other ELF the kernel does not run.
	LinkageNotExec Linkage = "not-executable"
)

// ELFInfo is what the ELF headers say.
type ELFInfo struct {
	Class     int    `json:"class"`      // 32 or 64
	ByteOrder string `json:"byte_order"` // "little" or "big"
	Machine   string `json:"machine"`    // e.g. "EM_X86_64"
	Arch      string `json:"arch"`       // the GOARCH for Class+Machine+ByteOrder, "" if none
	Type      string `json:"type"`       // e.g. "ET_EXEC", "ET_DYN"
	OSABI     string `json:"osabi"`      // e.g. "ELFOSABI_NONE"
	Flags     uint32 `json:"flags"`      // e_flags
	// FloatABI is for 32-bit ARM only: "hard" or "soft" when e_flags says, "" when it does not
	// (Go's own linker marks neither; C toolchains do).
	FloatABI string `json:"float_abi,omitempty"`
	Entry    uint64 `json:"entry"`

	Interpreter string   `json:"interpreter,omitempty"` // PT_INTERP
	Needed      []string `json:"needed,omitempty"`      // DT_NEEDED
	Linkage     Linkage  `json:"linkage"`

	PIE     bool   `json:"pie"`     // ET_DYN: loaded at a random address
	RELRO   string `json:"relro"`   // "none", "partial" (PT_GNU_RELRO) or "full" (and BIND_NOW)
	BindNow bool   `json:"bindnow"` // DT_BIND_NOW, DF_BIND_NOW or DF_1_NOW
	NX      bool   `json:"nx"`      // PT_GNU_STACK present and not executable
	// GNUStack is whether there is a PT_GNU_STACK at all; without one the kernel may make
	// the stack executable.
	GNUStack bool `json:"gnu_stack"`

	SectionHeaders bool     `json:"section_headers"`  // false when there are none (sstrip, UPX)
	Symtab         int64    `json:"symtab,omitempty"` // bytes of .symtab, 0 when absent
	Debug          []string `json:"debug,omitempty"`  // .debug_* and .zdebug_* sections
	DebugSize      int64    `json:"debug_size,omitempty"`

	// GoNote is true when Go's own marks are present (.note.go.buildid, .go.buildinfo or
	// .gopclntab sections), so a Go binary whose build info is unreadable is still known as Go.
	GoNote bool `json:"go_note,omitempty"`
	// GlibcNSS is true when .rodata holds glibc's name service switch (its nsswitch.conf path
	// and libnss_ module names): a static binary with it loads libnss_*.so from the system at
	// run time for host, user and group lookups.
	GlibcNSS bool `json:"glibc_nss,omitempty"`
}

// Markers of glibc's name service switch, linked in when a program calls getaddrinfo,
// gethostbyname, getpwnam, getgrnam and their kin: the configuration it reads and the pattern of
// the modules it dlopens.
var nssMarkers = [][]byte{[]byte("/etc/nsswitch.conf\x00"), []byte("libnss_%s.so")}

// maxRodataScan bounds the read of .rodata for nssMarkers.
const maxRodataScan = 256 << 20

// findNSS reads .rodata (at most maxRodataScan bytes) and reports whether every NSS marker is in it.
func findNSS(r io.ReaderAt, off, size int64) bool {
	if size <= 0 || size > maxRodataScan {
		return false
	}
	buf := make([]byte, size)
	if n, err := r.ReadAt(buf, off); int64(n) < size && err != nil {
		return false
	}
	for _, m := range nssMarkers {
		if !bytes.Contains(buf, m) {
			return false
		}
	}
	return true
}

// Section is one ELF section.
type Section struct {
	Name   string `json:"name"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"` // bytes in the file (0 for .bss and other NOBITS sections)
	Mem    int64  `json:"mem"`  // bytes in memory when loaded (0 for non-alloc sections)
}

// maxSections bounds the section count a file may claim. Linkers write tens; object files
// with one section per function reach tens of thousands.
const maxSections = 1 << 20

// maxDynamic bounds how much of PT_DYNAMIC is read; real ones are a few hundred bytes.
const maxDynamic = 1 << 20

// elfHeader is the part of the ELF header checked before debug/elf sees the file.
type elfHeader struct {
	class                                      elf.Class
	order                                      binary.ByteOrder
	ehsize, phentsize, phnum, shentsize, shnum uint64
	phoff, shoff                               uint64
	wantEhsize, wantPhentsize, wantShentsize   uint64
	shstrndx                                   uint64
	machine                                    elf.Machine
	flags                                      uint32
}

// precheckELF validates the header and table extents against the file size, so that a
// truncated or absurd file gets a message naming what is wrong.
func precheckELF(r io.ReaderAt, size int64) (*elfHeader, error) {
	var id [64]byte
	n, err := r.ReadAt(id[:min(int64(len(id)), size)], 0)
	if int64(n) < min(int64(len(id)), size) {
		return nil, fmt.Errorf("read ELF header: %w", orEOF(err))
	}
	if size < elf.EI_NIDENT {
		return nil, fmt.Errorf("truncated ELF: %d bytes, the ELF identification alone is %d", size, elf.EI_NIDENT)
	}
	h := &elfHeader{class: elf.Class(id[elf.EI_CLASS])}
	switch elf.Data(id[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		h.order = binary.LittleEndian
	case elf.ELFDATA2MSB:
		h.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("corrupt ELF: unknown byte order EI_DATA=%d (want 1 or 2)", id[elf.EI_DATA])
	}
	bo := h.order
	switch h.class {
	case elf.ELFCLASS64:
		h.wantEhsize, h.wantPhentsize, h.wantShentsize = 64, 56, 64
		if size < 64 {
			return nil, fmt.Errorf("truncated ELF: %d bytes, a 64-bit ELF header is 64", size)
		}
		h.machine = elf.Machine(bo.Uint16(id[18:]))
		h.phoff, h.shoff = bo.Uint64(id[32:]), bo.Uint64(id[40:])
		h.flags = bo.Uint32(id[48:])
		h.ehsize, h.phentsize, h.phnum = uint64(bo.Uint16(id[52:])), uint64(bo.Uint16(id[54:])), uint64(bo.Uint16(id[56:]))
		h.shentsize, h.shnum, h.shstrndx = uint64(bo.Uint16(id[58:])), uint64(bo.Uint16(id[60:])), uint64(bo.Uint16(id[62:]))
	case elf.ELFCLASS32:
		h.wantEhsize, h.wantPhentsize, h.wantShentsize = 52, 32, 40
		if size < 52 {
			return nil, fmt.Errorf("truncated ELF: %d bytes, a 32-bit ELF header is 52", size)
		}
		h.machine = elf.Machine(bo.Uint16(id[18:]))
		h.phoff, h.shoff = uint64(bo.Uint32(id[28:])), uint64(bo.Uint32(id[32:]))
		h.flags = bo.Uint32(id[36:])
		h.ehsize, h.phentsize, h.phnum = uint64(bo.Uint16(id[40:])), uint64(bo.Uint16(id[42:])), uint64(bo.Uint16(id[44:]))
		h.shentsize, h.shnum, h.shstrndx = uint64(bo.Uint16(id[46:])), uint64(bo.Uint16(id[48:])), uint64(bo.Uint16(id[50:]))
	default:
		return nil, fmt.Errorf("corrupt ELF: unknown class EI_CLASS=%d (want 1 for 32-bit or 2 for 64-bit)", id[elf.EI_CLASS])
	}
	fsize := uint64(size)
	if h.phnum > 0 {
		if h.phentsize < h.wantPhentsize {
			return nil, fmt.Errorf("corrupt ELF: program header entries are %d bytes, want %d", h.phentsize, h.wantPhentsize)
		}
		if end, ok := extent(h.phoff, h.phnum, h.phentsize); !ok || end > fsize {
			return nil, fmt.Errorf("truncated ELF: the program header table (%d entries at offset %d) ends past the end of the %d-byte file", h.phnum, h.phoff, size)
		}
	}
	if h.shoff != 0 {
		if h.shentsize < h.wantShentsize {
			return nil, fmt.Errorf("corrupt ELF: section header entries are %d bytes, want %d", h.shentsize, h.wantShentsize)
		}
		if h.shnum == 0 {
			// Extended numbering: the count is in section 0's sh_size.
			var s0 [64]byte
			if h.shoff > fsize || fsize-h.shoff < h.wantShentsize {
				return nil, fmt.Errorf("truncated ELF: section header table at offset %d is past the end of the %d-byte file", h.shoff, size)
			}
			if n, err := r.ReadAt(s0[:h.wantShentsize], int64(h.shoff)); uint64(n) < h.wantShentsize {
				return nil, fmt.Errorf("read section header 0: %w", orEOF(err))
			}
			if h.class == elf.ELFCLASS64 {
				h.shnum = bo.Uint64(s0[32:])
			} else {
				h.shnum = uint64(bo.Uint32(s0[20:]))
			}
		}
		if h.shnum > maxSections {
			return nil, fmt.Errorf("implausible ELF: claims %d sections (limit %d); the file is corrupt or hostile", h.shnum, maxSections)
		}
		if end, ok := extent(h.shoff, h.shnum, h.shentsize); !ok || end > fsize {
			return nil, fmt.Errorf("truncated ELF: the section header table (%d entries at offset %d) ends past the end of the %d-byte file", h.shnum, h.shoff, size)
		}
		if err := precheckSections(r, size, h); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// precheckSections checks that every section's bytes lie inside the file: a file cut short
// loses its section headers' data first, and debug/elf would only say "EOF".
func precheckSections(r io.ReaderAt, size int64, h *elfHeader) error {
	tab := make([]byte, h.shnum*h.shentsize) // inside the file, so bounded by its size
	if n, err := r.ReadAt(tab, int64(h.shoff)); n < len(tab) {
		return fmt.Errorf("read section headers: %w", orEOF(err))
	}
	bo := h.order
	field := func(i uint64) (typ elf.SectionType, off, sz uint64) {
		e := tab[i*h.shentsize:]
		if h.class == elf.ELFCLASS64 {
			return elf.SectionType(bo.Uint32(e[4:])), bo.Uint64(e[24:]), bo.Uint64(e[32:])
		}
		return elf.SectionType(bo.Uint32(e[4:])), uint64(bo.Uint32(e[16:])), uint64(bo.Uint32(e[20:]))
	}
	for i := uint64(1); i < h.shnum; i++ {
		typ, off, sz := field(i)
		if typ == elf.SHT_NOBITS || typ == elf.SHT_NULL || sz == 0 {
			continue
		}
		if end, ok := extent(off, 1, sz); !ok || end > uint64(size) {
			return fmt.Errorf("truncated ELF: section %d (%s) ends at byte %d, past the end of the %d-byte file", i, sectionName(r, size, h, tab, i), off+sz, size)
		}
	}
	return nil
}

// sectionName reads section i's name from .shstrtab, or returns "#i".
func sectionName(r io.ReaderAt, size int64, h *elfHeader, tab []byte, i uint64) string {
	bo := h.order
	if h.shstrndx == 0 || h.shstrndx >= h.shnum {
		return fmt.Sprintf("#%d", i)
	}
	var strOff, strSize uint64
	e := tab[h.shstrndx*h.shentsize:]
	if h.class == elf.ELFCLASS64 {
		strOff, strSize = bo.Uint64(e[24:]), bo.Uint64(e[32:])
	} else {
		strOff, strSize = uint64(bo.Uint32(e[16:])), uint64(bo.Uint32(e[20:]))
	}
	nameOff := uint64(bo.Uint32(tab[i*h.shentsize:]))
	if nameOff >= strSize {
		return fmt.Sprintf("#%d", i)
	}
	if end, ok := extent(strOff, 1, nameOff); !ok || end >= uint64(size) {
		return fmt.Sprintf("#%d", i)
	}
	name, err := readCString(r, strOff+nameOff, min(64, strSize-nameOff, uint64(size)-(strOff+nameOff)))
	if err != nil || name == "" {
		return fmt.Sprintf("#%d", i)
	}
	return name
}

// extent returns off+n*size and whether it did not overflow.
func extent(off, n, size uint64) (uint64, bool) {
	if n != 0 && size > (1<<63)/n {
		return 0, false
	}
	t := n * size
	if off > (1<<64-1)-t {
		return 0, false
	}
	return off + t, true
}

// inspectELF fills info.ELF and info.Sections.
func inspectELF(r io.ReaderAt, size int64, info *Info) (*elf.File, *elfHeader, error) {
	h, err := precheckELF(r, size)
	if err != nil {
		return nil, nil, err
	}
	var f *elf.File
	if err := guard("ELF headers", func() (e error) { f, e = elf.NewFile(r); return }); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, fmt.Errorf("truncated ELF: the headers point past the end of the %d-byte file (%w)", size, err)
		}
		return nil, nil, fmt.Errorf("corrupt ELF: %w", err)
	}
	if err := fillELF(r, size, f, h, info); err != nil {
		return nil, nil, err
	}
	return f, h, nil
}

// fillELF reads what the checks need from the parsed headers.
func fillELF(r io.ReaderAt, size int64, f *elf.File, h *elfHeader, info *Info) error {
	fsize := uint64(size)
	e := &ELFInfo{
		Class:     32,
		ByteOrder: "little",
		Machine:   f.Machine.String(),
		Type:      f.Type.String(),
		OSABI:     f.OSABI.String(),
		Flags:     h.flags,
		Entry:     f.Entry,
		RELRO:     "none",
	}
	if f.Class == elf.ELFCLASS64 {
		e.Class = 64
	}
	if f.ByteOrder == binary.BigEndian {
		e.ByteOrder = "big"
	}
	e.Arch = archFor(e.Class, f.Machine, e.ByteOrder)
	if f.Machine == elf.EM_ARM {
		switch {
		case h.flags&0x400 != 0: // EF_ARM_ABI_FLOAT_HARD
			e.FloatABI = "hard"
		case h.flags&0x200 != 0: // EF_ARM_ABI_FLOAT_SOFT
			e.FloatABI = "soft"
		}
	}
	info.ELF = e

	var dyn *elf.Prog
	var stack *elf.Prog
	for i, p := range f.Progs {
		if p.Filesz > 0 {
			if end, ok := extent(p.Off, 1, p.Filesz); !ok || end > fsize {
				return fmt.Errorf("truncated ELF: segment %d (%s) ends at byte %d, past the end of the %d-byte file", i, p.Type, p.Off+p.Filesz, size)
			}
		}
		switch p.Type {
		case elf.PT_INTERP:
			s, err := readCString(r, p.Off, min(p.Filesz, 4096))
			if err != nil {
				return fmt.Errorf("read PT_INTERP: %w", err)
			}
			e.Interpreter = s
		case elf.PT_DYNAMIC:
			dyn = p
		case elf.PT_GNU_RELRO:
			e.RELRO = "partial"
		case elf.PT_GNU_STACK:
			stack = p
		}
	}
	e.GNUStack = stack != nil
	e.NX = stack != nil && stack.Flags&elf.PF_X == 0
	if dyn != nil {
		if err := readDynamic(r, f, dyn, e); err != nil {
			return err
		}
	}
	if e.RELRO == "partial" && e.BindNow {
		e.RELRO = "full"
	}
	e.PIE = f.Type == elf.ET_DYN
	switch {
	case f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN:
		e.Linkage = LinkageNotExec
	case e.Interpreter != "":
		e.Linkage = LinkageDynamic
	case len(e.Needed) > 0:
		e.Linkage = LinkageBroken
	case f.Type == elf.ET_DYN:
		e.Linkage = LinkageStaticPIE
	default:
		e.Linkage = LinkageStatic
	}

	for i, s := range f.Sections {
		if s.Type == elf.SHT_NULL {
			continue
		}
		e.SectionHeaders = true
		var fileBytes int64
		if s.Type != elf.SHT_NOBITS && s.FileSize > 0 {
			if end, ok := extent(s.Offset, 1, s.FileSize); !ok || end > fsize {
				return fmt.Errorf("truncated ELF: section %d (%s) ends at byte %d, past the end of the %d-byte file", i, s.Name, s.Offset+s.FileSize, size)
			}
			fileBytes = int64(s.FileSize)
		}
		var mem int64
		if s.Flags&elf.SHF_ALLOC != 0 && s.Size < 1<<62 {
			mem = int64(s.Size)
		}
		info.Sections = append(info.Sections, Section{Name: s.Name, Offset: int64(s.Offset), Size: fileBytes, Mem: mem})
		switch {
		case s.Type == elf.SHT_SYMTAB:
			e.Symtab += fileBytes
		case strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_"):
			e.Debug = append(e.Debug, s.Name)
			e.DebugSize += fileBytes
		case s.Name == ".note.go.buildid" || s.Name == ".go.buildinfo" || s.Name == ".gopclntab":
			e.GoNote = true
		case s.Name == ".rodata":
			e.GlibcNSS = findNSS(r, int64(s.Offset), fileBytes)
		}
	}
	return nil
}

// readDynamic reads DT_NEEDED and the BIND_NOW flags from the PT_DYNAMIC segment: what the
// loader reads, whether or not section headers are present.
func readDynamic(r io.ReaderAt, f *elf.File, p *elf.Prog, e *ELFInfo) error {
	entSize := uint64(16)
	if f.Class == elf.ELFCLASS32 {
		entSize = 8
	}
	n := min(p.Filesz, maxDynamic) / entSize * entSize
	buf := make([]byte, n)
	if m, err := r.ReadAt(buf, int64(p.Off)); uint64(m) < n {
		return fmt.Errorf("read PT_DYNAMIC: %w", orEOF(err))
	}
	bo := f.ByteOrder
	var needed []uint64
	var strtab, strsz uint64
	haveStrtab := false
	for i := uint64(0); i+entSize <= n; i += entSize {
		var tag, val uint64
		if entSize == 16 {
			tag, val = bo.Uint64(buf[i:]), bo.Uint64(buf[i+8:])
		} else {
			tag, val = uint64(bo.Uint32(buf[i:])), uint64(bo.Uint32(buf[i+4:]))
		}
		switch elf.DynTag(tag) {
		case elf.DT_NULL:
			i = n
		case elf.DT_NEEDED:
			if len(needed) < 1024 {
				needed = append(needed, val)
			}
		case elf.DT_STRTAB:
			strtab, haveStrtab = val, true
		case elf.DT_STRSZ:
			strsz = val
		case elf.DT_BIND_NOW:
			e.BindNow = true
		case elf.DT_FLAGS:
			if elf.DynFlag(val)&elf.DF_BIND_NOW != 0 {
				e.BindNow = true
			}
		case elf.DT_FLAGS_1:
			if elf.DynFlag1(val)&elf.DF_1_NOW != 0 {
				e.BindNow = true
			}
		}
	}
	for _, off := range needed {
		name := "(unreadable name)"
		if haveStrtab && (strsz == 0 || off < strsz) {
			if foff, ok := vaddrToOffset(f, strtab); ok {
				limit := uint64(4096)
				if strsz > 0 {
					limit = min(limit, strsz-off)
				}
				if s, err := readCString(r, foff+off, limit); err == nil && s != "" {
					name = s
				}
			}
		}
		e.Needed = append(e.Needed, name)
	}
	return nil
}

// vaddrToOffset maps a virtual address to its file offset through the PT_LOAD segments.
func vaddrToOffset(f *elf.File, addr uint64) (uint64, bool) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr-p.Vaddr < p.Filesz {
			return p.Off + (addr - p.Vaddr), true
		}
	}
	return 0, false
}

// readCString reads a NUL-terminated string of at most limit bytes at off.
func readCString(r io.ReaderAt, off, limit uint64) (string, error) {
	if off > 1<<62 {
		return "", errors.New("offset out of range")
	}
	buf := make([]byte, limit)
	n, err := r.ReadAt(buf, int64(off))
	if n == 0 && limit > 0 {
		return "", orEOF(err)
	}
	buf = buf[:n]
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	return string(buf), nil
}
