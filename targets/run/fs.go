package run

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// imageFS is the flattened filesystem of an image (all layers, whiteouts honoured) as tar headers
// by absolute path, plus the contents of the few files the checks read.
type imageFS struct {
	entries map[string]*fsEntry
	// dirs holds every directory that has an entry below it, whether or not the layers list the
	// directory itself (a layer may hold /ko-app/hello without /ko-app).
	dirs map[string]bool
}

type fsEntry struct {
	hdr  *tar.Header
	data []byte // nil unless captured
}

// maxCapture bounds one captured file (a binary or a CA bundle); maxCaptureTotal bounds all files
// captured because they sit in a directory of interest (certificate directories).
const (
	maxCapture      = 1 << 30
	maxCaptureTotal = 64 << 20
)

// capturePlan says which files' contents to keep while streaming the image.
type capturePlan struct {
	files map[string]bool // exact absolute paths
	dirs  []string        // every regular file directly in these directories, up to maxCaptureTotal
}

// wants says whether to keep p's contents, and whether it counts against maxCaptureTotal.
func (c capturePlan) wants(p string) (want, bounded bool) {
	if c.files[p] {
		return true, false
	}
	for _, d := range c.dirs {
		if path.Dir(p) == d {
			return true, true
		}
	}
	return false, false
}

// readImageFS streams the flattened image once, keeping the headers of every entry and the
// contents of what plan asks for. Files plan names that turn out to be symlinks or hard links have
// their targets read in a second pass.
func readImageFS(ctx context.Context, img v1.Image, plan capturePlan) (*imageFS, error) {
	f := &imageFS{entries: map[string]*fsEntry{}, dirs: map[string]bool{"/": true}}
	if err := f.stream(ctx, img, plan.wants, true); err != nil {
		return nil, err
	}
	// Targets of links among the wanted files, which the first pass could not know.
	second := map[string]bool{}
	wanted := func(p string) bool { w, _ := plan.wants(p); return w }
	for p := range plan.files {
		if rp, e := f.resolve(p); e != nil && e.data == nil && e.hdr.Typeflag == tar.TypeReg {
			second[rp] = true
		}
	}
	for p := range f.entries {
		if wanted(p) {
			if rp, e := f.resolve(p); e != nil && e.data == nil && e.hdr.Typeflag == tar.TypeReg {
				second[rp] = true
			}
		}
	}
	if len(second) > 0 {
		if err := f.stream(ctx, img, func(p string) (bool, bool) { return second[p], false }, false); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *imageFS) stream(ctx context.Context, img v1.Image, want func(string) (bool, bool), record bool) error {
	rc := mutate.Extract(img)
	defer rc.Close() // stops the extracting goroutine when returning early
	tr := tar.NewReader(rc)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the image's filesystem: %w", err)
		}
		p := absName(hdr.Name)
		e := f.entries[p]
		if record {
			e = &fsEntry{hdr: hdr}
			f.entries[p] = e
			for d := path.Dir(p); !f.dirs[d]; d = path.Dir(d) {
				f.dirs[d] = true
			}
			if hdr.Typeflag == tar.TypeDir {
				f.dirs[p] = true
			}
		}
		if e == nil || hdr.Typeflag != tar.TypeReg || hdr.Size > maxCapture || e.data != nil {
			continue
		}
		ok, bounded := want(p)
		if !ok || (bounded && total+hdr.Size > maxCaptureTotal) {
			continue
		}
		data := make([]byte, hdr.Size)
		if _, err := io.ReadFull(tr, data); err != nil {
			return fmt.Errorf("read %s from the image: %w", p, err)
		}
		if bounded {
			total += hdr.Size
		}
		e.data = data
	}
}

// absName turns a layer entry name into a clean absolute path.
func absName(name string) string {
	return path.Clean("/" + strings.TrimPrefix(name, "./"))
}

// maxHops bounds symlink resolution, as the kernel's ELOOP does (40).
const maxHops = 40

// resolve follows symlinks (every component) and hard links, inside the image: absolute link
// targets are relative to the image root, ".." stops at the root. It returns the resolved path
// and its entry, nil when nothing is there (or a loop).
func (f *imageFS) resolve(p string) (string, *fsEntry) {
	rp, err := f.resolvePath(p, true)
	if err != nil {
		return rp, nil
	}
	e := f.entries[rp]
	if e != nil && e.hdr.Typeflag == tar.TypeLink {
		t := absName(e.hdr.Linkname)
		if te := f.entries[t]; te != nil {
			return t, te
		}
		return rp, nil
	}
	return rp, e
}

// resolvePath follows the symlinks of p's components (and of the last one when followLast).
func (f *imageFS) resolvePath(p string, followLast bool) (string, error) {
	hops := 0
	cur := "/"
	rest := strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
	for len(rest) > 0 {
		part := rest[0]
		rest = rest[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, part)
		e := f.entries[next]
		if e == nil || e.hdr.Typeflag != tar.TypeSymlink || (len(rest) == 0 && !followLast) {
			cur = next
			continue
		}
		if hops++; hops > maxHops {
			return next, fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target := e.hdr.Linkname
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, nil
}

// exists reports whether p (links followed) is in the image, as an entry or an implied directory.
func (f *imageFS) exists(p string) bool {
	rp, e := f.resolve(p)
	return e != nil || f.dirs[rp]
}

// isDir reports whether p (links followed) is a directory.
func (f *imageFS) isDir(p string) bool {
	rp, e := f.resolve(p)
	if e != nil {
		return e.hdr.Typeflag == tar.TypeDir
	}
	return f.dirs[rp]
}

// readFile returns the contents of the regular file at p (links followed), if captured.
func (f *imageFS) readFile(p string) ([]byte, error) {
	rp, e := f.resolve(p)
	switch {
	case e == nil && f.dirs[rp]:
		return nil, fmt.Errorf("%s is a directory", p)
	case e == nil:
		return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	case e.hdr.Typeflag != tar.TypeReg:
		return nil, fmt.Errorf("%s is not a regular file (%s)", p, typeName(e.hdr.Typeflag))
	case e.data == nil && e.hdr.Size > 0:
		return nil, fmt.Errorf("%s was not read from the image (internal: not in the capture plan)", p)
	}
	return e.data, nil
}

// list returns the paths of the entries directly in directory dir (not following links in the
// entries themselves), sorted.
func (f *imageFS) list(dir string) []string {
	rp, _ := f.resolve(dir)
	var out []string
	for p := range f.entries {
		if p != "/" && path.Dir(p) == rp {
			out = append(out, p)
		}
	}
	for d := range f.dirs {
		if d != "/" && path.Dir(d) == rp && f.entries[d] == nil {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// countUnder counts the regular files below dir (links in dir's own path followed).
func (f *imageFS) countUnder(dir string) int {
	rp, _ := f.resolve(dir)
	prefix := strings.TrimSuffix(rp, "/") + "/"
	n := 0
	for p, e := range f.entries {
		if strings.HasPrefix(p, prefix) && e.hdr.Typeflag == tar.TypeReg {
			n++
		}
	}
	return n
}

func typeName(t byte) string {
	switch t {
	case tar.TypeReg:
		return "regular file"
	case tar.TypeDir:
		return "directory"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("tar type %q", t)
}
