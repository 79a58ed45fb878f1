package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Diagnose recognises each pitfall from what the runtimes and Go programs really print, and
// stays quiet on healthy output.
func TestDiagnose(t *testing.T) {
	cases := []struct {
		output string
		want   []string // phrases of the diagnosis; nil: no diagnosis
	}{
		{"exec /ko-app/dyn: no such file or directory", []string{"/ko-app/dyn is there", "dynamic loader", "CGO_ENABLED=0"}},
		{`Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/ko-app/gone": stat /ko-app/gone: no such file or directory: unknown`,
			[]string{"entrypoint /ko-app/gone is not in the image"}},
		{"exec /ko-app/hello: exec format error", []string{"another CPU architecture"}},
		{"hello: x509: the system root pool is empty (certificate signed by unknown authority would follow)", []string{"no CA roots", "SSL_CERT_FILE"}},
		{`Get "https://example.com/": tls: failed to verify certificate: x509: certificate signed by unknown authority`, []string{"no CA roots", "x509roots/fallback"}},
		{"hello: unknown time zone Europe/Berlin", []string{`time.LoadLocation("Europe/Berlin")`, "time/tzdata", "ZONEINFO"}},
		{"2026/11/26 16:05:59 listen tcp :80: bind: permission denied", []string{"may not bind port 80", "1024"}},
		{"pitfall: open /state.db: read-only file system", []string{"writes /state.db", "read-only", "volume"}},
		{"mkdir /var/cache/app: read-only file system", []string{"writes /var/cache/app"}},
		{"pitfall: mkdir /home/nonroot/.local: read-only file system", []string{"writes /home/nonroot/.local", "smoke.tmpfs: [/home/nonroot]"}},
		{"pitfall: write /tmp/big: no space left on device", []string{"holding /tmp/big is full", "smoke.tmpfs", "64.0 MiB"}},
		{"hello: user: Current requires cgo or $USER, $HOME set in environment", []string{"os/user", "/etc/passwd"}},
		{"unable to find user app: no matching entries in passwd file", []string{"names app", "65532:65532"}},
		{"open /data/config.yaml: permission denied", []string{"may not access /data/config.yaml", "non-root"}},
		{"[scratchkit: killed by SIGKILL, which scratchkit did not send: the OOM killer at the 64MiB memory limit]", []string{"out of memory", "GOMEMLIMIT"}},
		{"2026/11/26 16:05:59 hello devel listening on :8080\nstopped", nil},
		{"", nil},
	}
	for _, c := range cases {
		d := Diagnose(c.output)
		if c.want == nil {
			if d != "" {
				t.Errorf("Diagnose(%q) = %q, want nothing", c.output, d)
			}
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(d, w) {
				t.Errorf("Diagnose(%q) does not say %q: %q", c.output, w, d)
			}
		}
	}
	// A bind failure is not also a file permission problem.
	if d := Diagnose("listen tcp :80: bind: permission denied"); strings.Contains(d, "may not access") {
		t.Errorf("bind failure diagnosed as a file permission problem: %q", d)
	}
}

// binfmt_misc handlers count only when enabled and usable in a container (flag F).
func TestQemuHandler(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("qemu-aarch64", "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\n")
	write("qemu-arm", "disabled\ninterpreter /usr/libexec/qemu-binfmt/arm-binfmt-P\nflags: POCF\n")
	write("qemu-riscv64", "enabled\ninterpreter /usr/libexec/qemu-binfmt/riscv64-binfmt-P\nflags: OC\n")
	if h := qemuHandlerIn(dir, "arm64"); h != "qemu-aarch64" {
		t.Errorf("arm64: %q", h)
	}
	for _, arch := range []string{"arm", "riscv64", "s390x", "wasm"} {
		if h := qemuHandlerIn(dir, arch); h != "" {
			t.Errorf("%s: %q, want none", arch, h)
		}
	}
}
