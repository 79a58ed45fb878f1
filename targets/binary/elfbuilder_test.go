package binary

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// miniELF builds small, well-formed ELF files for the cases real toolchains do not produce
// on demand: hostile headers, a dynamic section without section headers, a float-ABI flag, a
// Go build info blob with no code. One PT_LOAD maps the whole file at base.
type miniELF struct {
	class32  bool
	order    binary.ByteOrder // default little endian
	machine  elf.Machine      // default EM_X86_64
	typ      elf.Type         // default ET_EXEC
	flags    uint32
	interp   string
	needed   []string
	bindNow  bool
	relro    bool
	noStack  bool // no PT_GNU_STACK
	execStk  bool // PT_GNU_STACK with PF_X
	sections []miniSection
	noShdrs  bool // leave out the section header table
}

type miniSection struct {
	name string
	typ  elf.SectionType
	data []byte
}

const miniBase = 0x400000

func (m miniELF) bytes() []byte {
	bo := m.order
	if bo == nil {
		bo = binary.LittleEndian
	}
	machine := m.machine
	if machine == 0 {
		machine = elf.EM_X86_64
	}
	typ := m.typ
	if typ == 0 {
		typ = elf.ET_EXEC
	}
	ehsize, phentsize, shentsize := 64, 56, 64
	if m.class32 {
		ehsize, phentsize, shentsize = 52, 32, 40
	}

	type prog struct {
		typ          elf.ProgType
		flags        elf.ProgFlag
		off, filesz  uint64
		vaddr, memsz uint64
	}
	var progs []prog
	nprog := 1 // PT_LOAD
	if m.interp != "" {
		nprog++
	}
	if len(m.needed) > 0 || m.bindNow {
		nprog++
	}
	if m.relro {
		nprog++
	}
	if !m.noStack {
		nprog++
	}
	payload := uint64(ehsize + nprog*phentsize)
	var body bytes.Buffer
	add := func(b []byte, align int) uint64 {
		for (int(payload)+body.Len())%align != 0 {
			body.WriteByte(0)
		}
		off := payload + uint64(body.Len())
		body.Write(b)
		return off
	}

	if m.interp != "" {
		off := add(append([]byte(m.interp), 0), 1)
		progs = append(progs, prog{typ: elf.PT_INTERP, flags: elf.PF_R, off: off, filesz: uint64(len(m.interp) + 1), vaddr: miniBase + off, memsz: uint64(len(m.interp) + 1)})
	}
	if len(m.needed) > 0 || m.bindNow {
		var strtab bytes.Buffer
		strtab.WriteByte(0)
		var offs []uint64
		for _, n := range m.needed {
			offs = append(offs, uint64(strtab.Len()))
			strtab.WriteString(n)
			strtab.WriteByte(0)
		}
		stroff := add(strtab.Bytes(), 1)
		var dyn bytes.Buffer
		put := func(tag elf.DynTag, val uint64) {
			if m.class32 {
				binary.Write(&dyn, bo, [2]uint32{uint32(tag), uint32(val)})
			} else {
				binary.Write(&dyn, bo, [2]uint64{uint64(tag), val})
			}
		}
		for _, o := range offs {
			put(elf.DT_NEEDED, o)
		}
		put(elf.DT_STRTAB, miniBase+stroff)
		put(elf.DT_STRSZ, uint64(strtab.Len()))
		if m.bindNow {
			put(elf.DT_FLAGS, uint64(elf.DF_BIND_NOW))
		}
		put(elf.DT_NULL, 0)
		off := add(dyn.Bytes(), 8)
		progs = append(progs, prog{typ: elf.PT_DYNAMIC, flags: elf.PF_R | elf.PF_W, off: off, filesz: uint64(dyn.Len()), vaddr: miniBase + off, memsz: uint64(dyn.Len())})
		if m.relro {
			progs = append(progs, prog{typ: elf.PT_GNU_RELRO, flags: elf.PF_R, off: off, filesz: uint64(dyn.Len()), vaddr: miniBase + off, memsz: uint64(dyn.Len())})
		}
	} else if m.relro {
		progs = append(progs, prog{typ: elf.PT_GNU_RELRO, flags: elf.PF_R, off: 0, filesz: 0, vaddr: miniBase})
	}
	if !m.noStack {
		f := elf.PF_R | elf.PF_W
		if m.execStk {
			f |= elf.PF_X
		}
		progs = append(progs, prog{typ: elf.PT_GNU_STACK, flags: f})
	}

	type sec struct {
		name       uint32
		typ        elf.SectionType
		flags      elf.SectionFlag
		off, size  uint64
		addr       uint64
		addralign  uint64
		link, info uint32
	}
	var secs []sec
	var shstr bytes.Buffer
	shstr.WriteByte(0)
	for _, s := range m.sections {
		name := uint32(shstr.Len())
		shstr.WriteString(s.name)
		shstr.WriteByte(0)
		off := add(s.data, 16)
		secs = append(secs, sec{name: name, typ: s.typ, flags: elf.SHF_ALLOC, off: off, size: uint64(len(s.data)), addr: miniBase + off, addralign: 16})
	}
	var shoff uint64
	var shnum, shstrndx int
	if !m.noShdrs {
		name := uint32(shstr.Len())
		shstr.WriteString(".shstrtab")
		shstr.WriteByte(0)
		off := add(shstr.Bytes(), 1)
		secs = append(secs, sec{name: name, typ: elf.SHT_STRTAB, off: off, size: uint64(shstr.Len()), addralign: 1})
		shnum = len(secs) + 1
		shstrndx = len(secs)
		shoff = add(nil, 8)
		var sh bytes.Buffer
		all := append([]sec{{}}, secs...)
		for _, s := range all {
			if m.class32 {
				binary.Write(&sh, bo, elf.Section32{Name: s.name, Type: uint32(s.typ), Flags: uint32(s.flags), Addr: uint32(s.addr), Off: uint32(s.off), Size: uint32(s.size), Link: s.link, Info: s.info, Addralign: uint32(s.addralign)})
			} else {
				binary.Write(&sh, bo, elf.Section64{Name: s.name, Type: uint32(s.typ), Flags: uint64(s.flags), Addr: s.addr, Off: s.off, Size: s.size, Link: s.link, Info: s.info, Addralign: s.addralign})
			}
		}
		body.Write(sh.Bytes())
	}
	total := payload + uint64(body.Len())
	progs = append([]prog{{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_X, off: 0, filesz: total, vaddr: miniBase, memsz: total}}, progs...)

	var out bytes.Buffer
	var ident [elf.EI_NIDENT]byte
	copy(ident[:], elf.ELFMAG)
	ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	if m.class32 {
		ident[elf.EI_CLASS] = byte(elf.ELFCLASS32)
	}
	ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	if bo == binary.BigEndian {
		ident[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	}
	ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	entry := uint64(miniBase + payload)
	shentsizeOut := shentsize
	if m.noShdrs {
		shentsizeOut = 0
	}
	if m.class32 {
		binary.Write(&out, bo, elf.Header32{Ident: ident, Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
			Entry: uint32(entry), Phoff: uint32(ehsize), Shoff: uint32(shoff), Flags: m.flags, Ehsize: uint16(ehsize),
			Phentsize: uint16(phentsize), Phnum: uint16(len(progs)), Shentsize: uint16(shentsizeOut), Shnum: uint16(shnum), Shstrndx: uint16(shstrndx)})
		for _, p := range progs {
			binary.Write(&out, bo, elf.Prog32{Type: uint32(p.typ), Flags: uint32(p.flags), Off: uint32(p.off), Vaddr: uint32(p.vaddr), Paddr: uint32(p.vaddr), Filesz: uint32(p.filesz), Memsz: uint32(p.memsz), Align: 0x1000})
		}
	} else {
		binary.Write(&out, bo, elf.Header64{Ident: ident, Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
			Entry: entry, Phoff: uint64(ehsize), Shoff: shoff, Flags: m.flags, Ehsize: uint16(ehsize),
			Phentsize: uint16(phentsize), Phnum: uint16(len(progs)), Shentsize: uint16(shentsizeOut), Shnum: uint16(shnum), Shstrndx: uint16(shstrndx)})
		for _, p := range progs {
			binary.Write(&out, bo, elf.Prog64{Type: uint32(p.typ), Flags: uint32(p.flags), Off: p.off, Vaddr: p.vaddr, Paddr: p.vaddr, Filesz: p.filesz, Memsz: p.memsz, Align: 0x1000})
		}
	}
	out.Write(body.Bytes())
	return out.Bytes()
}

// goBuildInfoBlob is a .go.buildinfo section in the Go 1.18+ layout (inline, varint-prefixed
// strings), so debug/buildinfo reads settings from a file that has no Go code.
func goBuildInfoBlob(version string, settings map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString("\xff Go buildinf:")
	b.WriteByte(8)   // pointer size
	b.WriteByte(0x2) // flags: little endian, inline strings
	for b.Len() < 32 {
		b.WriteByte(0)
	}
	mod := "path\texample.com/mini\nmod\texample.com/mini\t(devel)\t\n"
	for _, k := range []string{"-buildmode", "-trimpath", "CGO_ENABLED", "GOARCH", "GOOS", "GOAMD64"} {
		if v, ok := settings[k]; ok {
			mod += "build\t" + k + "=" + v + "\n"
		}
	}
	// The module info is framed by 16-byte markers that debug/buildinfo strips.
	mod = "0123456789abcdef" + mod + "0123456789abcdef"
	for _, s := range []string{version, mod} {
		b.Write(binary.AppendUvarint(nil, uint64(len(s))))
		b.WriteString(s)
	}
	return b.Bytes()
}

// pclntabBlob is a Go 1.20-layout pclntab header with nfunc functions and consistent offsets
// but no real tables behind them: enough to exercise the header checks and the guarded
// debug/gosym call.
func pclntabBlob(nfunc uint64) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint32(0xfffffff1))
	b.Write([]byte{0, 0, 1, 8})
	hdr := 8 + 8*8
	words := []uint64{nfunc, 1, miniBase, uint64(hdr), uint64(hdr + 16), uint64(hdr + 24), uint64(hdr + 32), uint64(hdr + 40)}
	for _, w := range words {
		binary.Write(&b, binary.LittleEndian, w)
	}
	b.Write(make([]byte, 64))
	return b.Bytes()
}
