package engine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/scratchkit/scratchkit/targets/artifacts"
	"github.com/scratchkit/scratchkit/targets/config"
	"github.com/scratchkit/scratchkit/targets/config/load"
)

// A missing or broken record says which target makes a new one; artifacts.Load itself names
// only the file and what is wrong with it.
func TestRecordSaysHowToMakeOne(t *testing.T) {
	dir := t.TempDir()
	e := &Run{Config: &load.Resolved{Config: config.Config{Dist: "dist"}}, Dir: dir}
	rec := filepath.Join(dir, "dist", artifacts.FileName)
	_, err := e.Record()
	var le *artifacts.LoadError
	if want := rec + " does not exist: run `mage build` first"; err == nil || err.Error() != want || !errors.As(err, &le) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no record: %v, want %q wrapping a missing *artifacts.LoadError", err, want)
	}
	if err := os.MkdirAll(filepath.Dir(rec), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rec, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = e.Record()
	if want := rec + " is not a scratchkit record (unexpected end of JSON input): delete it and run `mage build`"; err == nil || err.Error() != want {
		t.Errorf("broken record: %v, want %q", err, want)
	}
}
