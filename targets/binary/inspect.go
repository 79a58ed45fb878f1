package binary

import (
	"cmp"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
)

// Format is the kind of executable a file is.
type Format string

// Formats Inspect recognises. Only ELF files get the linkage, stripping, packing and Go
// checks; Mach-O and PE files (release binaries for macOS and Windows) are recognised so that
// Verify can report those checks as not applicable instead of failing them.
const (
	FormatELF   Format = "elf"
	FormatMachO Format = "macho"
	FormatPE    Format = "pe"
)

// Info is everything Inspect learns about one file. It is plain data: it can be printed,
// compared, or stored as JSON.
type Info struct {
	Path   string `json:"path,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex, of the whole file
	Format Format `json:"format"`

	ELF *ELFInfo `json:"elf,omitempty"` // nil unless Format is FormatELF
	Go  *GoInfo  `json:"go,omitempty"`  // nil when the file carries no Go build info

	// Features are what the program links, read from its function table. Features.Known is
	// false when there was no table to read (not Go, packed, or unreadable).
	Features Features `json:"features"`

	Sections []Section     `json:"sections,omitempty"` // ELF sections in file order (no NULL section)
	Packages []PackageSize `json:"packages,omitempty"` // Go packages by code size, largest first

	Packed *Packed `json:"packed,omitempty"` // non-nil when the file is UPX-packed

	Scanned []string `json:"scanned,omitempty"` // build-machine paths looked for (WithLeakPaths)
	Leaks   []Leak   `json:"leaks,omitempty"`   // those of Scanned that occur in the bytes

	// Notes are things a reader should know that are not failures by themselves, e.g.
	// "not a Go binary: Go checks skipped".
	Notes []string `json:"notes,omitempty"`
}

// Option configures Inspect and InspectReader.
type Option func(*options)

type options struct {
	leakPaths []string
}

// WithLeakPaths makes the inspection look for these build-machine directories (the build's
// working directory, $HOME, GOPATH, GOMODCACHE, GOROOT) in the file's bytes. The scan runs
// in the same single pass that computes the sha256.
func WithLeakPaths(paths ...string) Option {
	return func(o *options) { o.leakPaths = append(o.leakPaths, paths...) }
}

// Inspect reads the executable at path. The file is read front to back once (sha256 and
// path scan) plus the headers and tables it needs; it is never held in memory whole.
//
// Anything that is not an executable Inspect understands — an empty or truncated file,
// wrong magic, absurd header counts, a directory, a file it may not read — is an error that
// says which, never a panic.
func Inspect(ctx context.Context, path string, opts ...Option) (*Info, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("inspect %s: is a directory, not a binary", path)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("inspect %s: not a regular file (%s)", path, st.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	defer f.Close()
	info, err := InspectReader(ctx, f, st.Size(), opts...)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	info.Path = path
	return info, nil
}

// InspectReader is Inspect for size bytes readable from r. r must allow concurrent ReadAt
// calls, as io.ReaderAt promises (an *os.File does). It is the fuzzing entry point: no input
// makes it panic.
func InspectReader(ctx context.Context, r io.ReaderAt, size int64, opts ...Option) (info *Info, err error) {
	defer func() {
		// Backstop only: inspect guards the standard library parsers itself (see guard) and the
		// fuzz target calls inspect directly, so panics in this package's own code are found.
		if p := recover(); p != nil {
			info, err = nil, fmt.Errorf("malformed input (internal error: %v); please report it with the file", p)
		}
	}()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return inspect(ctx, r, size, o)
}

// inspect does the work of InspectReader without its recover.
func inspect(ctx context.Context, r io.ReaderAt, size int64, o options) (*Info, error) {
	if size <= 0 {
		return nil, errors.New("empty file: nothing to inspect")
	}
	head := make([]byte, min(size, 4096))
	if n, err := r.ReadAt(head, 0); n < len(head) {
		return nil, fmt.Errorf("read header: %w", orEOF(err))
	}
	format, err := sniff(head, size)
	if err != nil {
		return nil, err
	}
	info := &Info{Size: size, Format: format}
	scan, notes := cleanLeakPaths(o.leakPaths)
	info.Scanned = scan
	info.Notes = append(info.Notes, notes...)

	// The byte pass (sha256 + path scan) runs while the headers are parsed.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		stream  streamResult
		serr    error
		elfErr  error
		packErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		stream, serr = streamScan(ctx, r, size, scan)
	}()

	switch format {
	case FormatELF:
		var f *elf.File
		var h *elfHeader
		f, h, elfErr = inspectELF(r, size, info)
		if elfErr == nil {
			packErr = detectUPX(r, size, h, info)
		}
		if elfErr == nil && packErr == nil {
			inspectGo(r, info)
			if info.Go != nil {
				readFuncTable(r, f, info)
			}
		}
	default:
		inspectGo(r, info)
	}
	if elfErr != nil || packErr != nil {
		cancel()
	}
	wg.Wait()
	if elfErr != nil {
		return nil, elfErr
	}
	if packErr != nil {
		return nil, packErr
	}
	if serr != nil {
		return nil, fmt.Errorf("read: %w", serr)
	}
	info.SHA256 = stream.sha256
	for _, l := range stream.leaks {
		if l.Count > 0 {
			info.Leaks = append(info.Leaks, l)
		}
	}
	switch {
	case info.Go != nil || format != FormatELF:
	case info.Packed != nil:
		info.Notes = append(info.Notes, "packed: whatever Go build info the program has is compressed inside; Go checks skipped")
	default:
		info.Notes = append(info.Notes, "not a Go binary (no Go build info): Go checks skipped")
	}
	slices.SortFunc(info.Packages, func(a, b PackageSize) int {
		if c := cmp.Compare(b.Size, a.Size); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return info, nil
}

// sniff tells the format from the first bytes.
func sniff(head []byte, size int64) (Format, error) {
	b := head
	switch {
	case len(b) >= 4 && string(b[:4]) == "\x7fELF":
		return FormatELF, nil
	case len(b) >= 4 && isMachO(b[:4]):
		return FormatMachO, nil
	case len(b) >= 2 && string(b[:2]) == "MZ":
		if len(b) >= 0x40 {
			lfanew := int64(uint32(b[0x3c]) | uint32(b[0x3d])<<8 | uint32(b[0x3e])<<16 | uint32(b[0x3f])<<24)
			if lfanew+4 <= int64(len(b)) && string(b[lfanew:lfanew+4]) == "PE\x00\x00" {
				return FormatPE, nil
			}
			if lfanew+4 > int64(len(b)) && lfanew+4 <= size {
				return "", fmt.Errorf("PE header at offset %d is beyond the first %d bytes: not a file a linker writes", lfanew, len(b))
			}
		}
		return "", errors.New("starts with MZ but has no PE header: a DOS executable or a truncated PE file, not a binary Verify understands")
	case len(b) >= 2 && string(b[:2]) == "#!":
		return "", fmt.Errorf("a script (%q), not a compiled binary", printableRun(b[:min(len(b), 60)]))
	case len(b) < 4 && string(b) == "\x7fELF"[:len(b)]:
		return "", fmt.Errorf("truncated ELF: %d bytes, the ELF identification alone is 16", len(b))
	}
	return "", fmt.Errorf("not an executable: starts with % x (an ELF file starts with 7f 45 4c 46, \"\\x7fELF\"; Mach-O and PE are recognised too)", b[:min(len(b), 8)])
}

func isMachO(b []byte) bool {
	switch string(b) {
	case "\xfe\xed\xfa\xce", "\xfe\xed\xfa\xcf", "\xce\xfa\xed\xfe", "\xcf\xfa\xed\xfe", "\xca\xfe\xba\xbe":
		return true
	}
	return false
}

// orEOF turns a nil error from a short read into io.ErrUnexpectedEOF.
func orEOF(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// guard runs f, turning a panic into an error. The standard library's debug/elf,
// debug/buildinfo and debug/gosym say they are not hardened against adversarial input and may
// panic on malformed files; guard keeps that from taking down the caller.
func guard(what string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: malformed data (%v)", what, p)
		}
	}()
	return f()
}
