package binary

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// MaxFuncNames bounds how many distinct function names FuncNames returns; a real program has
// tens of thousands.
const MaxFuncNames = 2_000_000

// FuncNames returns the names of the functions in a Go binary's function table (pclntab),
// sorted, the functions the compiler inlined into others included: the linker writes the name
// of every function it keeps and of every function inlined into one of them into the table's
// name list, and stripping (-s -w) keeps the table. Names are as the runtime prints them, e.g.
// "net/http.(*Server).Serve" or "main.main". A function the linker dropped as unreachable is not
// there.
//
// ELF, Mach-O and PE files are read; the table is found by its section (.gopclntab,
// __gopclntab) or, when there is none, by its header in the file's data. Tables of Go 1.16 and
// later are understood. Hostile input is an error, never a panic.
func FuncNames(path string) (names []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			names, err = nil, fmt.Errorf("function names of %s: malformed input (internal error: %v); please report it with the file", path, p)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("function names: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("function names: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("function names of %s: not a regular file", path)
	}
	head := make([]byte, min(st.Size(), 4096))
	if n, err := f.ReadAt(head, 0); n < len(head) {
		return nil, fmt.Errorf("function names of %s: read header: %w", path, orEOF(err))
	}
	format, err := sniff(head, st.Size())
	if err != nil {
		return nil, fmt.Errorf("function names of %s: %w", path, err)
	}
	data, err := pclntabOf(f, format)
	if err != nil {
		return nil, fmt.Errorf("function names of %s: %w", path, err)
	}
	names, err = funcNameTable(data)
	if err != nil {
		return nil, fmt.Errorf("function names of %s: %w", path, err)
	}
	return names, nil
}

// pclntabOf returns the bytes of the function table, from its header on.
func pclntabOf(r io.ReaderAt, format Format) ([]byte, error) {
	var (
		data  []byte
		spans []span
		bo    binary.ByteOrder
	)
	err := guard("executable headers", func() error {
		switch format {
		case FormatELF:
			f, err := elf.NewFile(r)
			if err != nil {
				return err
			}
			bo = f.ByteOrder
			if s := f.Section(".gopclntab"); s != nil && s.Type != elf.SHT_NOBITS {
				if s.Size > maxPclntab {
					return fmt.Errorf(".gopclntab is %d bytes, over the %d this reads", s.Size, int64(maxPclntab))
				}
				data, err = s.Data()
				return err
			}
			spans = elfDataSpans(f)
		case FormatMachO:
			f, err := macho.NewFile(r)
			if err != nil {
				return err
			}
			bo = f.ByteOrder
			if s := f.Section("__gopclntab"); s != nil {
				if s.Size > maxPclntab {
					return fmt.Errorf("__gopclntab is %d bytes, over the %d this reads", s.Size, int64(maxPclntab))
				}
				data, err = s.Data()
				return err
			}
			for _, s := range f.Sections {
				if s.Seg != "__TEXT" || s.Name != "__text" {
					spans = append(spans, span{int64(s.Offset), int64(s.Size)})
				}
			}
		case FormatPE:
			f, err := pe.NewFile(r)
			if err != nil {
				return err
			}
			bo = binary.LittleEndian
			for _, s := range f.Sections {
				if s.Characteristics&pe.IMAGE_SCN_CNT_CODE == 0 {
					spans = append(spans, span{int64(s.Offset), int64(s.Size)})
				}
			}
		default:
			return fmt.Errorf("format %q has no Go function table this reads", format)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if data != nil {
		return data, nil
	}
	_, data, _ = searchFuncTable(r, spans, bo, 0)
	if data == nil {
		return nil, errors.New("no Go function table (pclntab) found: not a Go binary, packed, or damaged")
	}
	return data, nil
}

// funcNameTable reads the function name list of a pclntab: the NUL-terminated names between
// the header's funcnameOffset and cuOffset.
func funcNameTable(data []byte) ([]string, error) {
	if err := checkPclntabHeader(data, len(data)); err != nil {
		return nil, err
	}
	bo := binary.ByteOrder(binary.LittleEndian)
	if !isPclntabMagic(bo.Uint32(data)) {
		bo = binary.BigEndian
	}
	ptr := int(data[7])
	word := func(i int) uint64 {
		o := 8 + i*ptr
		if ptr == 8 {
			return bo.Uint64(data[o:])
		}
		return uint64(bo.Uint32(data[o:]))
	}
	var first int // header word holding funcnameOffset; cuOffset follows it
	switch bo.Uint32(data) {
	case 0xfffffff1, 0xfffffff0: // Go 1.20+, 1.18: nfunc, nfiles, textStart, funcnameOffset, cuOffset
		first = 3
	case 0xfffffffa: // Go 1.16: nfunc, nfiles, funcnameOffset, cuOffset
		first = 2
	default:
		return nil, errors.New("the function table is Go 1.15's or older, whose name list this does not read")
	}
	if 8+(first+2)*ptr > len(data) {
		return nil, fmt.Errorf("pclntab header truncated (%d bytes)", len(data))
	}
	start, end := word(first), word(first+1)
	if start > end || end > uint64(len(data)) {
		return nil, fmt.Errorf("pclntab name list [%d, %d) lies outside its %d bytes", start, end, len(data))
	}
	seen := map[string]bool{}
	var names []string
	for rest := data[start:end]; len(rest) > 0; {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			i = len(rest)
		}
		if n := rest[:i]; len(n) > 0 && !seen[string(n)] {
			if len(names) == MaxFuncNames {
				return nil, fmt.Errorf("the function table names more than %d functions (binary.MaxFuncNames)", MaxFuncNames)
			}
			seen[string(n)] = true
			names = append(names, string(n))
		}
		rest = rest[min(i+1, len(rest)):]
	}
	if len(names) == 0 {
		return nil, errors.New("the function table's name list is empty")
	}
	slices.Sort(names)
	return names, nil
}
