package imagefs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/scratchkit/scratchkit/internal/bytesize"
)

// Limits on reading an image's filesystem, for the static checks and for unpacking a runc bundle
// alike. An image past either is refused with an error; it is never checked or run in part.
const (
	// MaxBytes bounds the uncompressed size of an image's layers together: file contents,
	// tar headers, and entries that upper layers delete or hide, since all of them are
	// decompressed and read. A gzip layer can expand a thousandfold, so what a registry serves
	// bounds nothing by itself.
	MaxBytes int64 = 4 << 30
	// MaxEntries bounds the entries of the flattened filesystem, each of which the checks
	// keep in memory.
	MaxEntries = 1 << 20
)

// Limits bound reading one image's filesystem. A zero field means its default, MaxBytes or
// MaxEntries; callers lower them (tests do), never raise them past what memory allows.
type Limits struct {
	Bytes   int64
	Entries int
}

// orDefault fills in the defaults.
func (l Limits) orDefault() Limits {
	if l.Bytes <= 0 {
		l.Bytes = MaxBytes
	}
	if l.Entries <= 0 {
		l.Entries = MaxEntries
	}
	return l
}

// flatStream is an image's flattened filesystem (mutate.Extract) as a tar stream that ends in an
// error, never a clean EOF, when the image could not be read whole. mutate.Extract stops at the
// first layer it cannot read (an entry above the root such as "../x", a truncated or corrupt
// layer) but still writes the tar footer before passing the error on, so a reader that stops at
// the footer sees a clean end of a partial filesystem: next drains the pipe after the footer and
// returns what is there. Errors name the image and the layer. The whole stream is bounded by
// its Limits.
type flatStream struct {
	img     v1.Image
	limits  Limits
	rc      io.ReadCloser
	tr      *tar.Reader
	layers  *layerBudget
	entries int
}

func openFlat(img v1.Image, lim Limits) *flatStream {
	lim = lim.orDefault()
	b := &layerBudget{left: lim.Bytes, limit: lim.Bytes}
	rc := mutate.Extract(budgetImage{Image: img, budget: b})
	return &flatStream{img: img, limits: lim, rc: rc, tr: tar.NewReader(rc), layers: b}
}

// next returns the next entry's header, or io.EOF after the last entry of a whole image.
func (s *flatStream) next() (*tar.Header, error) {
	hdr, err := s.tr.Next()
	if errors.Is(err, io.EOF) {
		// After the footer there is nothing, or extract's error.
		if _, err := io.Copy(io.Discard, s.rc); err != nil {
			return nil, s.wrap(err)
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, s.wrap(err)
	}
	if s.entries++; s.entries > s.limits.Entries {
		return nil, s.wrap(&limitError{fmt.Sprintf("the image has more than %d entries, scratchkit's limit (imagefs.MaxEntries)", s.limits.Entries)})
	}
	return hdr, nil
}

// Read reads the current entry's contents; its errors name the image and layer too.
func (s *flatStream) Read(p []byte) (int, error) {
	n, err := s.tr.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = s.wrap(err)
	}
	return n, err
}

// close stops the extracting goroutine when the stream is left early.
func (s *flatStream) close() { s.rc.Close() }

// wrap names the image, and the layer extract was reading, in err, and says what to do.
func (s *flatStream) wrap(err error) error {
	name := "the image"
	if d, derr := s.img.Digest(); derr == nil {
		name = "image " + d.String()
	}
	if l := s.layers.current(); l != nil {
		name += ": " + l.String()
	}
	var le *limitError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return fmt.Errorf("%s: %w (the image cannot be read whole, so it is neither checked nor run in part: rebuild that layer, or the base it comes from)", name, err)
}

// limitError is an image past its Limits.
type limitError struct{ what string }

func (e *limitError) Error() string {
	return e.what + ": a decompression bomb or a hostile image, or one far from minimal; it is refused. " +
		"Fix: smoke-test an image on the static, scratch or a distroless base (the limits are in docs/smoke.md)"
}

// budgetImage is an image whose layers read from one budget of uncompressed bytes.
type budgetImage struct {
	v1.Image
	budget *layerBudget
}

func (b budgetImage) Layers() ([]v1.Layer, error) {
	ls, err := b.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for k, l := range ls {
		out[k] = budgetLayer{Layer: l, budget: b.budget, index: k, count: len(ls)}
	}
	return out, nil
}

// layerBudget is shared by the extracting goroutine, which spends it, and the reader, which
// names the layer being read when something fails.
type layerBudget struct {
	mu    sync.Mutex
	left  int64
	limit int64 // what left started at
	cur   *budgetLayer
}

func (b *layerBudget) current() *budgetLayer {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

type budgetLayer struct {
	v1.Layer
	budget       *layerBudget
	index, count int
}

// String names the layer as a person finds it in the manifest: by position, bottom first, and
// digest.
func (l budgetLayer) String() string {
	s := fmt.Sprintf("layer %d of %d", l.index+1, l.count)
	if d, err := l.Layer.Digest(); err == nil {
		s += " (" + d.String() + ")"
	}
	return s
}

func (l budgetLayer) Uncompressed() (io.ReadCloser, error) {
	l.budget.mu.Lock()
	l.budget.cur = &l
	l.budget.mu.Unlock()
	rc, err := l.Layer.Uncompressed()
	if err != nil {
		return nil, err
	}
	return &budgetReader{rc: rc, budget: l.budget}, nil
}

// budgetReader fails once the layers together have given more than the budget.
type budgetReader struct {
	rc     io.ReadCloser
	budget *layerBudget
}

func (r *budgetReader) Read(p []byte) (int, error) {
	r.budget.mu.Lock()
	left := r.budget.left
	r.budget.mu.Unlock()
	if left < 0 {
		return 0, r.tooBig()
	}
	if int64(len(p)) > left+1 {
		p = p[:left+1] // one byte more than the budget tells a layer that ends at it from one past it
	}
	n, err := r.rc.Read(p)
	r.budget.mu.Lock()
	r.budget.left -= int64(n)
	left = r.budget.left
	r.budget.mu.Unlock()
	if left < 0 {
		return n, r.tooBig()
	}
	return n, err
}

func (r *budgetReader) tooBig() error {
	return &limitError{fmt.Sprintf("the image's layers together expand to more than %s uncompressed, scratchkit's limit (imagefs.MaxBytes)", bytesize.Format(r.budget.limit))}
}

func (r *budgetReader) Close() error { return r.rc.Close() }

// FS is the flattened filesystem of an image (all layers, whiteouts honoured) as tar headers
// by absolute path, plus the contents of the few files the checks read.
type FS struct {
	entries map[string]*Entry
	// dirs holds every directory that has an entry below it, whether or not the layers list the
	// directory itself (a layer may hold /ko-app/hello without /ko-app).
	dirs map[string]bool
}

// Entry is one entry of the flattened filesystem: its tar header and, when the Plan asked for
// it, its contents.
type Entry struct {
	Header *tar.Header
	data   []byte // nil unless captured
}

// maxCapture bounds one captured file (a binary or a CA bundle); maxCaptureTotal bounds all files
// captured because they sit in a directory of interest (certificate directories).
const (
	maxCapture      = 1 << 30
	maxCaptureTotal = 64 << 20
)

// Plan says which files' contents to keep while streaming the image.
type Plan struct {
	Files map[string]bool // exact absolute paths
	Dirs  []string        // every regular file directly in these directories, up to maxCaptureTotal
}

// wants says whether to keep p's contents, and whether it counts against maxCaptureTotal.
func (c Plan) wants(p string) (want, bounded bool) {
	if c.Files[p] {
		return true, false
	}
	for _, d := range c.Dirs {
		if path.Dir(p) == d {
			return true, true
		}
	}
	return false, false
}

// Read streams the flattened image once, keeping the headers of every entry and the
// contents of what plan asks for. Files plan names that turn out to be symlinks or hard links have
// their targets read in a second pass. An image that cannot be read whole, or is past lim, is an
// error: it is never read in part.
func Read(ctx context.Context, img v1.Image, plan Plan, lim Limits) (*FS, error) {
	f := &FS{entries: map[string]*Entry{}, dirs: map[string]bool{"/": true}}
	if err := f.stream(ctx, img, lim, plan.wants, true); err != nil {
		return nil, err
	}
	// Targets of links among the wanted files, which the first pass could not know.
	second := map[string]bool{}
	wanted := func(p string) bool { w, _ := plan.wants(p); return w }
	for p := range plan.Files {
		if rp, e := f.Resolve(p); e != nil && e.data == nil && e.Header.Typeflag == tar.TypeReg {
			second[rp] = true
		}
	}
	for p := range f.entries {
		if wanted(p) {
			if rp, e := f.Resolve(p); e != nil && e.data == nil && e.Header.Typeflag == tar.TypeReg {
				second[rp] = true
			}
		}
	}
	if len(second) > 0 {
		if err := f.stream(ctx, img, lim, func(p string) (bool, bool) { return second[p], false }, false); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *FS) stream(ctx context.Context, img v1.Image, lim Limits, want func(string) (bool, bool), record bool) error {
	fl := openFlat(img, lim)
	defer fl.close()
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := fl.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the image's filesystem: %w", err)
		}
		p := absName(hdr.Name)
		e := f.entries[p]
		if record {
			e = &Entry{Header: hdr}
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
		// Grown as the bytes arrive, not allocated at the size the header claims.
		buf := bytes.NewBuffer(make([]byte, 0, min(hdr.Size, 1<<20)))
		n, err := buf.ReadFrom(fl)
		if err == nil && n != hdr.Size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("read %s from the image: %w", p, err)
		}
		if bounded {
			total += hdr.Size
		}
		e.data = buf.Bytes()
	}
}

// absName turns a layer entry name into a clean absolute path.
func absName(name string) string {
	return path.Clean("/" + strings.TrimPrefix(name, "./"))
}

// maxHops bounds symlink resolution, as the kernel's ELOOP does (40).
const maxHops = 40

// Resolve follows symlinks (every component) and hard links, inside the image: absolute link
// targets are relative to the image root, ".." stops at the root. It returns the resolved path
// and its entry, nil when nothing is there (or a loop).
func (f *FS) Resolve(p string) (string, *Entry) {
	rp, err := f.resolvePath(p, true)
	if err != nil {
		return rp, nil
	}
	e := f.entries[rp]
	if e != nil && e.Header.Typeflag == tar.TypeLink {
		t := absName(e.Header.Linkname)
		if te := f.entries[t]; te != nil {
			return t, te
		}
		return rp, nil
	}
	return rp, e
}

// resolvePath follows the symlinks of p's components (and of the last one when followLast).
func (f *FS) resolvePath(p string, followLast bool) (string, error) {
	return followLinks(p, followLast, func(q string) (string, bool, error) {
		if e := f.entries[q]; e != nil && e.Header.Typeflag == tar.TypeSymlink {
			return e.Header.Linkname, true, nil
		}
		return "", false, nil
	})
}

// followLinks resolves the slash path p as the kernel does inside a container: each component's
// symbolic link (the last one's only when followLast) is followed, an absolute target from "/",
// ".." stops at "/", and more than maxHops links is an error. link says whether a resolved path
// is a link and its target. The result is absolute and clean; with an error, it is the path
// reached.
func followLinks(p string, followLast bool, link func(string) (string, bool, error)) (string, error) {
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
		target, isLink, err := link(next)
		if err != nil {
			return next, err
		}
		if !isLink || (len(rest) == 0 && !followLast) {
			cur = next
			continue
		}
		if hops++; hops > maxHops {
			return next, fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, nil
}

// Lookup returns the entry at exactly p, no link followed; nil when the layers list none there.
func (f *FS) Lookup(p string) *Entry { return f.entries[p] }

// HasDir reports whether p, no link followed, is a directory: listed, or implied by an entry
// below it.
func (f *FS) HasDir(p string) bool { return f.dirs[p] }

// Exists reports whether p (links followed) is in the image, as an entry or an implied directory.
func (f *FS) Exists(p string) bool {
	rp, e := f.Resolve(p)
	return e != nil || f.dirs[rp]
}

// IsDir reports whether p (links followed) is a directory.
func (f *FS) IsDir(p string) bool {
	rp, e := f.Resolve(p)
	if e != nil {
		return e.Header.Typeflag == tar.TypeDir
	}
	return f.dirs[rp]
}

// ReadFile returns the contents of the regular file at p (links followed), if captured.
func (f *FS) ReadFile(p string) ([]byte, error) {
	rp, e := f.Resolve(p)
	switch {
	case e == nil && f.dirs[rp]:
		return nil, fmt.Errorf("%s is a directory", p)
	case e == nil:
		return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	case e.Header.Typeflag != tar.TypeReg:
		return nil, fmt.Errorf("%s is not a regular file (%s)", p, TypeName(e.Header.Typeflag))
	case e.data == nil && e.Header.Size > 0:
		return nil, fmt.Errorf("%s was not read from the image (internal: not in the capture plan)", p)
	}
	return e.data, nil
}

// List returns the paths of the entries directly in directory dir (not following links in the
// entries themselves), sorted.
func (f *FS) List(dir string) []string {
	rp, _ := f.Resolve(dir)
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

// CountUnder counts the regular files below dir (links in dir's own path followed).
func (f *FS) CountUnder(dir string) int {
	rp, _ := f.Resolve(dir)
	prefix := strings.TrimSuffix(rp, "/") + "/"
	n := 0
	for p, e := range f.entries {
		if strings.HasPrefix(p, prefix) && e.Header.Typeflag == tar.TypeReg {
			n++
		}
	}
	return n
}

func TypeName(t byte) string {
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
