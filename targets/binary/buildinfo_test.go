package binary

import (
	"os"
	"reflect"
	"testing"
)

// The recorded text form reads back to the build info the binary holds, its Go version included
// (runtime/debug.ParseBuildInfo alone leaves it out).
func TestBuildInfoOfRecordedText(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	read, err := ReadBuildInfoFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	before := BuildInfoReads()
	got, err := BuildInfoOf(read.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, read) {
		t.Errorf("BuildInfoOf(String()) = %+v, want %+v", got, read)
	}
	if BuildInfoReads() != before {
		t.Error("BuildInfoOf read a binary although the build info was recorded")
	}
	if _, err := BuildInfoOf("not build info", nil); err == nil {
		t.Error("a damaged record was accepted")
	}
}
