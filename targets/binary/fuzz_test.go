package binary

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/scratchkit/scratchkit/targets/platform"
)

// fuzzSeeds are small inputs that reach every parser: static and dynamic ELF, 32-bit ARM,
// big endian, no section headers, Go build info and a function table header, UPX's layout,
// Mach-O, PE and garbage. The same inputs are committed under testdata/fuzz/FuzzInspect
// (regenerate with SCRATCHKIT_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds).
func fuzzSeeds() map[string][]byte {
	goSections := []miniSection{
		{name: ".go.buildinfo", typ: elf.SHT_PROGBITS, data: goBuildInfoBlob("go1.26.0", map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v1"})},
		{name: ".gopclntab", typ: elf.SHT_PROGBITS, data: pclntabBlob(2)},
		{name: ".symtab", typ: elf.SHT_SYMTAB, data: make([]byte, 48)},
		{name: ".debug_info", typ: elf.SHT_PROGBITS, data: []byte("debug")},
	}
	static := miniELF{}.bytes()
	pe := make([]byte, 256)
	copy(pe, "MZ")
	binary.LittleEndian.PutUint32(pe[0x3c:], 0x80)
	copy(pe[0x80:], "PE\x00\x00")
	return map[string][]byte{
		"static":         static,
		"dynamic":        miniELF{interp: "/lib64/ld-linux-x86-64.so.2", needed: []string{"libc.so.6"}, relro: true, bindNow: true}.bytes(),
		"dynamic-noshdr": miniELF{typ: elf.ET_DYN, needed: []string{"libc.so.6"}, noShdrs: true}.bytes(),
		"arm32-hard":     miniELF{class32: true, machine: elf.EM_ARM, flags: 0x5000400}.bytes(),
		"ppc64-be":       miniELF{order: binary.BigEndian, machine: elf.EM_PPC64, interp: "/lib64/ld64.so.1"}.bytes(),
		"go":             miniELF{sections: goSections}.bytes(),
		"go-noshdr":      miniELF{sections: goSections, noShdrs: true}.bytes(),
		"upx":            synthUPX(static),
		"truncated":      static[:80],
		"macho":          append([]byte("\xcf\xfa\xed\xfe\x0c\x00\x00\x01"), make([]byte, 56)...),
		"pe":             pe,
		"garbage":        []byte("\x7fELF\x02\x01\x01\x00garbage"),
	}
}

// inspectNoRecover runs the inspection without InspectReader's backstop, so that a panic in
// this package's own code is a fuzzing failure.
func inspectNoRecover(data []byte) (*Info, error) {
	return inspect(context.Background(), bytes.NewReader(data), int64(len(data)), options{leakPaths: []string{"/home/ci", "/usr/local/go"}})
}

func checkInvariants(t *testing.T, data []byte, info *Info, err error) {
	t.Helper()
	if err != nil {
		if info != nil {
			t.Fatalf("info and error both returned: %v", err)
		}
		return
	}
	sum := sha256.Sum256(data)
	if info.Size != int64(len(data)) || info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("size %d sha %s for %d bytes", info.Size, info.SHA256, len(data))
	}
	rep := Check(info, Expect{Name: "fuzz", Platform: platform.MustParse("linux/amd64"), MaxSize: 1, Breakdown: true, LeakPaths: []string{"/home/ci", "/usr/local/go"},
		Enforce: []string{CheckPIE, CheckRELRO, CheckNX}})
	if len(rep.Results) != len(CheckNames()) {
		t.Fatalf("%d results, want one per check: %+v", len(rep.Results), rep.Results)
	}
	if err := WriteTable(io.Discard, []Report{rep}, false); err != nil {
		t.Fatal(err)
	}
}

func FuzzInspect(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := inspectNoRecover(data)
		checkInvariants(t, data, info, err)
	})
}

// TestInspectMutations is a short, bounded fuzz run inside the normal tests: a fixed number
// of deterministic mutations of every seed and of a real binary's headers. (The open-ended
// run is `go test -run='^$' -fuzz=FuzzInspect -fuzztime=10s ./targets/binary`.)
func TestInspectMutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := fuzzSeeds()
	if !testing.Short() {
		if real, err := os.ReadFile(fixture(t, "static")); err == nil {
			inputs["real"] = real
		}
	}
	interesting := []uint64{0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0xffffffff, 1 << 31, 1<<63 - 1, 1<<64 - 1}
	for name, seed := range inputs {
		n := 400
		if name == "real" {
			n = 150
		}
		for i := 0; i < n; i++ {
			data := bytes.Clone(seed)
			for k := 0; k <= rng.IntN(4); k++ {
				hot := len(data) // mutate mostly the headers and tables, where the parsers look
				if hot > 4096 && rng.IntN(4) > 0 {
					hot = 4096
				}
				if len(data) == 0 {
					break
				}
				off := rng.IntN(hot)
				switch rng.IntN(5) {
				case 0:
					data[off] ^= byte(1 << rng.IntN(8))
				case 1:
					data[off] = byte(rng.Uint32())
				case 2:
					v := interesting[rng.IntN(len(interesting))]
					var w [8]byte
					binary.LittleEndian.PutUint64(w[:], v)
					copy(data[off:], w[:1<<rng.IntN(4)])
				case 3:
					data = data[:rng.IntN(len(data)+1)]
				case 4: // the section header table of a real binary sits at the end
					if len(data) > 4096 {
						end := len(data) - 1 - rng.IntN(4096)
						data[end] = byte(rng.Uint32())
					}
				}
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s mutation %d panicked: %v\ninput (first 256 bytes): %x", name, i, p, data[:min(len(data), 256)])
					}
				}()
				info, err := inspectNoRecover(data)
				checkInvariants(t, data, info, err)
			}()
		}
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SCRATCHKIT_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set SCRATCHKIT_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzInspect")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzInspect")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range fuzzSeeds() {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
