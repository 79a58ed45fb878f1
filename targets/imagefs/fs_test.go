package imagefs

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/scratchkit/scratchkit/internal/testenv"
	"github.com/scratchkit/scratchkit/targets/imagefs/imagetest"
)

// The image filesystem view follows symlinks inside the image, never outside it, and sees what
// upper layers deleted as gone.
func TestImageFS(t *testing.T) {
	lower := imagetest.Layer(t,
		imagetest.File{Name: "etc/", Type: tar.TypeDir},
		imagetest.File{Name: "etc/passwd", Data: []byte("root:x:0:0::/:/x\n")},
		imagetest.File{Name: "usr/lib/os-release", Data: []byte("ID=test\n")},
		imagetest.File{Name: "etc/os-release", Type: tar.TypeSymlink, Link: "../usr/lib/os-release"},
		imagetest.File{Name: "etc/escape", Type: tar.TypeSymlink, Link: "../../../../etc/hostname"},
		imagetest.File{Name: "etc/abs", Type: tar.TypeSymlink, Link: "/usr/lib/os-release"},
		imagetest.File{Name: "loop", Type: tar.TypeSymlink, Link: "loop"},
		imagetest.File{Name: "old/data", Data: []byte("x")},
		imagetest.File{Name: "hard", Type: tar.TypeLink, Link: "usr/lib/os-release"},
	)
	upper := imagetest.Layer(t, imagetest.File{Name: "old/.wh..wh..opq"}, imagetest.File{Name: "old/new", Data: []byte("y")})
	img := imagetest.Image(t, v1.Config{}, lower, upper)
	fs, err := Read(context.Background(), img, Plan{Files: map[string]bool{"/etc/os-release": true, "/etc/abs": true, "/hard": true, "/etc/passwd": true}}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/etc/os-release", "/etc/abs", "/hard"} {
		if data, err := fs.ReadFile(p); err != nil || string(data) != "ID=test\n" {
			t.Errorf("read %s: %q %v", p, data, err)
		}
	}
	if fs.Exists("/etc/escape") {
		t.Error("a symlink out of the image resolved to something") // ../../../../etc/hostname is /etc/hostname in the image: absent
	}
	if fs.Exists("/loop") {
		t.Error("a symlink loop resolved")
	}
	if fs.Exists("/old/data") || !fs.Exists("/old/new") {
		t.Errorf("opaque whiteout not honoured: old/data %v, old/new %v", fs.Exists("/old/data"), fs.Exists("/old/new"))
	}
	if !fs.IsDir("/usr/lib") || !fs.IsDir("/usr") {
		t.Error("implied directories missing")
	}
}

// unpack writes a runc root filesystem with owners and modes, and nothing an image says can
// write outside it.
func TestUnpack(t *testing.T) {
	testenv.Root(t)
	outside := t.TempDir()
	img := imagetest.Image(t, v1.Config{},
		imagetest.Layer(t,
			imagetest.File{Name: "ko-app/", Type: tar.TypeDir, Mode: 0o755},
			imagetest.File{Name: "ko-app/app", Mode: 0o4755, UID: 65532, GID: 65532, Data: []byte("bin")},
			imagetest.File{Name: "escape", Type: tar.TypeSymlink, Link: outside},
			imagetest.File{Name: "up", Type: tar.TypeSymlink, Link: "../../../../../../.." + outside},
			imagetest.File{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
			imagetest.File{Name: "fifo", Type: tar.TypeFifo, Mode: 0o600},
			imagetest.File{Name: "gone", Data: []byte("x")},
			imagetest.File{Name: "etc/hard", Type: tar.TypeLink, Link: "ko-app/app"},
		),
		imagetest.Layer(t,
			imagetest.File{Name: ".wh.gone"},
			imagetest.File{Name: "escape/owned", Data: []byte("pwned")},
			imagetest.File{Name: "up/owned2", Data: []byte("pwned")},
		),
	)
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Unpack(context.Background(), img, root, Limits{}); err != nil {
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

func mustStat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func statOwner(fi os.FileInfo) [2]int {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return [2]int{-1, -1}
	}
	return [2]int{int(st.Uid), int(st.Gid)}
}
