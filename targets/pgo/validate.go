package pgo

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// MaxProfileBytes bounds a profile before it is parsed: what an endpoint sends or a file holds,
// and what its gzip expands to. A CPU profile of a large service is a few MB; pprof's parser holds
// the whole profile and more in memory, so a bound far above real profiles still stops a
// decompression bomb or an endless response.
const MaxProfileBytes = 64 << 20

// Parse decodes profile data (gzipped or plain protobuf, as /debug/pprof and profile.Write
// produce) and says what it is when it is not a profile: an empty body, an HTML page, data of
// another format, or data past MaxProfileBytes once decompressed. It does not validate the
// profile; see Validate.
func Parse(data []byte) (*profile.Profile, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, because(ErrNotProfile, "empty, not a profile")
	}
	if isHTML(data) {
		return nil, because(ErrHTML, "an HTML page, not a profile (the /debug/pprof/ index, a login or error page?)")
	}
	if len(data) > MaxProfileBytes {
		return nil, because(ErrTooLarge, "%d bytes, larger than %s (pgo.MaxProfileBytes): not a CPU profile", len(data), mib(MaxProfileBytes))
	}
	raw, err := gunzip(data)
	if err != nil {
		return nil, err
	}
	p, err := profile.ParseData(raw)
	if err != nil {
		return nil, because(ErrNotProfile, "not a pprof profile (%v)", err)
	}
	return p, nil
}

// gunzip decompresses gzipped data, bounded by MaxProfileBytes, and returns other data as it is.
// It measures before it allocates: a first pass counts the decompressed bytes into nothing, a
// second fills a slice of exactly that size, so a bomb costs its compressed size and no more.
// pprof's own parser gunzips without a bound, so the result may not be gzip again.
func gunzip(data []byte) ([]byte, error) {
	if !isGzip(data) {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, because(ErrNotProfile, "not a pprof profile (gzip: %v)", err)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(zr, MaxProfileBytes+1))
	if err != nil {
		return nil, because(ErrNotProfile, "not a pprof profile (gzip: %v)", err)
	}
	if n > MaxProfileBytes {
		return nil, because(ErrTooLarge, "%d bytes of gzip that expand to more than %s uncompressed (pgo.MaxProfileBytes): a decompression bomb, not a CPU profile", len(data), mib(MaxProfileBytes))
	}
	if err := zr.Reset(bytes.NewReader(data)); err != nil {
		return nil, because(ErrNotProfile, "not a pprof profile (gzip: %v)", err)
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(zr, raw); err != nil {
		return nil, because(ErrNotProfile, "not a pprof profile (gzip: %v)", err)
	}
	if isGzip(raw) {
		return nil, because(ErrNotProfile, "gzip inside gzip, not a pprof profile (pprof writes one layer of gzip)")
	}
	return raw, nil
}

func isGzip(data []byte) bool { return len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b }

// mib writes a byte count in MiB.
func mib(n int64) string { return strconv.FormatInt(n>>20, 10) + "MiB" }

// ReadFile reads and parses a profile file. Errors name the file.
func ReadFile(path string) (*profile.Profile, error) {
	data, err := readProfileFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// readProfileFile reads a file of at most MaxProfileBytes, whatever it is (a device or a pipe
// that never ends too).
func readProfileFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, because(ErrNotFound, "no such file")
		}
		return nil, err
	}
	defer f.Close()
	too := because(ErrTooLarge, "larger than %s (pgo.MaxProfileBytes): not a CPU profile", mib(MaxProfileBytes))
	var buf bytes.Buffer
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		if fi.Size() > MaxProfileBytes {
			return nil, too
		}
		buf.Grow(int(fi.Size()) + 1)
	}
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxProfileBytes+1)); err != nil {
		return nil, err
	}
	if buf.Len() > MaxProfileBytes {
		return nil, too
	}
	return buf.Bytes(), nil
}

func isHTML(data []byte) bool {
	head := bytes.ToLower(bytes.TrimSpace(data[:min(len(data), 512)]))
	if bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.HasPrefix(head, []byte("<html")) {
		return true
	}
	return strings.HasPrefix(http.DetectContentType(data), "text/html")
}

// sampleIndex returns the index of the sample type typ/unit, or -1.
func sampleIndex(p *profile.Profile, typ, unit string) int {
	for i, st := range p.SampleType {
		if st.Type == typ && st.Unit == unit {
			return i
		}
	}
	return -1
}

// cpuIndex is the index of cpu/nanoseconds, the weight used throughout this package.
func cpuIndex(p *profile.Profile) int { return sampleIndex(p, "cpu", "nanoseconds") }

// total sums sample values at index i.
func total(p *profile.Profile, i int) int64 {
	var t int64
	for _, s := range p.Sample {
		t += s.Value[i]
	}
	return t
}

// Validate checks that p is a profile Go's compiler can use for PGO: a CPU profile
// (samples/count and cpu/nanoseconds), with CPU time in it, symbolized, of a Go program (runtime
// frames, function start lines), and, when mainModule is not empty, with samples in that module.
// The error wraps ErrNotCPU, ErrNoSamples, ErrNotSymbolized, ErrNotGo or ErrNotMainModule.
func Validate(p *profile.Profile, mainModule string) error {
	if p == nil {
		return because(ErrNotProfile, "no profile")
	}
	if sampleIndex(p, "samples", "count") < 0 || cpuIndex(p) < 0 {
		return because(ErrNotCPU, "%s, want a CPU profile (samples/count, cpu/nanoseconds) from /debug/pprof/profile", describeKind(p))
	}
	if total(p, cpuIndex(p)) <= 0 {
		window := "its window"
		if p.DurationNanos > 0 {
			window = "the " + time.Duration(p.DurationNanos).Round(time.Second/10).String() + " window"
		}
		return because(ErrNoSamples, "no samples: was the service busy during %s? Put load on it while profiling", window)
	}
	if err := checkSymbolized(p); err != nil {
		return err
	}
	// A Go program's frames are runtime functions or functions in .go files. Not runtime alone: in
	// current Go a CPU sample's stack ends at the goroutine's entry, without runtime.goexit,
	// so a short profile of a service busy in its own code may hold no runtime frame at all
	// (seen as a flaky CI failure with three replicas on two loaded cores).
	var goCode, startLines bool
	for _, f := range p.Function {
		goCode = goCode || strings.HasPrefix(f.Name, "runtime.") || strings.HasSuffix(f.Filename, ".go")
		startLines = startLines || f.StartLine != 0
	}
	if !goCode {
		return because(ErrNotGo, "not a Go profile: no Go runtime functions and no functions in .go files in it")
	}
	if !startLines {
		return because(ErrNotGo, "not usable for PGO: no function start lines (written by Go 1.20 and later; rebuild the service with a current Go)")
	}
	if mainModule != "" && !hasModuleSamples(p, mainModule) {
		return because(ErrNotMainModule, "no samples in module %s: is this the right service, and was its own code busy?", mainModule)
	}
	return nil
}

// describeKind names a non-CPU profile by its sample types.
func describeKind(p *profile.Profile) string {
	var types []string
	for _, st := range p.SampleType {
		types = append(types, st.Type+"/"+st.Unit)
	}
	if len(types) == 0 {
		return "a profile without sample types"
	}
	kind := "a"
	switch p.SampleType[0].Type {
	case "alloc_objects", "alloc_space", "inuse_objects", "inuse_space":
		kind = "a heap"
	case "contentions", "delay":
		kind = "a mutex or block"
	case "goroutine":
		kind = "a goroutine"
	case "threadcreate":
		kind = "a threadcreate"
	}
	return fmt.Sprintf("%s profile (%s)", kind, strings.Join(types, ", "))
}

// checkSymbolized fails when most locations of the main binary carry no function names: a
// profile from perf or another sampler that was never symbolized. Go's runtime names its own
// frames; locations in C libraries (libc, vdso) legitimately have none and are not counted.
func checkSymbolized(p *profile.Profile) error {
	var main *profile.Mapping
	if len(p.Mapping) > 0 {
		main = p.Mapping[0]
	}
	var n, bare int
	for _, l := range p.Location {
		if l.Mapping != nil && l.Mapping != main {
			continue
		}
		n++
		if len(l.Line) == 0 || l.Line[0].Function == nil || l.Line[0].Function.Name == "" {
			bare++
		}
	}
	if n == 0 || bare*2 > n {
		return because(ErrNotSymbolized, "not symbolized: %d of %d locations have no function name (fetch it from the service's /debug/pprof, or symbolize with `go tool pprof -proto BINARY PROFILE`)", bare, n)
	}
	return nil
}

// moduleSymbolPrefix is how functions of module path appear in profiles: the last path element
// has its dots escaped (%2e), as in the linker's symbol names.
func moduleSymbolPrefix(module string) string {
	i := strings.LastIndex(module, "/")
	return module[:i+1] + strings.ReplaceAll(module[i+1:], ".", "%2e")
}

// inModule reports whether function f belongs to module: its package is the module or below it,
// or it is in package main and its file is from the module (or an absolute path, which a build
// without -trimpath writes and which cannot tell modules apart).
func inModule(f *profile.Function, module string) bool {
	if f == nil {
		return false
	}
	pkg, _ := splitFuncName(f.Name)
	if pkg == "main" {
		// -trimpath writes module/dir/file.go, or module@version/... for `go install m@v`.
		return strings.HasPrefix(f.Filename, module+"/") || strings.HasPrefix(f.Filename, module+"@") || filepath.IsAbs(f.Filename)
	}
	prefix := moduleSymbolPrefix(module)
	return pkg == prefix || strings.HasPrefix(pkg, module+"/")
}

func hasModuleSamples(p *profile.Profile, module string) bool {
	cpu := cpuIndex(p)
	for _, s := range p.Sample {
		if s.Value[cpu] == 0 {
			continue
		}
		for _, l := range s.Location {
			for _, ln := range l.Line {
				if inModule(ln.Function, module) {
					return true
				}
			}
		}
	}
	return false
}
