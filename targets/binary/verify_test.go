package binary

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/bytesize"
	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/platform"
)

var hostPlatform = platform.MustParse("linux/" + runtime.GOARCH)

// leakPaths are this machine's build paths, as the Verify target will pass them.
func leakPaths(t *testing.T) []string {
	t.Helper()
	paths, err := BuildPaths(context.Background(), "go", testenv.ModuleRoot(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// verifyAs copies the fixture to dir/name (so messages name the binary as a user would see
// it) and verifies it.
func verifyAs(t *testing.T, fixtureName, name string, exp Expect) Report {
	t.Helper()
	src := fixture(t, fixtureName)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	rep := Verify(context.Background(), path, exp)
	if res, ok := rep.Unchecked(); ok {
		t.Fatalf("%s: %s: %s", name, res.Check, res.Detail)
	}
	return rep
}

// failing lists the checks with status fail.
func failing(r Report) []string {
	var out []string
	for _, res := range r.Results {
		if res.Status == StatusFail {
			out = append(out, res.Check)
		}
	}
	return out
}

func mustResult(t *testing.T, r Report, check string) Result {
	t.Helper()
	res, ok := r.Result(check)
	if !ok {
		t.Fatalf("no %s result in %+v", check, r.Results)
	}
	return res
}

// wantFailing asserts that exactly the named checks failed, and dumps the report otherwise.
func wantFailing(t *testing.T, r Report, want ...string) {
	t.Helper()
	got := failing(r)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: failing checks = %v, want %v", r.Name, got, want)
		for _, res := range r.Results {
			t.Logf("  %-9s %-4s %s", res.Check, res.Status, res.Detail)
		}
	}
	if r.Failed() != (len(want) > 0) {
		t.Errorf("%s: Failed() = %v with failing checks %v", r.Name, r.Failed(), want)
	}
}

func wantDetail(t *testing.T, res Result, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(res.Detail, p) {
			t.Errorf("%s detail lacks %q:\n%s", res.Check, p, res.Detail)
		}
	}
}

func TestVerifyStaticBuildPasses(t *testing.T) {
	path := fixture(t, "static")
	st, _ := os.Stat(path)
	rep := verifyAs(t, "static", "hello", Expect{
		Platform:  hostPlatform,
		SHA256:    testenv.FileSHA256(t, path),
		MaxSize:   st.Size(),
		LeakPaths: leakPaths(t),
	})
	wantFailing(t, rep)
	for _, c := range []string{CheckLinkage, CheckPlatform, CheckCgo, CheckTrimpath, CheckStripped, CheckPaths, CheckPacked, CheckIntegrity, CheckSize, CheckNX} {
		if res := mustResult(t, rep, c); res.Status != StatusPass {
			t.Errorf("%s: status %s, want pass: %s", c, res.Status, res.Detail)
		}
	}
	// A static non-PIE binary lacks PIE and RELRO; that is reported, not failed.
	for _, c := range []string{CheckPIE, CheckRELRO} {
		if res := mustResult(t, rep, c); res.Status != StatusInfo {
			t.Errorf("%s: status %s, want info", c, res.Status)
		}
	}
	if rep.Linkage != LinkageStatic || !strings.HasPrefix(rep.GoVersion, "go1.") {
		t.Errorf("linkage %q, go version %q", rep.Linkage, rep.GoVersion)
	}
	if rep.Breakdown != nil {
		t.Error("breakdown given though the size check passed and none was asked for")
	}
}

func TestVerifyCgoDynamicFailsLinkage(t *testing.T) {
	rep := verifyAs(t, "cgo-dynamic", "hello", Expect{Platform: hostPlatform, LeakPaths: leakPaths(t)})
	wantFailing(t, rep, CheckLinkage, CheckCgo)
	link := mustResult(t, rep, CheckLinkage)
	wantDetail(t, link, "ld-linux", "libc.so.6", `"exec /hello: no such file or directory"`, "CGO_ENABLED=1", "CGO_ENABLED=0", "cgo-static")
	wantDetail(t, mustResult(t, rep, CheckCgo), "CGO_ENABLED=1", "linkage is static")
	if rep.Linkage != LinkageDynamic {
		t.Errorf("linkage %q, want dynamic", rep.Linkage)
	}
}

func TestVerifyPIEWithoutCgoAsksForLoader(t *testing.T) {
	rep := verifyAs(t, "pie-nocgo", "server", Expect{Platform: hostPlatform, LeakPaths: leakPaths(t)})
	wantFailing(t, rep, CheckLinkage)
	wantDetail(t, mustResult(t, rep, CheckLinkage), "ld-linux", `"exec /server: no such file or directory"`,
		"CGO_ENABLED=0 -buildmode=pie", "linkage: static-pie", "-extldflags=-static-pie")
	if res := mustResult(t, rep, CheckPIE); res.Status != StatusPass {
		t.Errorf("pie: %s, want pass (it is a PIE, just not a static one)", res.Status)
	}
}

func TestVerifyStaticPIEPasses(t *testing.T) {
	rep := verifyAs(t, "static-pie", "server", Expect{Platform: hostPlatform, Linkage: LinkageStaticPIE, LeakPaths: leakPaths(t),
		Enforce: []string{CheckPIE, CheckNX}})
	wantFailing(t, rep)
	if res := mustResult(t, rep, CheckLinkage); res.Value != "static-pie" {
		t.Errorf("linkage value %q, want static-pie", res.Value)
	}
	if res := mustResult(t, rep, CheckCgo); res.Status != StatusPass || res.Value != "on" {
		t.Errorf("cgo: %s %q, want pass with cgo on", res.Status, res.Value)
	}
	if rep.Tags == nil || !slices.Contains(rep.Tags, "netgo") {
		t.Errorf("tags %v: want the recorded -tags", rep.Tags)
	}

	// The same binary recorded as a pure Go static build: cgo was not supposed to be on.
	rep = verifyAs(t, "static-pie", "server", Expect{Platform: hostPlatform, LeakPaths: leakPaths(t)})
	wantFailing(t, rep, CheckCgo)
}

func TestVerifyStaticPIERecordedButNotPIE(t *testing.T) {
	rep := verifyAs(t, "static", "server", Expect{Platform: hostPlatform, Linkage: LinkageStaticPIE})
	// cgo is off although static-pie needs it, but that is not harmful in itself; the
	// linkage is what is wrong: no ASLR.
	wantFailing(t, rep, CheckLinkage)
	wantDetail(t, mustResult(t, rep, CheckLinkage), "not position independent", "-extldflags=-static-pie")
}

func TestVerifyUnstripped(t *testing.T) {
	rep := verifyAs(t, "unstripped", "hello", Expect{Platform: hostPlatform, LeakPaths: leakPaths(t)})
	wantFailing(t, rep, CheckStripped)
	wantDetail(t, mustResult(t, rep, CheckStripped), ".symtab", ".debug_info", "-ldflags='-s -w'")

	// A debug build may allow it: reported, not failed.
	rep = verifyAs(t, "unstripped", "hello", Expect{Platform: hostPlatform, Report: []string{CheckStripped}})
	wantFailing(t, rep)
	if res := mustResult(t, rep, CheckStripped); res.Status != StatusWarn {
		t.Errorf("stripped: %s, want warn when only reported", res.Status)
	}
}

func TestVerifyWithoutTrimpathLeaksPaths(t *testing.T) {
	root := testenv.ModuleRoot(t)
	rep := verifyAs(t, "no-trimpath", "hello", Expect{Platform: hostPlatform, LeakPaths: leakPaths(t)})
	wantFailing(t, rep, CheckTrimpath, CheckPaths)
	wantDetail(t, mustResult(t, rep, CheckTrimpath), "without -trimpath", "add -trimpath")
	paths := mustResult(t, rep, CheckPaths)
	wantDetail(t, paths, root, "targets/binary/testdata/hello/main.go", "Fix: build with -trimpath")
}

func TestVerifyUPXPacked(t *testing.T) {
	orig := fixture(t, "static")
	st, _ := os.Stat(orig)
	rep := verifyAs(t, "upx", "hello", Expect{Platform: hostPlatform, LeakPaths: leakPaths(t)})
	if runtime.GOARCH != "amd64" {
		// The synthetic packed file is linux/amd64; only its packing matters here.
		rep = verifyAs(t, "upx", "hello", Expect{LeakPaths: leakPaths(t)})
	}
	wantFailing(t, rep, CheckPacked)
	res := mustResult(t, rep, CheckPacked)
	wantDetail(t, res, "UPX (linux/amd64 ELF)", `l_info with magic "UPX!"`, "pack header", "checksum valid",
		"This file is packed with the UPX executable packer", "share", "memory", "slower", "scanners", "drop the UPX step")
	wantDetail(t, res, "from "+bytesize.Format(st.Size()))
	wantDetail(t, mustResult(t, rep, CheckCgo), "packed")
}

func TestUPXDetectionNeedsStructureNotString(t *testing.T) {
	orig, err := os.ReadFile(fixture(t, "static"))
	if err != nil {
		t.Fatal(err)
	}
	packed := synthUPX(orig)
	ctx := context.Background()

	// Each of UPX's two structures is proof on its own.
	onlyTrailer := slices.Clone(packed)
	copy(onlyTrailer[64+3*56+4:], "\x00\x00\x00\x00") // l_info magic gone
	onlyLinfo := slices.Clone(packed)
	copy(onlyLinfo[len(onlyLinfo)-36:], "\x00\x00\x00\x00") // pack header magic gone
	for name, data := range map[string][]byte{"trailer": onlyTrailer, "l_info": onlyLinfo} {
		info, err := InspectReader(ctx, bytesReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if info.Packed == nil {
			t.Errorf("only the %s left: not detected as packed", name)
		}
	}

	// This test binary contains UPX's identification string (the package looks for it) but
	// is not packed.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(ctx, self)
	if err != nil {
		t.Fatal(err)
	}
	if info.Packed != nil {
		t.Errorf("test binary reported packed: %v", info.Packed.Evidence)
	}
}

func TestVerifyArm64LabelledAmd64(t *testing.T) {
	rep := verifyAs(t, "arm64", "hello", Expect{Platform: platform.MustParse("linux/amd64"), LeakPaths: leakPaths(t)})
	wantFailing(t, rep, CheckPlatform)
	wantDetail(t, mustResult(t, rep, CheckPlatform), "recorded as linux/amd64", "EM_AARCH64", "GOARCH=arm64",
		`"exec /hello: exec format error"`, "GOARCH=amd64")

	rep = verifyAs(t, "arm64", "hello", Expect{Platform: platform.MustParse("linux/arm64"), LeakPaths: leakPaths(t)})
	wantFailing(t, rep)
}

// GOARM64 levels are arm64's variants: v8 is GOARM64=v8.0 (Go's default), v9 is v9.0.
func TestVerifyArm64Levels(t *testing.T) {
	rep := verifyAs(t, "arm64-v9", "hello", Expect{Platform: platform.MustParse("linux/arm64/v9"), LeakPaths: leakPaths(t)})
	wantFailing(t, rep)
	rep = verifyAs(t, "arm64", "hello", Expect{Platform: platform.MustParse("linux/arm64/v8"), LeakPaths: leakPaths(t)})
	wantFailing(t, rep)
	rep = verifyAs(t, "arm64-v9", "hello", Expect{Platform: platform.MustParse("linux/arm64/v8"), LeakPaths: leakPaths(t)})
	wantFailing(t, rep, CheckPlatform)
	wantDetail(t, mustResult(t, rep, CheckPlatform), "GOARM64=v9.0", "not variant v8", "GOARM64=v8.0")
}

func TestVerifyARMVariantsAndFloatABI(t *testing.T) {
	rep := verifyAs(t, "arm-v7", "hello", Expect{Platform: platform.MustParse("linux/arm/v7")})
	wantFailing(t, rep)
	rep = verifyAs(t, "arm-v7", "hello", Expect{Platform: platform.MustParse("linux/arm/v6")})
	wantFailing(t, rep, CheckPlatform)
	wantDetail(t, mustResult(t, rep, CheckPlatform), "GOARM=7", "not variant v6")

	// A hard-float C binary (e_flags say so) on a soft-float platform.
	rep = verifyAs(t, "c-armhf", "tool", Expect{Platform: platform.MustParse("linux/arm/v5")})
	wantFailing(t, rep, CheckPlatform)
	wantDetail(t, mustResult(t, rep, CheckPlatform), "hard-float ABI", "linux/arm/v5 is soft-float")
	rep = verifyAs(t, "c-armhf", "tool", Expect{Platform: platform.MustParse("linux/arm/v7")})
	wantFailing(t, rep)
}

func TestVerifyStaticCProgram(t *testing.T) {
	rep := verifyAs(t, "c-static", "tool", Expect{Platform: hostPlatform, LeakPaths: leakPaths(t)})
	wantFailing(t, rep, CheckStripped)
	wantDetail(t, mustResult(t, rep, CheckStripped), ".symtab", "strip")
	if res := mustResult(t, rep, CheckLinkage); res.Status != StatusPass || res.Value != "static" {
		t.Errorf("linkage: %s %q, want pass static", res.Status, res.Value)
	}
	for _, c := range []string{CheckCgo, CheckTrimpath} {
		res := mustResult(t, rep, c)
		if res.Status != StatusSkip {
			t.Errorf("%s: %s, want skip for a C program", c, res.Status)
		}
		wantDetail(t, res, "not a Go binary")
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "Go checks skipped") }) {
		t.Errorf("notes %q: want one saying Go checks were skipped", rep.Notes)
	}

	rep = verifyAs(t, "c-static-stripped", "tool", Expect{Platform: hostPlatform, LeakPaths: leakPaths(t)})
	wantFailing(t, rep)
}

func TestVerifyNonELFIsNotApplicable(t *testing.T) {
	for _, tc := range []struct {
		fixture, platform string
		format            Format
	}{
		{"darwin", "darwin/arm64", FormatMachO},
		{"windows", "windows/amd64", FormatPE},
	} {
		path := fixture(t, tc.fixture)
		rep := verifyAs(t, tc.fixture, "hello", Expect{Platform: platform.MustParse(tc.platform), SHA256: testenv.FileSHA256(t, path), MaxSize: 1 << 30, LeakPaths: leakPaths(t)})
		wantFailing(t, rep)
		if rep.Format != tc.format {
			t.Errorf("%s: format %q, want %q", tc.fixture, rep.Format, tc.format)
		}
		for _, res := range rep.Results {
			switch res.Check {
			case CheckIntegrity, CheckSize, CheckPaths:
				if res.Status != StatusPass {
					t.Errorf("%s: %s %s, want pass (these checks are about the bytes, any format)", tc.fixture, res.Check, res.Status)
				}
			default:
				if res.Status != StatusNA {
					t.Errorf("%s: %s %s, want n/a", tc.fixture, res.Check, res.Status)
				}
			}
		}
		if !strings.HasPrefix(rep.GoVersion, "go1.") {
			t.Errorf("%s: Go build info not read (version %q)", tc.fixture, rep.GoVersion)
		}
	}
}

func TestVerifyIntegrity(t *testing.T) {
	path := fixture(t, "static")
	sum := testenv.FileSHA256(t, path)
	for _, recorded := range []string{sum, "sha256:" + sum, strings.ToUpper(sum)} {
		rep := verifyAs(t, "static", "hello", Expect{SHA256: recorded})
		if res := mustResult(t, rep, CheckIntegrity); res.Status != StatusPass {
			t.Errorf("recorded %q: %s: %s", recorded, res.Status, res.Detail)
		}
	}

	// The file at the path is not the artifact any more.
	data, _ := os.ReadFile(path)
	changed := filepath.Join(t.TempDir(), "hello")
	os.WriteFile(changed, append(data, 0), 0o755)
	rep := Verify(context.Background(), changed, Expect{SHA256: sum})
	wantFailing(t, rep, CheckIntegrity)
	wantDetail(t, mustResult(t, rep, CheckIntegrity), "sha256:"+sum, "not the artifact Build produced", changed)
}

func TestVerifySizeBudgetAndBreakdown(t *testing.T) {
	path := fixture(t, "static")
	info, err := Inspect(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	size := info.Size
	rep := Check(info, Expect{Name: "hello", MaxSize: size - 1})
	wantFailing(t, rep, CheckSize)
	wantDetail(t, mustResult(t, rep, CheckSize), "1 B over the size budget", "verify.max_size")
	b := rep.Breakdown
	if b == nil {
		t.Fatal("no breakdown with a size failure")
	}
	var sum int64
	var names []string
	for _, s := range b.Sections {
		sum += s.Size
		names = append(names, s.Name)
	}
	if sum != size {
		t.Errorf("sections add up to %d, file is %d", sum, size)
	}
	for _, want := range []string{".text", ".gopclntab", ".rodata"} {
		if !slices.Contains(names, want) {
			t.Errorf("breakdown sections %v lack %s", names, want)
		}
	}
	if len(b.Packages) == 0 || b.Packages[0].Name != "runtime" {
		t.Errorf("largest package: want runtime, got %+v", b.Packages)
	}
	for i := 1; i < len(b.Packages)-1; i++ {
		if b.Packages[i].Size > b.Packages[i-1].Size {
			t.Errorf("packages not largest first: %+v", b.Packages)
		}
	}

	if rep := Check(info, Expect{MaxSize: size}); rep.Breakdown != nil || rep.Failed() {
		t.Errorf("at the budget exactly: failed=%v breakdown=%v", rep.Failed(), rep.Breakdown != nil)
	}
	if rep := Check(info, Expect{Breakdown: true}); rep.Breakdown == nil {
		t.Error("breakdown asked for but not given")
	}

	// Against the previous run: 1000 bytes smaller, .text 10 bytes smaller, and one package
	// the previous run did not have.
	prev := info.Sizes()
	prev.Total -= 1000
	prev.Sections[".text"] -= 10
	delete(prev.Packages, "runtime")
	rep = Check(info, Expect{Breakdown: true, Prev: &prev})
	if rep.PrevSize != size-1000 {
		t.Errorf("prev size %d, want %d", rep.PrevSize, size-1000)
	}
	for _, s := range rep.Breakdown.Sections {
		if s.Name == ".text" && (!s.HasPrev || s.Size-s.Prev != 10) {
			t.Errorf(".text change: %+v, want +10", s)
		}
	}
	for _, p := range rep.Breakdown.Packages {
		if p.Name == "runtime" && p.HasPrev {
			t.Errorf("runtime marked as known to the previous run: %+v", p)
		}
	}
}

func TestVerifyHardeningEnforced(t *testing.T) {
	rep := verifyAs(t, "static", "hello", Expect{Enforce: []string{CheckPIE, CheckRELRO, CheckNX}})
	wantFailing(t, rep, CheckPIE, CheckRELRO)
	wantDetail(t, mustResult(t, rep, CheckPIE), "ET_EXEC", "linkage: static-pie")
	if res := mustResult(t, rep, CheckNX); res.Status != StatusPass {
		t.Errorf("nx: %s", res.Status)
	}
}

func TestExpectValidate(t *testing.T) {
	for _, n := range CheckNames() {
		if err := (Expect{Report: []string{n}}).Validate(); err != nil {
			t.Errorf("check %q rejected: %v", n, err)
		}
	}
	bad := []struct {
		exp  Expect
		want string
	}{
		{Expect{Report: []string{"strip"}}, `unknown check "strip"`},
		{Expect{Enforce: []string{"aslr"}}, `unknown check "aslr"`},
		{Expect{Report: []string{"pie"}, Enforce: []string{"pie"}}, "both reported-only and enforced"},
		{Expect{Linkage: "dynamic"}, `linkage "dynamic"`},
		{Expect{Platform: platform.Platform{OS: "linux", Arch: "sparc"}}, "unknown architecture"},
		{Expect{SHA256: "abc"}, "64 hex digits"},
		{Expect{MaxSize: -1}, "negative"},
	}
	for _, tc := range bad {
		err := tc.exp.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.exp, err, tc.want)
		}
	}
	rep := Verify(context.Background(), "/nonexistent", Expect{Report: []string{"strip"}})
	if res, ok := rep.Result(CheckConfig); !ok || res.Status != StatusFail || !rep.Failed() {
		t.Errorf("invalid expectations not reported as a failure: %+v", rep.Results)
	}
}
