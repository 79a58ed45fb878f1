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
	}, mtime, l.appCodec())
}

// DataLinks is what Build does with a symbolic link in a data directory that resolves outside
// it. A link that resolves inside is always stored as a link (relative, so it holds wherever the
// directory is mounted), never followed.
type DataLinks string

// Data link modes; the zero value is DataLinksRefuse.
const (
	// DataLinksRefuse fails the build naming the link and its target: whatever the build user can
	// read (a docker config, a cloud credentials file) would otherwise be published.
	DataLinksRefuse DataLinks = "refuse"
	// DataLinksKeep stores the link as a link, not followed: it dangles in the image unless the
	// image provides its target.
	DataLinksKeep DataLinks = "keep"
	// DataLinksFollow publishes what the link points at, as ko does.
	DataLinksFollow DataLinks = "follow"
)

// DataLinkModes lists the modes, the default first.
func DataLinkModes() []string {
	return []string{string(DataLinksRefuse), string(DataLinksKeep), string(DataLinksFollow)}
}

// dataLayer holds the data directory at /var/run/ko (ko's kodata). Files are read only (0444),
// or 0555 when executable on the host; directories are 0555; symbolic links inside the directory
// are stored as links, those resolving outside it as links says. Every entry is owned by root
// and carries mtime.
func dataLayer(dir string, links DataLinks, mtime time.Time, l *layers) (v1.Layer, error) {
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
	w := dataWalk{root: root, links: links, ancestors: map[string]bool{root: true}}
	if err := w.walk(root, DataPath, &entries); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	return l.layer(entries, mtime, l.appCodec())
}

// dataWalk is one walk of a data directory (root, resolved).
type dataWalk struct {
	root  string
	links DataLinks
	// ancestors holds the resolved directories being walked, to stop link loops (follow).
	ancestors map[string]bool
}

// Within reports whether path p (cleaned, absolute) is root or lies under it.
func Within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// walk adds the contents of host directory dir under image path at, in name order.
func (w *dataWalk) walk(dir, at string, entries *[]entry) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range des {
		host := filepath.Join(dir, de.Name())
		target := path.Join(at, de.Name())
		li, err := os.Lstat(host)
		if err != nil {
			return err
		}
		if li.Mode()&os.ModeSymlink != 0 {
			follow, err := w.link(host, target, entries)
			if err != nil {
				return err
			}
			if !follow {
				continue
			}
		}
		fi, err := os.Stat(host) // a followed link: what it points at
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			real, err := filepath.EvalSymlinks(host)
			if err != nil {
				return err
			}
			if w.ancestors[real] {
				return fmt.Errorf("%s: symbolic link loop", host)
			}
			*entries = append(*entries, dirEntry(target, 0o555, 0, 0))
			w.ancestors[real] = true
			err = w.walk(real, target, entries)
			delete(w.ancestors, real)
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

// link handles the symbolic link host, at image path target: stored as a link when it resolves
// inside the data directory (or w.links is keep), refused when it resolves outside, or, with
// follow, reported to be followed.
func (w *dataWalk) link(host, target string, entries *[]entry) (follow bool, err error) {
	text, err := os.Readlink(host)
	if err != nil {
		return false, err
	}
	resolved, rerr := filepath.EvalSymlinks(host)
	if rerr == nil && Within(w.root, resolved) {
		// Inside: a relative link to the same place in the image.
		rel, _ := filepath.Rel(w.root, resolved)
		to, err := filepath.Rel(path.Dir(target), path.Join(DataPath, filepath.ToSlash(rel)))
		if err != nil {
			return false, err
		}
		*entries = append(*entries, symlinkEntry(target, filepath.ToSlash(to)))
		return false, nil
	}
	switch w.links {
	case DataLinksKeep:
		*entries = append(*entries, symlinkEntry(target, text))
		return false, nil
	case DataLinksFollow:
		if rerr != nil {
			return false, fmt.Errorf("%s: a symbolic link to %s, which does not resolve: %w", host, text, rerr)
		}
		return true, nil
	}
	if rerr != nil {
		return false, &DataLinkError{Link: host, Target: text, Dangling: true}
	}
	return false, &DataLinkError{Link: host, Target: resolved}
}

// DataLinkError is a symbolic link in a data directory that resolves outside it.
type DataLinkError struct {
	Link   string // the link, on the host
	Target string // where it resolves (or, dangling, what it says)
	// Dangling is set when it resolves nowhere.
	Dangling bool
}

func (e *DataLinkError) Error() string {
	if e.Dangling {
		return fmt.Sprintf("%s is a symbolic link to %s, which does not resolve", e.Link, e.Target)
	}
	return fmt.Sprintf("%s is a symbolic link to %s, outside the data directory: following it would publish that file in the image", e.Link, e.Target)
}
