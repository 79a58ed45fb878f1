// Package atomicfile writes files so that they appear complete or not at all: through a
// temporary file in the same directory, synced, then renamed (or linked) into place. A failed
// write leaves the previous file, if any, untouched and no temporary file behind.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write creates path with perm from what write writes, replacing an existing file.
func Write(path string, perm os.FileMode, write func(io.Writer) error) error {
	return put(path, perm, write, os.Rename)
}

// WriteFile creates path with perm holding data, replacing an existing file.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error { _, err := w.Write(data); return err })
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
	})
}

func put(path string, perm os.FileMode, write func(io.Writer) error, place func(tmp, path string) error) error {
	if path == "" {
		return errors.New("write: empty path")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // gone after a rename; the spare name after a link
	err = f.Chmod(perm)
	if err == nil {
		err = write(f)
	}
	if err == nil {
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
	return nil
}
