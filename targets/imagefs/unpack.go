package imagefs

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Unpack writes img's flattened filesystem (whiteouts honoured) into root, an existing empty
// directory: files with their modes, owners and extended attributes (file capabilities),
// directories, symlinks, hard links and fifos. Device nodes are skipped: the runtime gives the
// container its own /dev. No entry may write outside root, whatever symlinks the image holds.
// It needs root to set owners. An image that cannot be read whole, or is past lim, is an
// error, and root then holds part of it: the caller removes it.
func Unpack(ctx context.Context, img v1.Image, root string, lim Limits) error {
	fl := openFlat(img, lim)
	defer fl.close()
	var links, dirs []*tar.Header
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := fl.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("unpack: read the image: %w", err)
		}
		rel := strings.TrimPrefix(absName(hdr.Name), "/")
		if rel == "" {
			dirs = append(dirs, hdr) // the root itself: mode and owner at the end
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeLink:
			links = append(links, hdr)
			continue
		case tar.TypeDir:
			dirs = append(dirs, hdr)
		}
		if err := unpackEntry(root, rel, hdr, fl); err != nil {
			return fmt.Errorf("unpack %s: %w", rel, err)
		}
	}
	for _, hdr := range links {
		rel := strings.TrimPrefix(absName(hdr.Name), "/")
		src, err := secureJoin(root, strings.TrimPrefix(absName(hdr.Linkname), "/"), true)
		if err != nil {
			return fmt.Errorf("unpack %s: %w", rel, err)
		}
		dst, exists, err := prepare(root, rel)
		if err != nil {
			return fmt.Errorf("unpack %s: %w", rel, err)
		}
		if exists {
			continue
		}
		if err := os.Link(src, dst); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // the target was whited out above the link: nothing to link to
			}
			return fmt.Errorf("unpack %s: %w", rel, err)
		}
	}
	// Directory modes last, so that a read-only directory does not stop its own contents.
	for k := len(dirs) - 1; k >= 0; k-- {
		hdr := dirs[k]
		p, err := secureJoin(root, strings.TrimPrefix(absName(hdr.Name), "/"), true)
		if err != nil {
			return fmt.Errorf("unpack %s: %w", hdr.Name, err)
		}
		if err := setAttrs(p, hdr, false); err != nil {
			return fmt.Errorf("unpack %s: %w", hdr.Name, err)
		}
	}
	return nil
}

// unpackEntry writes one non-link entry at root/rel.
func unpackEntry(root, rel string, hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeDir {
		p, err := secureJoin(root, rel, true)
		if err != nil {
			return err
		}
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			return nil
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		return nil
	}
	p, exists, err := prepare(root, rel)
	if err != nil || exists {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, p); err != nil {
			return err
		}
		return os.Lchown(p, hdr.Uid, hdr.Gid)
	case tar.TypeFifo:
		if err := mkfifo(p, uint32(hdr.Mode&0o777)); err != nil {
			return err
		}
	case tar.TypeChar, tar.TypeBlock:
		return nil
	default:
		return nil // other types (GNU sparse, ...) are not expected in images
	}
	return setAttrs(p, hdr, true)
}

// prepare makes root/rel ready to be created: its parent resolved inside root and created. exists
// is true when something is there already: mutate.Extract yields upper layers first and each
// path once, so what is there is a directory an upper layer's files implied, and it wins.
func prepare(root, rel string) (p string, exists bool, err error) {
	parent, err := secureJoin(root, path.Dir(rel), true)
	if err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", false, err
	}
	p = filepath.Join(parent, path.Base(rel))
	_, err = os.Lstat(p)
	return p, err == nil, nil
}

// setAttrs sets owner, mode and extended attributes. chown comes first: it clears set-uid bits.
func setAttrs(p string, hdr *tar.Header, xattrs bool) error {
	if err := os.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	if err := os.Chmod(p, fileMode(hdr.Mode)); err != nil {
		return err
	}
	if xattrs {
		for k, v := range hdr.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if err := setxattr(p, name, []byte(v)); err != nil {
					return fmt.Errorf("extended attribute %s: %w", name, err)
				}
			}
		}
	}
	return nil
}

// fileMode converts tar mode bits to an os.FileMode, keeping set-uid, set-gid and sticky.
func fileMode(m int64) os.FileMode {
	mode := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

// secureJoin resolves rel under root the way the container will see it: symlinks in it are
// followed with root as "/", ".." stops at root. The last component is followed only when
// followLast. The result is always inside root.
func secureJoin(root, rel string, followLast bool) (string, error) {
	p, err := followLinks(rel, followLast, func(q string) (string, bool, error) {
		host := filepath.Join(root, filepath.FromSlash(q))
		if fi, err := os.Lstat(host); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return "", false, nil
		}
		target, err := os.Readlink(host)
		return target, true, err
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(p)), nil
}
