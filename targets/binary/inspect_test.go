package binary

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/platform"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func inspectBytes(t *testing.T, data []byte, opts ...Option) (*Info, error) {
	t.Helper()
	return InspectReader(context.Background(), bytesReader(data), int64(len(data)), opts...)
}

func TestInspectHostileInput(t *testing.T) {
	real, err := os.ReadFile(fixture(t, "static"))
	if err != nil {
		t.Fatal(err)
	}
	hugeCount := miniELF{}.bytes()
	// Extended numbering: e_shnum = 0 and the count in section 0's sh_size, here 2^31.
	binary.LittleEndian.PutUint16(hugeCount[60:], 0)
	shoff := binary.LittleEndian.Uint64(hugeCount[40:])
	binary.LittleEndian.PutUint64(hugeCount[shoff+32:], 1<<31)
	manySections := miniELF{}.bytes()
	binary.LittleEndian.PutUint16(manySections[60:], 0xffff) // 65535 entries, most past the end
	badClass := slices.Clone(real[:64])
	badClass[elf.EI_CLASS] = 7

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"wrong magic", []byte("\x7fELG\x02\x01\x01" + strings.Repeat("\x00", 100)), "not an executable"},
		{"text file", []byte("hello, world\n"), "not an executable"},
		{"script", []byte("#!/bin/sh\necho hi\n"), "a script"},
		{"three bytes of ELF", []byte("\x7fEL"), "truncated ELF"},
		{"ELF identification only", real[:10], "truncated ELF"},
		{"ELF header cut", real[:40], "truncated ELF"},
		{"program headers cut", real[:100], "truncated ELF: the program header table"},
		{"half a binary", real[:len(real)/2], "truncated ELF"},
		{"last byte missing", real[:len(real)-1], "truncated ELF"},
		{"bad class", badClass, "unknown class"},
		{"huge section count", hugeCount, "implausible ELF: claims 2147483648 sections"},
		{"65535 sections in a small file", manySections, "truncated ELF: the section header table (65535 entries"},
		{"MZ without PE", []byte("MZ" + strings.Repeat("\x00", 200)), "no PE header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := inspectBytes(t, tc.data)
			if err == nil {
				t.Fatalf("no error; got %+v", info)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestInspectPathErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Inspect(ctx, dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := Inspect(ctx, missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err == nil {
		if _, err := Inspect(ctx, fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("fifo: %v", err)
		}
	}
}

// unreadableEnv passes the file to the child process of TestInspectUnreadable.
const unreadableEnv = "SCRATCHKIT_TEST_UNREADABLE"

func TestInspectUnreadable(t *testing.T) {
	if p := os.Getenv(unreadableEnv); p != "" {
		// In the child, as an unprivileged user.
		_, err := Inspect(context.Background(), p)
		fmt.Printf("INSPECT-ERROR: %v\n", err)
		return
	}
	dir, err := os.MkdirTemp("", "scratchkit-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, miniELF{}.bytes(), 0o000); err != nil {
		t.Fatal(err)
	}
	var msg string
	if os.Geteuid() != 0 {
		_, err := Inspect(context.Background(), secret)
		msg = fmt.Sprint(err)
	} else {
		// Root reads anything: look at it as nobody, from a copy of this test binary.
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(self)
		if err != nil {
			t.Fatal(err)
		}
		child := filepath.Join(dir, "binary.test")
		if err := os.WriteFile(child, data, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(child, "-test.run=^TestInspectUnreadable$")
		tmp := filepath.Join(dir, "tmp") // the child's TestMain makes its fixture directory there
		if err := os.Mkdir(tmp, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(tmp, 0o777)
		cmd.Env = append(os.Environ(), unreadableEnv+"="+secret, "TMPDIR="+tmp)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		_, after, ok := strings.Cut(string(out), "INSPECT-ERROR: ")
		if !ok {
			t.Fatalf("child printed no result:\n%s", out)
		}
		msg, _, _ = strings.Cut(after, "\n")
	}
	if !strings.Contains(msg, "permission denied") || !strings.Contains(msg, secret) {
		t.Errorf("unreadable file: error %q, want permission denied naming the file", msg)
	}
}

// failingReader fails every read that reaches past at.
type failingReader struct {
	r  io.ReaderAt
	at int64
}

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.at {
		return 0, errors.New("input/output error")
	}
	return f.r.ReadAt(p, off)
}

func TestInspectReadError(t *testing.T) {
	real, err := os.ReadFile(fixture(t, "static"))
	if err != nil {
		t.Fatal(err)
	}
	r := failingReader{r: bytesReader(real), at: int64(len(real)) - 1000}
	_, err = InspectReader(context.Background(), r, int64(len(real)))
	if err == nil || !strings.Contains(err.Error(), "input/output error") {
		t.Errorf("error %v, want the read error", err)
	}
	// A reader that is shorter than it claims.
	_, err = InspectReader(context.Background(), bytesReader(real), int64(len(real))+10)
	if err == nil {
		t.Error("no error for a file shorter than its size")
	}
}

func TestInspectCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Inspect(ctx, fixture(t, "static"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestInspectSHA256(t *testing.T) {
	path := fixture(t, "static")
	info, err := Inspect(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if want := testenv.FileSHA256(t, path); info.SHA256 != want {
		t.Errorf("sha256 %s, want %s", info.SHA256, want)
	}
}

func TestFeatures(t *testing.T) {
	ctx := context.Background()
	hello := Features{Known: true, UsesNet: true, UsesOSUser: true, UsesLoadLocation: true}
	tls := Features{Known: true, UsesNet: true, UsesTLS: true, LoadsSystemRoots: true, EmbedsRoots: true, EmbedsTZData: true}
	for _, tc := range []struct {
		fixture string
		want    Features
	}{
		{"static", hello},
		{"static-pie", hello}, // externally linked
		{"arm-v7", hello},
		{"tlsclient", tls},
	} {
		info, err := Inspect(ctx, fixture(t, tc.fixture))
		if err != nil {
			t.Fatal(err)
		}
		if info.Features != tc.want {
			t.Errorf("%s: features %+v, want %+v", tc.fixture, info.Features, tc.want)
		}
		if info.Go.FuncTable != ".gopclntab" || info.Go.Funcs < 1000 {
			t.Errorf("%s: function table %q with %d functions", tc.fixture, info.Go.FuncTable, info.Go.Funcs)
		}
		sizes := map[string]int64{}
		for i, p := range info.Packages {
			sizes[p.Name] = p.Size
			if i > 0 && p.Size > info.Packages[i-1].Size {
				t.Errorf("%s: packages not sorted largest first at %s", tc.fixture, p.Name)
			}
		}
		if sizes["runtime"] <= 0 || sizes["net"] <= 0 {
			t.Errorf("%s: package sizes runtime=%d net=%d", tc.fixture, sizes["runtime"], sizes["net"])
		}
	}
}

// renameSection returns data with the named section's name changed in .shstrtab.
func renameSection(t *testing.T, data []byte, from, to string) []byte {
	t.Helper()
	f, err := elf.NewFile(bytesReader(data))
	if err != nil {
		t.Fatal(err)
	}
	strtab := f.Section(".shstrtab")
	out := slices.Clone(data)
	region := out[strtab.Offset : strtab.Offset+strtab.Size]
	i := bytes.Index(region, []byte(from+"\x00"))
	if i < 0 || len(from) != len(to) {
		t.Fatalf("cannot rename %s", from)
	}
	copy(region[i:], to)
	return out
}

func TestFuncTableFoundWithoutItsSection(t *testing.T) {
	for _, fx := range []string{"static", "static-pie"} {
		data, err := os.ReadFile(fixture(t, fx))
		if err != nil {
			t.Fatal(err)
		}
		want, err := inspectBytes(t, data)
		if err != nil {
			t.Fatal(err)
		}

		// As when an external linker folds the table into another section.
		renamed := renameSection(t, data, ".gopclntab", ".gopclnXXX"[:len(".gopclntab")])
		// As after sstrip: no section headers at all.
		noShdrs := slices.Clone(data)
		binary.LittleEndian.PutUint64(noShdrs[40:], 0) // e_shoff
		binary.LittleEndian.PutUint16(noShdrs[58:], 0) // e_shentsize
		binary.LittleEndian.PutUint16(noShdrs[60:], 0) // e_shnum
		binary.LittleEndian.PutUint16(noShdrs[62:], 0) // e_shstrndx

		for name, variant := range map[string][]byte{"renamed": renamed, "no section headers": noShdrs} {
			info, err := inspectBytes(t, variant)
			if err != nil {
				t.Fatalf("%s %s: %v", fx, name, err)
			}
			if info.Go == nil || !strings.HasPrefix(info.Go.FuncTable, "pclntab magic at offset ") {
				t.Errorf("%s %s: function table not found by its magic: %+v, notes %q", fx, name, info.Go, info.Notes)
				continue
			}
			if info.Features != want.Features || !slices.Equal(info.Packages, want.Packages) {
				t.Errorf("%s %s: features %+v / %d packages, want %+v / %d", fx, name, info.Features, len(info.Packages), want.Features, len(want.Packages))
			}
		}
		info, _ := inspectBytes(t, noShdrs)
		rep := Check(info, Expect{Name: fx})
		if res := mustResult(t, rep, CheckStripped); res.Status != StatusPass || !strings.Contains(res.Detail, "no section headers") {
			t.Errorf("%s without section headers: stripped %s %q", fx, res.Status, res.Detail)
		}
	}
}

func TestInspectCraftedDynamic(t *testing.T) {
	// Needed libraries are read through PT_DYNAMIC, as the loader does: no section headers needed.
	data := miniELF{interp: "/lib/ld-musl-x86_64.so.1", needed: []string{"libc.musl-x86_64.so.1", "libz.so.1"}, noShdrs: true, relro: true, bindNow: true}.bytes()
	info, err := inspectBytes(t, data)
	if err != nil {
		t.Fatal(err)
	}
	e := info.ELF
	if e.Interpreter != "/lib/ld-musl-x86_64.so.1" || !slices.Equal(e.Needed, []string{"libc.musl-x86_64.so.1", "libz.so.1"}) {
		t.Errorf("interpreter %q, needed %q", e.Interpreter, e.Needed)
	}
	if e.RELRO != "full" || e.Linkage != LinkageDynamic || e.SectionHeaders {
		t.Errorf("relro %q linkage %q section headers %v", e.RELRO, e.Linkage, e.SectionHeaders)
	}
	rep := Check(info, Expect{Name: "app", ImagePath: "/usr/bin/app"})
	wantDetail(t, mustResult(t, rep, CheckLinkage), "/lib/ld-musl-x86_64.so.1", "libc.musl-x86_64.so.1, libz.so.1", `"exec /usr/bin/app: no such file or directory"`)

	// Libraries but no interpreter: nothing would load them.
	info, err = inspectBytes(t, miniELF{needed: []string{"libc.so.6"}}.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if info.ELF.Linkage != LinkageBroken {
		t.Errorf("linkage %q, want %q", info.ELF.Linkage, LinkageBroken)
	}

	// Executable stack, and none declared at all.
	for _, m := range []miniELF{{execStk: true}, {noStack: true}} {
		info, err := inspectBytes(t, m.bytes())
		if err != nil {
			t.Fatal(err)
		}
		rep := Check(info, Expect{Name: "x", Enforce: []string{CheckNX}})
		wantFailing(t, rep, CheckNX)
	}

	// An object file is no executable.
	info, err = inspectBytes(t, miniELF{typ: elf.ET_REL}.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if rep := Check(info, Expect{Name: "x.o"}); !slices.Contains(failing(rep), CheckLinkage) {
		t.Errorf("ET_REL passed linkage")
	}
}

func TestInspectGoInfoFromBuildInfoOnly(t *testing.T) {
	// Build info says cgo was on and -trimpath off, and there is a Go function table header
	// with nothing behind it: the checks use the settings; the table is a note.
	data := miniELF{sections: []miniSection{
		{name: ".go.buildinfo", typ: elf.SHT_PROGBITS, data: goBuildInfoBlob("go1.26.0", map[string]string{"CGO_ENABLED": "1", "GOOS": "linux", "GOARCH": "amd64"})},
		{name: ".gopclntab", typ: elf.SHT_PROGBITS, data: pclntabBlob(3)},
	}}.bytes()
	info, err := inspectBytes(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Go == nil || info.Go.CGO != "1" || info.Go.Trimpath || info.Go.Version != "go1.26.0" {
		t.Fatalf("go info %+v", info.Go)
	}
	if info.Features.Known {
		t.Errorf("features known from a table with no functions")
	}
	rep := Check(info, Expect{Name: "mini", Platform: platform.MustParse("linux/amd64")})
	wantFailing(t, rep, CheckCgo, CheckTrimpath)
}

func TestStreamScan(t *testing.T) {
	data := make([]byte, 2*chunkSize+500)
	for i := range data {
		data[i] = byte(i*7 + i/13)
	}
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Straddling the first chunk boundary, a longer name that is not the path, a path under it
	// that names nothing on this machine (a string that merely contains it, as "/root" occurs in
	// "…/root/sign-self-issued"), and one at the very end.
	copy(data[chunkSize-5:], home+"/src/main.go\x00")
	copy(data[chunkSize+1000:], home+"shop/x\x00")
	copy(data[chunkSize+2000:], home+"/sign-self-issued\x00")
	copy(data[len(data)-len(home):], home)
	res, err := streamScan(context.Background(), bytesReader(data), int64(len(data)), []string{home})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if res.sha256 != hex.EncodeToString(sum[:]) {
		t.Error("sha256 differs from crypto/sha256 over the same bytes")
	}
	l := res.leaks[0]
	if l.Count != 2 {
		t.Errorf("count %d, want 2 (the boundary one and the one at the end)", l.Count)
	}
	if len(l.Examples) == 0 || l.Examples[0] != home+"/src/main.go" || l.Offsets[0] != chunkSize-5 {
		t.Errorf("examples %q at %v", l.Examples, l.Offsets)
	}
}

func TestCleanLeakPaths(t *testing.T) {
	use, notes := cleanLeakPaths([]string{"/root/", "/root", "relative/dir", "/", "", "/usr/local/go"})
	if !slices.Equal(use, []string{"/root", "/usr/local/go"}) {
		t.Errorf("use %q", use)
	}
	if len(notes) != 2 {
		t.Errorf("notes %q: want one for the relative path and one for /", notes)
	}
}

func TestBuildPaths(t *testing.T) {
	root := testenv.ModuleRoot(t)
	paths, err := BuildPaths(context.Background(), "", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(paths, root) {
		t.Errorf("%q lacks the working directory %s", paths, root)
	}
	if h := filepath.Clean(os.Getenv("HOME")); len(h) >= 4 && !slices.Contains(paths, h) {
		t.Errorf("%q lacks $HOME %s", paths, h)
	}
	goroot := slices.ContainsFunc(paths, func(p string) bool {
		_, err := os.Stat(filepath.Join(p, "src", "runtime", "proc.go"))
		return err == nil
	})
	if !goroot {
		t.Errorf("%q lacks GOROOT", paths)
	}
	if _, err := BuildPaths(context.Background(), "go-does-not-exist", root, nil); err == nil {
		t.Error("no error for a missing go command")
	}
}
