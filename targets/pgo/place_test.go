package pgo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// TestWorkload starts the built example as a local workload, drives it with the built-in load
// generator and with a load command, profiles it and stops it.
func TestWorkload(t *testing.T) {
	bin := hello(t)
	for _, mode := range []string{"generator", "command"} {
		t.Run(mode, func(t *testing.T) {
			svc := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
			dbg := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
			w := &Workload{
				Command:  []string{bin, "-addr", svc, "-debug-addr", dbg},
				PprofURL: "http://" + dbg,
				Ready:    "http://" + svc + "/healthz",
				Warmup:   200 * time.Millisecond,
			}
			work := "http://" + svc + "/work?n=20000"
			if mode == "generator" {
				w.URLs, w.Concurrency = []string{work}, 2
			} else {
				self, err := os.Executable()
				if err != nil {
					t.Fatal(err)
				}
				w.Load = []string{self}
				w.Env = []string{loadHelperEnv + "=" + work}
			}
			p, inputs, err := Collect(context.Background(), Options{Workload: w, Seconds: 1, MainModule: helloModule, Log: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			in := inputs[0]
			if in.Kind != "workload" || in.Samples == 0 || !strings.Contains(in.Source, bin) {
				t.Errorf("input: %+v", in)
			}
			if mode == "generator" && (in.Load == nil || in.Load.Requests == 0) {
				t.Errorf("load generator result: %+v", in.Load)
			}
			if !hasFunction(p, "main.digest") {
				t.Errorf("the workload's profile lacks main.digest")
			}
			// The service is stopped: its ports are free again.
			for _, addr := range []string{svc, dbg} {
				if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
					c.Close()
					t.Errorf("%s still listening after Collect", addr)
				}
			}
		})
	}
	t.Run("dies", func(t *testing.T) {
		_, inputs, err := Collect(context.Background(), Options{Seconds: 1, Workload: &Workload{
			Command:  []string{bin, "-no-such-flag"},
			PprofURL: fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t)),
		}})
		if !errors.Is(err, ErrWorkload) || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "no-such-flag") {
			t.Errorf("got %v, want ErrWorkload with the service's output", err)
		}
		if len(inputs) != 1 || inputs[0].Err == nil {
			t.Errorf("inputs: %+v", inputs)
		}
	})
}

// TestPlace writes default.pgo for builds in the module and BUILD.pgo for a build whose main is
// in a dependency, atomically and only when the bytes change.
func TestPlace(t *testing.T) {
	p := realProfile(t)
	root := t.TempDir()
	a, b := filepath.Join(root, "cmd", "a"), filepath.Join(root, "cmd", "b")
	for _, d := range []string{a, b} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dist := filepath.Join(root, "dist", "pgo")
	targets := []Target{
		{Build: "a", MainDir: a, InModule: true},
		{Build: "b", MainDir: b, InModule: true},
		{Build: "tool/x", MainDir: "/go/pkg/mod/example.com/tool@v1/x", InModule: false},
	}
	pls, err := Place(p, targets, PlaceOptions{Dir: dist, MainModule: helloModule})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Encode(p)
	sum := sha256.Sum256(want)
	wantPaths := []string{filepath.Join(a, DefaultFile), filepath.Join(b, DefaultFile), filepath.Join(dist, "tool_x.pgo")}
	for i, pl := range pls {
		got, err := os.ReadFile(pl.Path)
		if pl.Path != wantPaths[i] || err != nil || !bytes.Equal(got, want) || !pl.Changed || pl.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("placement %d: %+v (%v)", i, pl, err)
		}
		if back, err := ReadFile(pl.Path); err != nil || Validate(back, helloModule) != nil {
			t.Errorf("%s does not read back as a valid profile: %v", pl.Path, err)
		}
	}
	if pls[0].PGOFlag != "" || pls[2].PGOFlag != "-pgo="+wantPaths[2] || DependencyProfile(dist, "tool/x") != wantPaths[2] {
		t.Errorf("flags: %q, %q", pls[0].PGOFlag, pls[2].PGOFlag)
	}
	entries, _ := os.ReadDir(a)
	if len(entries) != 1 {
		t.Errorf("%s holds %d files, want only default.pgo (no temporary files left)", a, len(entries))
	}

	// The same profile again: nothing is rewritten.
	info, _ := os.Stat(wantPaths[0])
	time.Sleep(10 * time.Millisecond)
	pls, err = Place(p, targets[:1], PlaceOptions{})
	if err != nil || pls[0].Changed {
		t.Fatalf("second placement: %+v, %v", pls, err)
	}
	if now, _ := os.Stat(wantPaths[0]); !now.ModTime().Equal(info.ModTime()) {
		t.Errorf("unchanged default.pgo was rewritten")
	}

	// A dependency main without a directory for its profile is a configuration error.
	if _, err := Place(p, targets[2:], PlaceOptions{}); !errors.Is(err, ErrConfig) {
		t.Errorf("no Dir: got %v, want ErrConfig", err)
	}
}

// TestPlaceAndBuild places a real profile into a copy of the example and builds it the way
// users do (`go build -trimpath`, -pgo=auto by default): build info records the profile, and the
// binary differs from one built without it.
func TestPlaceAndBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("a PGO build recompiles the standard library with the profile (~30 s on 2 cores)")
	}
	mod := copyExample(t)
	if _, err := Place(realProfile(t), []Target{{Build: "hello", MainDir: mod, InModule: true}}, PlaceOptions{MainModule: helloModule}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	build := func(name string, args ...string) string {
		bin := filepath.Join(out, name)
		if err := (testenv.GoProgram{Dir: mod, Flags: append([]string{"-trimpath"}, args...)}).Build(bin); err != nil {
			t.Fatal(err)
		}
		return bin
	}
	withPGO := build("hello-pgo")
	without := build("hello-nopgo", "-pgo=off")
	if got, err := BinaryProfile(withPGO); err != nil || got != DefaultFile {
		t.Errorf("build info -pgo of the placed build: %q, %v; want %q", got, err, DefaultFile)
	}
	if got, err := BinaryProfile(without); err != nil || got != "" {
		t.Errorf("build info -pgo of the -pgo=off build: %q, %v; want none", got, err)
	}
	a, _ := os.ReadFile(withPGO)
	b, _ := os.ReadFile(without)
	if bytes.Equal(a, b) {
		t.Errorf("the binary built with the profile is identical to the one without")
	}
}
