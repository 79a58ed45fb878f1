package run

import (
	"context"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/targets/imagefs/imagetest"
	"github.com/scratchkit/scratchkit/targets/lint"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// Smoke reports the platform of an image it cannot read whole as not checked: a failure, not a
// pass (lint.TestCheckRefusesHostileLayers has the error).
func TestSmokeRefusesHostileLayers(t *testing.T) {
	for name, c := range imagetest.Hostile(t) {
		t.Run(name, func(t *testing.T) {
			rep, err := Smoke(context.Background(), "hostile", c.Image, Options{Runtime: RuntimeNone, Policy: lint.Policy{AllowRoot: true}})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Failed() || len(rep.Platforms) != 1 || !strings.Contains(rep.Platforms[0].Error, c.Wants[0]) {
				t.Errorf("smoke report does not fail on the hostile layer: %+v", rep)
			}
		})
	}
}

// Options that are not valid are an error before anything runs.
func TestSmokeOptionsValidated(t *testing.T) {
	img := imagetest.Of(t, "hello", helloBinary(t), "static", "")
	for _, o := range []Options{
		{Runtime: "podman"},
		{Probes: []Probe{{Exit: &ExitProbe{Output: "("}}}},
		{Probes: []Probe{{HTTP: &HTTPProbe{Port: 0}}}},
		{Probes: []Probe{{}}},
		{Probes: []Probe{{Exit: &ExitProbe{}, HTTP: &HTTPProbe{Port: 8080}}}},
		{Probes: []Probe{{HTTP: &HTTPProbe{Port: 8080, Status: 1000}}}},
		{Probes: []Probe{{HTTP: &HTTPProbe{Port: 8080, Body: "["}}}},
		{Probes: []Probe{{HTTP: &HTTPProbe{Port: 8080, Host: "a b"}}}},
		{Tmpfs: []Tmpfs{{Path: "tmp"}}},
		{Tmpfs: []Tmpfs{{Path: "/"}}},
		{Tmpfs: []Tmpfs{{Path: "/proc/sys"}}},
		{Tmpfs: []Tmpfs{{Path: "/tmp"}, {Path: "/tmp"}}},
		{Tmpfs: []Tmpfs{{Path: "/tmp", Mode: 0o17777}}},
		{Env: []string{"HOME"}},
		{Policy: lint.Policy{BinarySHA256: map[platform.Platform]string{platform.MustParse("linux/amd64"): "abc"}}},
	} {
		if _, err := Smoke(context.Background(), "hello", img, o); err == nil {
			t.Errorf("Smoke with %+v: no error", o)
		}
	}
}
