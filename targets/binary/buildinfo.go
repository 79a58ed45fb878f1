package binary

import (
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
)

// buildInfoReads counts the readings of build info out of binaries, for the tests that hold
// scratchkit to one per binary per run (BuildInfoReads).
var buildInfoReads atomic.Int64

// BuildInfoReads is how many times this process has read Go build info out of a binary (by
// ReadBuildInfo, and by Inspect): a pipeline that hands on what Verify read reads it once per
// binary.
func BuildInfoReads() int64 { return buildInfoReads.Load() }

// ReadBuildInfo reads the Go build info of the binary r, the one reading of it: the other steps
// take its text form (GoInfo.BuildInfo, as artifacts.json records it) through BuildInfoOf.
func ReadBuildInfo(r io.ReaderAt) (*debug.BuildInfo, error) {
	buildInfoReads.Add(1)
	return buildinfo.Read(r)
}

// ReadBuildInfoFile is ReadBuildInfo of the file at path.
func ReadBuildInfoFile(path string) (*debug.BuildInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadBuildInfo(f)
}

// BuildInfoOf is the build info recorded as text (debug.BuildInfo.String, the form `go version
// -m` prints), or, when none was recorded, what r holds. An unreadable record is an error: it
// was written by Verify, and a damaged one is not silently replaced.
func BuildInfoOf(recorded string, r io.ReaderAt) (*debug.BuildInfo, error) {
	if recorded == "" {
		return ReadBuildInfo(r)
	}
	bi, err := debug.ParseBuildInfo(recorded)
	if err != nil {
		return nil, fmt.Errorf("the recorded build info does not parse: %w", err)
	}
	// ParseBuildInfo leaves GoVersion unset (its documentation says so); the text's first line
	// holds it.
	v, ok := strings.CutPrefix(strings.SplitN(recorded, "\n", 2)[0], "go\t")
	if !ok || bi.Path == "" {
		return nil, fmt.Errorf("the recorded build info names no Go version or main package: %.80q", recorded)
	}
	bi.GoVersion = v
	return bi, nil
}
