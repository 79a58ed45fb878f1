// Package atomicfile writes files so that they appear complete or not at all: through a
// temporary file in the same directory, synced, then renamed (or linked) into place, and the
// directory synced so the rename survives a crash (WriteCache, for caches, skips the syncs). A
// failed write leaves the previous file, if any, untouched and no temporary file behind.
//
// A writer killed outright (kill -9, OOM, power loss) cannot clean up: its temporary file,
// .<name>.tmp-<pid>-<random>, stays. The next write of the same name removes such leftovers:
// those whose process is gone, and any nobody has written to for StaleAfter.
package atomicfile

import (
	"errors"
	"fmt"
	"github.com/scratchkit/scratchkit/internal/pidlive"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// StaleAfter is how long a temporary file may go unwritten before the next write of its name
// removes it even though a process with its pid is alive (pids are reused). A live writer
// touches its file far more often.
const StaleAfter = 10 * time.Minute

// Write creates path with perm from what write writes, replacing an existing file.
func Write(path string, perm os.FileMode, write func(io.Writer) error) error {
	return put(path, perm, write, os.Rename, true)
}

// WriteFile creates path with perm holding data, replacing an existing file.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// WriteCache is Write for an entry of a cache whose readers refuse a damaged entry (a digest
// that does not match, JSON that does not parse) and build it again: the same whole-or-nothing
// replacement while the system runs, without the syncs, which cost more than the entry is worth.
// After a crash the entry may be missing, empty or cut short.
func WriteCache(path string, perm os.FileMode, write func(io.Writer) error) error {
	return put(path, perm, write, os.Rename, false)
}

// WriteNew creates path with perm holding data, and refuses to replace an existing file.
func WriteNew(path string, data []byte, perm os.FileMode) error {
	return put(path, perm, func(w io.Writer) error { _, err := w.Write(data); return err }, func(tmp, path string) error {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s already exists; refusing to overwrite it", path)
			}
			return err
		}
		return nil
	}, true)
}

func put(path string, perm os.FileMode, write func(io.Writer) error, place func(tmp, path string) error, sync bool) error {
	if path == "" {
		return errors.New("write: empty path")
	}
	dir, base := filepath.Split(path)
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	sweep(dir, base)
	f, err := os.CreateTemp(dir, tempPrefix(base)+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // gone after a rename; the spare name after a link
	err = f.Chmod(perm)
	if err == nil {
		err = write(f)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = place(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !sync {
		return nil
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: in place, but syncing its directory failed, so it may not survive a crash: %w", path, err)
	}
	return nil
}

// tempPrefix starts the names of base's temporary files.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// sweep removes the temporary files of base in dir that their writer left: those of a process
// that is gone, and those not written for StaleAfter (including the pid-less names earlier
// versions used). Files it cannot remove are left; the write goes on.
func sweep(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := tempPrefix(base)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		gone := false
		if pid, _, ok := strings.Cut(rest, "-"); ok {
			n, err := strconv.Atoi(pid)
			gone = err == nil && n > 0 && n != os.Getpid() && !pidlive.Alive(n)
		}
		if gone || time.Since(info.ModTime()) > StaleAfter {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
