package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Write and WriteCache (which only skips the syncs) replace a file whole, and only on success.
func TestWriteReplacesOnlyOnSuccess(t *testing.T) {
	for name, write := range map[string]func(string, os.FileMode, func(io.Writer) error) error{"Write": Write, "WriteCache": WriteCache} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "sub", "f")
			if err := write(p, 0o640, func(w io.Writer) error { _, err := w.Write([]byte("one")); return err }); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
				t.Errorf("mode %v", fi.Mode())
			}
			boom := errors.New("boom")
			err := write(p, 0o644, func(w io.Writer) error { w.Write([]byte("half")); return boom })
			if !errors.Is(err, boom) {
				t.Fatalf("err %v", err)
			}
			if b, _ := os.ReadFile(p); string(b) != "one" {
				t.Errorf("a failed write changed the file: %q", b)
			}
			if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
				t.Errorf("temporary files left: %v", entries)
			}
			if err := write(p, 0o644, func(w io.Writer) error { _, err := w.Write([]byte("two")); return err }); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(p); string(b) != "two" {
				t.Errorf("got %q", b)
			}
		})
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "f"), []byte("x"), 0o644); err != nil {
		t.Error(err)
	}
}

func TestWriteNewRefusesExisting(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key")
	if err := WriteNew(p, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := WriteNew(p, []byte("other"), 0o600)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("err %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "secret" {
		t.Errorf("overwritten: %q", b)
	}
	if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

const killedWriterEnv = "SCRATCHKIT_TEST_KILLED_WRITER"

// TestKilledWriterProcess is not a test: run by TestKilledWriterLeavesNoDebris, it writes 20 MB
// into a file through Write and then waits, mid-write, to be killed.
func TestKilledWriterProcess(t *testing.T) {
	path := os.Getenv(killedWriterEnv)
	if path == "" {
		return
	}
	_ = Write(path, 0o600, func(w io.Writer) error {
		if _, err := w.Write(make([]byte, 20<<20)); err != nil {
			return err
		}
		os.Stdout.WriteString("WRITING\n")
		select {}
	})
}

// A writer killed with SIGKILL leaves its temporary file; the next write of the same name
// removes it.
func TestKilledWriterLeavesNoDebris(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "cosign.key")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), killedWriterEnv+"="+key)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "WRITING\n" {
		t.Fatalf("writer: %q, %v", line, err)
	}
	_ = cmd.Process.Kill() // SIGKILL: no deferred cleanup runs
	_ = cmd.Wait()
	left, _ := filepath.Glob(filepath.Join(dir, ".cosign.key.tmp-*"))
	if len(left) != 1 {
		t.Fatalf("the killed writer left %v; want its one temporary file", left)
	}
	if fi, err := os.Stat(left[0]); err != nil || fi.Size() != 20<<20 {
		t.Fatalf("temporary file %s: %v", left[0], err)
	}

	if err := WriteNew(key, []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != "cosign.key" {
		t.Errorf("after the next write, the directory holds %v; want cosign.key alone", names(entries))
	}
}

// Leftovers go by owner and age; files of live writers and of other names stay.
func TestSweepKeepsLiveWritersFiles(t *testing.T) {
	dir := t.TempDir()
	self := strconv.Itoa(os.Getpid())
	old := time.Now().Add(-time.Hour)
	files := map[string]struct {
		mtime time.Time
		stays bool
	}{
		".f.tmp-2938475612":         {old, false},        // an earlier version's name, long unwritten
		".f.tmp-2938475613":         {time.Now(), true},  // the same, fresh: its owner is unknown
		".f.tmp-1-123":              {time.Now(), true},  // pid 1 is alive
		".f.tmp-1-456":              {old, false},        // alive, but unwritten for an hour: a reused pid
		".f.tmp-" + self + "-789":   {time.Now(), true},  // another write of this process
		".f.tmp-999999999-1":        {time.Now(), false}, // no such process
		".g.tmp-999999999-1":        {time.Now(), true},  // another file's
		".f.tmp-999999999-1.keep/x": {time.Now(), true},  // not a regular file
	}
	for name, f := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFile(filepath.Join(dir, "f"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, f := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if stays := err == nil; stays != f.stays {
			t.Errorf("%s: there after the write: %v, want %v", name, stays, f.stays)
		}
	}
}

func names(entries []os.DirEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
