package pgo

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// Parse decodes profile data (gzipped or plain protobuf, as /debug/pprof and profile.Write
// produce) and says what it is when it is not a profile: an empty body, an HTML page, or data of
// another format. It does not validate the profile; see Validate.
func Parse(data []byte) (*profile.Profile, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, because(ErrNotProfile, "empty, not a profile")
	}
	if isHTML(data) {
		return nil, because(ErrHTML, "an HTML page, not a profile (the /debug/pprof/ index, a login or error page?)")
	}
	p, err := profile.ParseData(data)
	if err != nil {
		return nil, because(ErrNotProfile, "not a pprof profile (%v)", err)
	}
	return p, nil
}

// ReadFile reads and parses a profile file. Errors name the file.
func ReadFile(path string) (*profile.Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: %w", path, because(ErrNotFound, "no such file"))
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
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
	var runtime, startLines bool
	for _, f := range p.Function {
		runtime = runtime || strings.HasPrefix(f.Name, "runtime.")
		startLines = startLines || f.StartLine != 0
	}
	if !runtime {
		return because(ErrNotGo, "not a Go profile: no Go runtime functions in it")
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
