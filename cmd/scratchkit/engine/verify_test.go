package engine

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scratchkit/scratchkit/targets/binary"
)

// A recorded binary whose file is gone fails inspection with what binary.Verify found, and the
// engine says how to get it back.
func TestMissingBinarySaysHowToGetItBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone")
	rep := binary.Verify(context.Background(), path, binary.Expect{Name: "gone"})
	missingBinary(&rep)
	res, ok := rep.Unchecked()
	want := "inspect " + path + ": stat " + path + ": no such file or directory. The artifact is missing: run the Build target again, or fix the path recorded for it."
	if !ok || res.Check != binary.CheckInspect || res.Detail != want {
		t.Errorf("result %+v, want an inspect failure saying %q", res, want)
	}
}
