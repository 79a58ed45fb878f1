package image

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// File types of FileInfo.Type.
const (
	TypeDir     = "dir"
	TypeFile    = "file"
	TypeSymlink = "symlink"
)

// FileInfo describes one entry of a layer scratchkit writes.
type FileInfo struct {
	Path   string // absolute path in the image, e.g. /etc/passwd
	Type   string // TypeDir, TypeFile or TypeSymlink
	Mode   int64  // permission bits as in the tar header, e.g. 0o644, 0o1777 for /tmp
	UID    int
	GID    int
	Size   int64  // bytes of a file; 0 for directories and symlinks
	Target string // symlink target
}

// entry is a FileInfo with its content.
type entry struct {
	FileInfo
	data []byte
}

func dirEntry(p string, mode int64, uid, gid int) entry {
	return entry{FileInfo: FileInfo{Path: p, Type: TypeDir, Mode: mode, UID: uid, GID: gid}}
}

func fileEntry(p string, mode int64, data []byte) entry {
	return entry{FileInfo: FileInfo{Path: p, Type: TypeFile, Mode: mode, Size: int64(len(data))}, data: data}
}

func symlinkEntry(p, target string) entry {
	return entry{FileInfo: FileInfo{Path: p, Type: TypeSymlink, Mode: 0o777, Target: target}}
}

// withParents adds every missing parent directory (0755, root) and sorts entries so that a
// directory always comes before what it holds.
func withParents(entries []entry) []entry {
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Path] = true
	}
	for _, e := range entries {
		for dir := path.Dir(e.Path); dir != "/" && !have[dir]; dir = path.Dir(dir) {
			have[dir] = true
			entries = append(entries, dirEntry(dir, 0o755, 0, 0))
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return entries
}

// writeTarTo writes entries as an uncompressed tar with fixed owners, modes and modification
// time, so that the same entries always give the same bytes.
func writeTarTo(w io.Writer, entries []entry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{
			Name:    strings.TrimPrefix(e.Path, "/"),
			Mode:    e.Mode,
			Uid:     e.UID,
			Gid:     e.GID,
			ModTime: mtime,
		}
		switch e.Type {
		case TypeDir:
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		case TypeFile:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		case TypeSymlink:
			h.Typeflag = tar.TypeSymlink
			h.Linkname = e.Target
		default:
			return fmt.Errorf("tar %s: unknown entry type %q", e.Path, e.Type)
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tar %s: %w", e.Path, err)
		}
		if e.Type == TypeFile {
			if _, err := tw.Write(e.data); err != nil {
				return fmt.Errorf("tar %s: %w", e.Path, err)
			}
		}
	}
	return tw.Close()
}

// binaryLayer holds /ko-app/<name>, as ko lays it out: the directory and the binary are read and
// execute only (0555), owned by root.
func binaryLayer(name string, content []byte, mtime time.Time, l *layers) (v1.Layer, error) {
	return l.layer([]entry{
		dirEntry(AppDir, 0o555, 0, 0),
		fileEntry(AppPath(name), 0o555, content),
	}, mtime, appGzip)
}

// dataLayer holds the data directory at /var/run/ko (ko's kodata). Symbolic links are followed,
// as ko does; files are read only (0444), or 0555 when executable on the host; directories are
// 0555. Every entry is owned by root and carries mtime.
func dataLayer(dir string, mtime time.Time, l *layers) (v1.Layer, error) {
	entries := []entry{
		dirEntry("/var", 0o755, 0, 0),
		dirEntry("/var/run", 0o755, 0, 0),
		dirEntry(DataPath, 0o555, 0, 0),
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("data directory %s: not a directory", dir)
	}
	if err := walkData(root, DataPath, map[string]bool{root: true}, &entries); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	return l.layer(entries, mtime, appGzip)
}

// walkData adds the contents of host directory dir under image path at, in name order.
// ancestors holds the resolved directories being walked, to stop symbolic link loops.
func walkData(dir, at string, ancestors map[string]bool, entries *[]entry) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range des {
		host := filepath.Join(dir, de.Name())
		target := path.Join(at, de.Name())
		fi, err := os.Stat(host) // follows symbolic links
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			real, err := filepath.EvalSymlinks(host)
			if err != nil {
				return err
			}
			if ancestors[real] {
				return fmt.Errorf("%s: symbolic link loop", host)
			}
			*entries = append(*entries, dirEntry(target, 0o555, 0, 0))
			ancestors[real] = true
			err = walkData(real, target, ancestors, entries)
			delete(ancestors, real)
			if err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(host)
			if err != nil {
				return err
			}
			mode := int64(0o444)
			if fi.Mode()&0o111 != 0 {
				mode = 0o555
			}
			*entries = append(*entries, fileEntry(target, mode, data))
		default:
			return fmt.Errorf("%s: %s is neither a regular file nor a directory", host, fi.Mode().Type())
		}
	}
	return nil
}
