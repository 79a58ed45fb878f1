package gobuild

import (
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/targets/binary"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// The rules for a build's env and flags hold for a programmatic Build as for the configuration:
// Args refuses what configuration validation refuses, naming the entry.
func TestBuildEnvAndFlagRules(t *testing.T) {
	for kv, want := range map[string]string{
		"CGO_ENABLED=1": "cgo-static",
		"GOARCH=arm64":  "set per platform",
		"A-B=1":         "NAME=VALUE",
	} {
		if err := CheckEnv(kv, binary.LinkageStatic); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckEnv(%q): %v, want %q", kv, err, want)
		}
	}
	if err := CheckEnv("CGO_ENABLED=1", binary.LinkageCgoStatic); err != nil {
		t.Errorf("CGO_ENABLED=1 for a cgo-static build: %v", err)
	}
	for f, want := range map[string]string{"-o=x": "chosen by scratchkit", "-ldflags=-X=a": "ldflags key", "--tags=x": "tags key", "-pgo=off": "pgo key", "-buildmode=pie": "static-pie"} {
		if err := CheckFlag(f); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckFlag(%q): %v, want %q", f, err, want)
		}
	}
	if err := CheckFlag("-race"); err != nil {
		t.Errorf("CheckFlag(-race): %v", err)
	}
	b := &Build{Name: "app", Main: ".", Linkage: binary.LinkageStatic, Env: []string{"GOFLAGS=-mod=mod", "CGO_ENABLED=1"}}
	if _, _, err := Args(b, platform.MustParse("linux/amd64"), "out"); err == nil || !strings.Contains(err.Error(), "build app: env[1]") {
		t.Errorf("Args with CGO_ENABLED=1 for a static build: %v", err)
	}
	b = &Build{Name: "app", Main: ".", Flags: []string{"-trimpath", "-o=elsewhere"}}
	if _, _, err := Args(b, platform.MustParse("linux/amd64"), "out"); err == nil || !strings.Contains(err.Error(), `flags[1] "-o=elsewhere"`) {
		t.Errorf("Args with -o in flags: %v", err)
	}
}
