package load

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/targets/config"
)

// Every key whose values are a closed set refuses a value outside it, from a file (with its
// line), the environment or targets.Configure, naming the key and the values it accepts; and
// accepts each of them.
func TestClosedSets(t *testing.T) {
	cases := []struct {
		in   reflect.Type
		key  string
		body string // the file, with BAD where the value goes
		line int
		path string // key path of the bad value in the file
		noun string
		bad  string
		env  string                        // the variable setting the key, if one does
		cfg  func(v string) *config.Config // the key set through targets.Configure, at cfgPath
		at   string
	}{
		{reflect.TypeFor[config.Build](), "linkage", "builds:\n  - main: .\n    linkage: BAD\n", 3, "builds[0].linkage", "a linkage", "dynamic",
			"", func(v string) *config.Config { return &config.Config{Builds: []config.Build{{Main: ".", Linkage: v}}} }, "builds[0].linkage"},
		{reflect.TypeFor[config.Verify](), "report", "builds:\n  - main: .\n    verify:\n      report: [stripped, BAD]\n", 4, "builds[0].verify.report[1]", "a check", "smell",
			"SCRATCHKIT_VERIFY_REPORT", func(v string) *config.Config { return &config.Config{Verify: config.Verify{Report: []string{v}}} }, "verify.report[0]"},
		{reflect.TypeFor[config.Verify](), "enforce", "verify:\n  enforce:\n    - pie\n    - BAD\n", 4, "verify.enforce[1]", "a hardening check", "stripped",
			"SCRATCHKIT_VERIFY_ENFORCE", func(v string) *config.Config { return &config.Config{Verify: config.Verify{Enforce: []string{v}}} }, "verify.enforce[0]"},
		{reflect.TypeFor[config.Verify](), "vulncheck", "verify:\n  vulncheck: BAD\n", 2, "verify.vulncheck", "a vulnerability check mode", "strict",
			"SCRATCHKIT_VERIFY_VULNCHECK", func(v string) *config.Config { return &config.Config{Verify: config.Verify{VulnCheck: v}} }, "verify.vulncheck"},
		{reflect.TypeFor[config.Image](), "sbom", "image:\n  sbom: BAD\n", 2, "image.sbom", "an SBOM format", "cyclonedx",
			"SCRATCHKIT_IMAGE_SBOM", func(v string) *config.Config { return &config.Config{Image: config.Image{SBOM: v}} }, "image.sbom"},
		{reflect.TypeFor[config.Image](), "publish", "image:\n  repo: 127.0.0.1:5000/team\n  publish: [BAD]\n", 3, "image.publish[0]", "a destination", "s3",
			"SCRATCHKIT_IMAGE_PUBLISH", func(v string) *config.Config { return &config.Config{Image: config.Image{Publish: []string{v}}} }, "image.publish[0]"},
		{reflect.TypeFor[config.Smoke](), "runtime", "smoke:\n  runtime: BAD\n", 2, "smoke.runtime", "a container runtime", "podman",
			"SCRATCHKIT_SMOKE_RUNTIME", func(v string) *config.Config { return &config.Config{Smoke: config.Smoke{Runtime: v}} }, "smoke.runtime"},
		{reflect.TypeFor[config.Smoke](), "network", "smoke:\n  network: BAD\n", 2, "smoke.network", "a smoke network (none: the container's own loopback only; host: the http probe shares the host's network)", "bridge",
			"SCRATCHKIT_SMOKE_NETWORK", func(v string) *config.Config { return &config.Config{Smoke: config.Smoke{Network: v}} }, "smoke.network"},
		{reflect.TypeFor[config.Sign](), "attest", "sign:\n  attest: [sbom, BAD]\n", 2, "sign.attest[1]", "an attestation", "slsa",
			"SCRATCHKIT_SIGN_ATTEST", func(v string) *config.Config { return &config.Config{Sign: config.Sign{Attest: []string{v}}} }, "sign.attest[0]"},
		{reflect.TypeFor[config.Image](), "data_links", "image:\n  data_links: BAD\n", 2, "image.data_links", "a data link mode (refuse, keep, follow)", "copy",
			"SCRATCHKIT_IMAGE_DATA_LINKS", func(v string) *config.Config { return &config.Config{Image: config.Image{DataLinks: v}} }, "image.data_links"},
		{reflect.TypeFor[config.Smoke](), "emulation", "smoke:\n  emulation: BAD\n", 2, "smoke.emulation", "an emulation mode (auto: run a foreign platform under qemu-user-static; off: check it statically only)", "binfmt",
			"SCRATCHKIT_SMOKE_EMULATION", func(v string) *config.Config { return &config.Config{Smoke: config.Smoke{Emulation: v}} }, "smoke.emulation"},
		{reflect.TypeFor[config.Smoke](), "stop_exit", "smoke:\n  stop_exit: BAD\n", 2, "smoke.stop_exit", "a stop exit mode (report: warn on a non-zero exit after SIGTERM; enforce: fail)", "strict",
			"SCRATCHKIT_SMOKE_STOP_EXIT", func(v string) *config.Config { return &config.Config{Smoke: config.Smoke{StopExit: v}} }, "smoke.stop_exit"},
		{reflect.TypeFor[config.Dev](), "run", "dev:\n  run: BAD\n", 2, "dev.run", "a dev destination (docker: replace the container; push: push and print the digest; resolve: push and write resolve.output)", "kind",
			"SCRATCHKIT_DEV_RUN", func(v string) *config.Config { return &config.Config{Dev: config.Dev{Run: v}} }, "dev.run"},
		{reflect.TypeFor[config.Dev](), "network", "dev:\n  network: BAD\n", 2, "dev.network", "a dev network (auto, bridge, host)", "none",
			"SCRATCHKIT_DEV_NETWORK", func(v string) *config.Config { return &config.Config{Dev: config.Dev{Network: v}} }, "dev.network"},
		{reflect.TypeFor[config.Sign](), "format", "sign:\n  format: BAD\n", 2, "sign.format", "a signature format", "sigstore",
			"SCRATCHKIT_SIGN_FORMAT", func(v string) *config.Config { return &config.Config{Sign: config.Sign{Format: v}} }, "sign.format"},
	}
	tested := map[string]bool{}
	for _, c := range cases {
		tested[c.in.Name()+"."+c.key] = true
		t.Run(c.path, func(t *testing.T) {
			allowed := Allowed(c.in, c.key)
			if len(allowed) == 0 {
				t.Fatalf("Allowed(%s, %s) is empty", c.in.Name(), c.key)
			}
			refusal := fmt.Sprintf("%q is not %s; write one of %s", c.bad, c.noun, strings.Join(allowed, ", "))

			dir := t.TempDir()
			write(t, dir, FileName, strings.Replace(c.body, "BAD", c.bad, 1))
			_, err := load(t, dir, nil, nil)
			wantErr(t, err, fmt.Sprintf("%s:%d: %s: %s", FileName, c.line, c.path, refusal))
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("more than the one error: %v", err)
			}
			_, err = load(t, t.TempDir(), c.cfg(c.bad), nil)
			wantErr(t, err, fmt.Sprintf("targets.Configure: %s: %s", c.at, refusal))
			if c.env != "" {
				_, err = load(t, t.TempDir(), nil, map[string]string{c.env: c.bad})
				wantErr(t, err, fmt.Sprintf("environment variable %s: %s: %s", c.env, c.at, refusal))
			}

			for _, v := range allowed {
				dir := t.TempDir()
				write(t, dir, FileName, strings.Replace(c.body, "BAD", v, 1))
				if _, err := load(t, dir, nil, nil); err != nil {
					t.Errorf("%s: %s refused: %v", c.path, v, err)
				}
			}
		})
	}
	for _, s := range closedSets {
		if !tested[s.in.Name()+"."+s.key] {
			t.Errorf("closed set %s.%s has no case here", s.in.Name(), s.key)
		}
		if _, ok := fieldByTag(s.in, s.key); !ok {
			t.Errorf("closed set %s.%s: %s has no such key", s.in.Name(), s.key, s.in.Name())
		}
	}
}
