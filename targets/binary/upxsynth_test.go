package binary

import (
	"bytes"
	"compress/flate"
	"debug/elf"
	"encoding/binary"
	"hash/adler32"
)

// synthUPX returns orig packed the way UPX 4 packs a linux/amd64 executable, as far as the
// layout goes.
//
// Real UPX is not available on this machine (Debian bookworm dropped upx-ucl), so the test
// builds the packed file itself, following UPX's own source (upx/upx src/p_unix.cpp pack(),
// p_lx_elf.cpp generateElfHdr, packhead.cpp putPackHeader, stub/src/include/header.S):
//
//	Elf64_Ehdr, e_shoff = e_shnum = e_shentsize = 0 (no section headers)
//	Elf64_Phdr[3]: PT_LOAD (brk base), PT_LOAD (R+X, the whole file), PT_GNU_STACK
//	l_info  {l_checksum, l_magic "UPX!", l_lsize, l_version 14, l_format 22}   <- overlay_offset-12
//	p_info  {p_progid, p_filesize, p_blocksize}
//	b_info + compressed block, ..., b_info end marker {sz_unc 0, sz_cpr "UPX!"}
//	loader (with "$Info: This file is packed with the UPX executable packer ... $")
//	PackHeader: "UPX!", version, format, method, level, adlers, lengths, filter, checksum
//	overlay_offset (LE32): the offset of p_info
//
// The compressed payload uses compress/flate in place of UPX's NRV/LZMA: nothing in the
// detection looks at it, and the original bytes (and so the Go build info) stop being readable,
// as they do with real UPX.
func synthUPX(orig []byte) []byte {
	le := binary.LittleEndian
	const (
		version = 14 // PackLinuxElf::getVersion
		format  = 22 // UPX_F_LINUX_ELF64_AMD64
		method  = 8  // M_NRV2E_LE32... any valid method id
		phnum   = 3
		hdrs    = 64 + phnum*56
	)
	var comp bytes.Buffer
	zw, _ := flate.NewWriter(&comp, flate.BestSpeed)
	zw.Write(orig)
	zw.Close()

	loader := append(bytes.Repeat([]byte{0x90}, 256), []byte("\n\x00$Info: This file is packed with the UPX executable packer http://upx.sf.net $\n\x00$Id: UPX 4.23 Copyright (C) 1996-2024 the UPX Team. All Rights Reserved. $\n")...)

	var body bytes.Buffer
	// l_info
	binary.Write(&body, le, adler32.Checksum(loader))
	body.WriteString("UPX!")
	binary.Write(&body, le, uint16(len(loader)))
	body.Write([]byte{version, format})
	// p_info
	binary.Write(&body, le, [3]uint32{0, uint32(len(orig)), uint32(len(orig))})
	// one b_info + block
	binary.Write(&body, le, [2]uint32{uint32(len(orig)), uint32(comp.Len())})
	body.Write([]byte{method, 0, 0, 0})
	body.Write(comp.Bytes())
	// end marker
	binary.Write(&body, le, [2]uint32{0, binary.LittleEndian.Uint32([]byte("UPX!"))})
	body.Write([]byte{0, 0, 0, 0})
	body.Write(loader)
	// PackHeader
	ph := make([]byte, 32)
	copy(ph, "UPX!")
	ph[4], ph[5], ph[6], ph[7] = version, format, method, 8
	le.PutUint32(ph[8:], adler32.Checksum(orig))
	le.PutUint32(ph[12:], adler32.Checksum(comp.Bytes()))
	le.PutUint32(ph[16:], uint32(len(orig)))
	le.PutUint32(ph[20:], uint32(comp.Len()))
	le.PutUint32(ph[24:], uint32(len(orig)))
	sum := 0
	for _, c := range ph[4:31] {
		sum += int(c)
	}
	ph[31] = byte(sum % 251)
	body.Write(ph)
	binary.Write(&body, le, uint32(hdrs+12)) // overlay_offset: p_info

	total := uint64(hdrs + body.Len())
	var out bytes.Buffer
	var ident [elf.EI_NIDENT]byte
	copy(ident[:], elf.ELFMAG)
	ident[elf.EI_CLASS], ident[elf.EI_DATA], ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.Write(&out, le, elf.Header64{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: 1,
		Entry: 0x400000 + total - uint64(len(loader)) - 36, Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: phnum})
	binary.Write(&out, le, elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_W), Vaddr: 0x400000, Paddr: 0x400000, Memsz: uint64(len(orig)), Align: 0x1000})
	binary.Write(&out, le, elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Vaddr: 0x400000 + uint64(len(orig)), Paddr: 0x400000 + uint64(len(orig)), Filesz: total, Memsz: total, Align: 0x1000})
	binary.Write(&out, le, elf.Prog64{Type: uint32(elf.PT_GNU_STACK), Flags: uint32(elf.PF_R | elf.PF_W), Align: 16})
	out.Write(body.Bytes())
	return out.Bytes()
}
