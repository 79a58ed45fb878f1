package run

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scratchkit/scratchkit/internal/testenv"
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

func TestResolveUser(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\napp:x:1000:1000::/srv/app:/bin/false\n")
	group := []byte("root:x:0:\nnonroot:x:65532:\napp:x:1000:\nmetrics:x:2000:app,other\n")
	cases := []struct {
		spec           string
		uid, gid       int
		groups         []int
		home, name     string
		listed, errors bool
	}{
		{spec: "", uid: 0, gid: 0, home: "/root", name: "root", listed: true},
		{spec: "65532:65532", uid: 65532, gid: 65532, home: "/home/nonroot", name: "nonroot", listed: true},
		{spec: "nonroot", uid: 65532, gid: 65532, home: "/home/nonroot", name: "nonroot", listed: true},
		{spec: "app:metrics", uid: 1000, gid: 2000, home: "/srv/app", name: "app", listed: true},
		{spec: "app", uid: 1000, gid: 1000, groups: []int{2000}, home: "/srv/app", name: "app", listed: true},
		{spec: "4242", uid: 4242, gid: 0, home: "/"},
		{spec: "4242:7", uid: 4242, gid: 7, home: "/"},
		{spec: "ghost", errors: true},
		{spec: "app:ghosts", errors: true},
	}
	for _, c := range cases {
		u, err := resolveUser(c.spec, passwd, group)
		if c.errors {
			if err == nil || !strings.Contains(err.Error(), "no matching entries") {
				t.Errorf("%q: err %v, want no matching entries", c.spec, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if u.uid != c.uid || u.gid != c.gid || u.home != c.home || u.name != c.name || u.listed != c.listed || len(u.groups) != len(c.groups) {
			t.Errorf("%q: got %+v", c.spec, u)
		}
		for k := range c.groups {
			if u.groups[k] != c.groups[k] {
				t.Errorf("%q: groups %v, want %v", c.spec, u.groups, c.groups)
			}
		}
	}
	if _, err := resolveUser("app", nil, nil); err == nil || !strings.Contains(err.Error(), "no /etc/passwd") {
		t.Errorf("name without passwd: %v", err)
	}
}

// The image filesystem view follows symlinks inside the image, never outside it, and sees what
// upper layers deleted as gone.
func TestImageFS(t *testing.T) {
	lower := layer(t,
		file{name: "etc/", typ: tar.TypeDir},
		file{name: "etc/passwd", data: []byte("root:x:0:0::/:/x\n")},
		file{name: "usr/lib/os-release", data: []byte("ID=test\n")},
		file{name: "etc/os-release", typ: tar.TypeSymlink, link: "../usr/lib/os-release"},
		file{name: "etc/escape", typ: tar.TypeSymlink, link: "../../../../etc/hostname"},
		file{name: "etc/abs", typ: tar.TypeSymlink, link: "/usr/lib/os-release"},
		file{name: "loop", typ: tar.TypeSymlink, link: "loop"},
		file{name: "old/data", data: []byte("x")},
		file{name: "hard", typ: tar.TypeLink, link: "usr/lib/os-release"},
	)
	upper := layer(t, file{name: "old/.wh..wh..opq"}, file{name: "old/new", data: []byte("y")})
	img := handImage(t, v1.Config{}, lower, upper)
	fs, err := readImageFS(context.Background(), img, capturePlan{files: map[string]bool{"/etc/os-release": true, "/etc/abs": true, "/hard": true, "/etc/passwd": true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/etc/os-release", "/etc/abs", "/hard"} {
		if data, err := fs.readFile(p); err != nil || string(data) != "ID=test\n" {
			t.Errorf("read %s: %q %v", p, data, err)
		}
	}
	if fs.exists("/etc/escape") {
		t.Error("a symlink out of the image resolved to something") // ../../../../etc/hostname is /etc/hostname in the image: absent
	}
	if fs.exists("/loop") {
		t.Error("a symlink loop resolved")
	}
	if fs.exists("/old/data") || !fs.exists("/old/new") {
		t.Errorf("opaque whiteout not honoured: old/data %v, old/new %v", fs.exists("/old/data"), fs.exists("/old/new"))
	}
	if !fs.isDir("/usr/lib") || !fs.isDir("/usr") {
		t.Error("implied directories missing")
	}
}

// unpack writes a runc root filesystem with owners and modes, and nothing an image says can
// write outside it.
func TestUnpack(t *testing.T) {
	testenv.Root(t)
	outside := t.TempDir()
	img := handImage(t, v1.Config{},
		layer(t,
			file{name: "ko-app/", typ: tar.TypeDir, mode: 0o755},
			file{name: "ko-app/app", mode: 0o4755, uid: 65532, gid: 65532, data: []byte("bin")},
			file{name: "escape", typ: tar.TypeSymlink, link: outside},
			file{name: "up", typ: tar.TypeSymlink, link: "../../../../../../.." + outside},
			file{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
			file{name: "fifo", typ: tar.TypeFifo, mode: 0o600},
			file{name: "gone", data: []byte("x")},
			file{name: "etc/hard", typ: tar.TypeLink, link: "ko-app/app"},
		),
		layer(t,
			file{name: ".wh.gone"},
			file{name: "escape/owned", data: []byte("pwned")},
			file{name: "up/owned2", data: []byte("pwned")},
		),
	)
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unpack(context.Background(), img, root); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("unpack wrote outside the root filesystem: %v", ents)
	}
	// mutate.Extract yields the upper layer first: its files make real directories, and the
	// lower layer's symlinks at those paths lose.
	for _, p := range []string{"escape/owned", "up/owned2"} {
		if data, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(data) != "pwned" {
			t.Errorf("%s not inside the root filesystem: %q %v", p, data, err)
		}
	}
	fi, err := os.Stat(filepath.Join(root, "ko-app/app"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("mode %v, want setuid 0755", fi.Mode())
	}
	if st := statOwner(fi); st != [2]int{65532, 65532} {
		t.Errorf("owner %v, want 65532:65532", st)
	}
	if fi, err := os.Stat(filepath.Join(root, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("tmp: %v %v, want sticky", fi, err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo: %v %v", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "gone")); !os.IsNotExist(err) {
		t.Errorf("whited-out file unpacked: %v", err)
	}
	if a, b := mustStat(t, filepath.Join(root, "etc/hard")), mustStat(t, filepath.Join(root, "ko-app/app")); !os.SameFile(a, b) {
		t.Error("hard link is not the same file")
	}
}

func mustStat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
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

func statOwner(fi os.FileInfo) [2]int {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return [2]int{-1, -1}
	}
	return [2]int{int(st.Uid), int(st.Gid)}
}

// secureJoin resolves symlinks as the container will, with the root filesystem as "/".
func TestSecureJoin(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	for _, l := range [][2]string{{"abs", outside}, {"rel", "../../../../../../../" + outside}, {"usr/bin", "../bin"}, {"bin", "usr/sbin"}} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(l[0])), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(l[1], filepath.Join(root, l[0])); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]string{
		"abs/x":       outside + "/x",
		"rel/x":       outside + "/x",
		"../../etc":   "/etc",
		"usr/bin/app": "/usr/sbin/app",
		"plain/file":  "/plain/file",
	}
	for in, want := range cases {
		got, err := secureJoin(root, in, true)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got != filepath.Join(root, want) {
			t.Errorf("secureJoin(%s) = %s, want %s", in, got, filepath.Join(root, want))
		}
	}
	if got, _ := secureJoin(root, "abs", false); got != filepath.Join(root, "abs") {
		t.Errorf("last component followed: %s", got)
	}
	if err := os.Symlink("loop", filepath.Join(root, "loop")); err != nil {
		t.Fatal(err)
	}
	if _, err := secureJoin(root, "loop/x", true); err == nil {
		t.Error("symlink loop: no error")
	}
}
