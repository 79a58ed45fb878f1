package binary

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFuncNames reads the function table of stripped release builds in every format: the
// functions the program keeps, those inlined into them (fmt.Println is inlined into main.main),
// and not those the linker dropped.
func TestFuncNames(t *testing.T) {
	for _, fx := range []string{"static", "arm-v7", "darwin", "windows", "static-pie"} {
		t.Run(fx, func(t *testing.T) {
			names, err := FuncNames(fixture(t, fx))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"main.main", "os/user.Current", "time.LoadLocation", "fmt.Println"} {
				if _, ok := slices.BinarySearch(names, want); !ok {
					t.Errorf("%s is not among the %d names", want, len(names))
				}
			}
			for _, absent := range []string{"fmt.Sscanf", "net/http.ListenAndServe"} {
				if _, ok := slices.BinarySearch(names, absent); ok {
					t.Errorf("%s is listed, but the program does not use it", absent)
				}
			}
		})
	}
}

func TestFuncNamesRejectsWhatIsNotAGoBinary(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	static, err := os.ReadFile(fixture(t, "static"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		path string
		want string
	}{
		"missing":   {filepath.Join(dir, "nope"), "no such file"},
		"directory": {dir, "not a regular file"},
		"script":    {write("script", []byte("#!/bin/sh\necho hi\n")), "script"},
		"truncated": {write("truncated", static[:len(static)/3]), "function names of"},
		"c-static":  {fixture(t, "c-static-stripped"), "no Go function table"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := FuncNames(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("FuncNames: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestFuncNameTableBounds feeds the name-list reader headers whose offsets lie.
func TestFuncNameTableBounds(t *testing.T) {
	hdr := func(nameStart, nameEnd uint64, body string) []byte {
		b := make([]byte, 8+8*8)
		binary.LittleEndian.PutUint32(b, 0xfffffff1)
		b[6], b[7] = 1, 8
		words := []uint64{1, 1, 0, nameStart, nameEnd, nameEnd, nameEnd, nameEnd}
		for i, w := range words {
			binary.LittleEndian.PutUint64(b[8+8*i:], w)
		}
		return append(b, body...)
	}
	good := hdr(72, 72+uint64(len("main.main\x00x.y\x00")), "main.main\x00x.y\x00")
	names, err := funcNameTable(good)
	if err != nil || !slices.Equal(names, []string{"main.main", "x.y"}) {
		t.Errorf("good table: %q, %v", names, err)
	}
	for name, data := range map[string][]byte{
		"end past data":   hdr(72, 1<<20, "main.main\x00"),
		"start after end": hdr(80, 72, "main.main\x00"),
		"empty list":      hdr(72, 72, ""),
		"short":           good[:12],
	} {
		if _, err := funcNameTable(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
