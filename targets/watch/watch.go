// Package watch tells when a Go module's sources change: its Go files, go.mod, go.sum, go.work,
// the files its packages embed and its data directories (kodata, a configured data dir). It is
// the file side of the dev loop: a Watcher delivers each relevant change as it happens, and
// Settle waits for a burst of them (an editor's write, chmod and rename of one save; a formatter
// rewriting several files) to end.
//
// It is a plain Go API over fsnotify: it prints nothing and holds no state beyond its Watcher.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long Settle waits for quiet when Options.Debounce is zero.
const DefaultDebounce = 100 * time.Millisecond

// Options says what a Watcher watches.
type Options struct {
	// Dir is the module's root; every directory below it is watched, but those Ignored.
	Dir string
	// Ignore are directories left out, absolute or relative to Dir (the dist folder).
	// Directories whose name starts with "." or "_" (.git, .idea, _build) and node_modules are
	// always left out: the go command ignores them too.
	Ignore []string
	// DataDirs are directories whose every file counts (kodata, image.data), absolute or
	// relative to Dir. A directory named kodata always counts.
	DataDirs []string
	// Files are other files that count (the files the packages embed), absolute or relative to
	// Dir. SetFiles replaces them.
	Files []string
	// Debounce is how long Settle waits for quiet; zero means DefaultDebounce.
	Debounce time.Duration
}

// Event is one relevant change.
type Event struct {
	// Path is the file that changed, relative to Dir, with forward slashes.
	Path string
	// Time is when the watcher saw it.
	Time time.Time
	// Module: the file is go.mod, go.sum, go.work or go.work.sum (the packages may have changed).
	Module bool
}

// Watcher watches one module. Its methods may be called from several goroutines.
type Watcher struct {
	dir      string
	debounce time.Duration
	fsw      *fsnotify.Watcher
	ignore   []string // absolute
	data     []string // absolute
	events   chan Event
	errs     chan error
	done     chan struct{}
	wg       sync.WaitGroup

	mu    sync.Mutex
	files map[string]bool // absolute
}

// New starts watching opts.Dir. Close ends it.
func New(opts Options) (*Watcher, error) {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", opts.Dir, err)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	w := &Watcher{dir: dir, debounce: opts.Debounce, fsw: fsw, events: make(chan Event, 256), errs: make(chan error, 1), done: make(chan struct{})}
	if w.debounce <= 0 {
		w.debounce = DefaultDebounce
	}
	w.ignore = w.absAll(opts.Ignore)
	w.data = w.absAll(opts.DataDirs)
	w.SetFiles(opts.Files)
	if err := w.addTree(dir); err != nil {
		fsw.Close()
		return nil, err
	}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

func (w *Watcher) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(w.dir, p)
}

func (w *Watcher) absAll(ps []string) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p != "" {
			out = append(out, w.abs(p))
		}
	}
	return out
}

// SetFiles replaces Options.Files (the embedded files, learned again after a build).
func (w *Watcher) SetFiles(files []string) {
	m := make(map[string]bool, len(files))
	for _, f := range files {
		m[w.abs(f)] = true
	}
	w.mu.Lock()
	w.files = m
	w.mu.Unlock()
}

// Events delivers each relevant change as the watcher sees it.
func (w *Watcher) Events() <-chan Event { return w.events }

// Errors delivers what the watcher could not watch (a directory removed while being added, the
// system's limit of watches reached); the watcher keeps going.
func (w *Watcher) Errors() <-chan error { return w.errs }

// Close stops watching and releases the watches.
func (w *Watcher) Close() error {
	select {
	case <-w.done:
		return nil
	default:
	}
	close(w.done)
	err := w.fsw.Close()
	w.wg.Wait()
	return err
}

// SaveWindow is the quiet that ends one save: an editor's truncate, write, chmod and rename of a
// file come within microseconds of each other, so a cycle that waits this long after the first
// of them reads the whole file, and the next save is a change of its own.
const SaveWindow = 10 * time.Millisecond

// Settle collects the events that follow first until none has come for the debounce time, and
// returns them all, first included, in order, without repeating a path. It returns early, with
// what it has, when ctx ends.
func (w *Watcher) Settle(ctx context.Context, first Event) []Event {
	return w.SettleFor(ctx, first, w.debounce)
}

// SettleFor is Settle with a quiet time of its own (SaveWindow: the rest of one save).
func (w *Watcher) SettleFor(ctx context.Context, first Event, quiet time.Duration) []Event {
	got := []Event{first}
	seen := map[string]bool{first.Path: true}
	t := time.NewTimer(quiet)
	defer t.Stop()
	for {
		select {
		case ev := <-w.events:
			if !seen[ev.Path] {
				seen[ev.Path] = true
				got = append(got, ev)
			}
			if !t.Stop() {
				<-t.C
			}
			t.Reset(quiet)
		case <-t.C:
			return got
		case <-ctx.Done():
			return got
		case <-w.done:
			return got
		}
	}
}

// Debounce is the quiet time Settle waits for.
func (w *Watcher) Debounce() time.Duration { return w.debounce }

func (w *Watcher) loop() {
	defer w.wg.Done()
	for {
		select {
		case <-w.done:
			return
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.report(err)
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.handle(ev)
		}
	}
}

func (w *Watcher) report(err error) {
	select {
	case w.errs <- err:
	default: // one unread error is enough to say something is wrong
	}
}

func (w *Watcher) handle(ev fsnotify.Event) {
	if ev.Op == fsnotify.Chmod {
		return // a touch of the mode changes no build
	}
	path := filepath.Clean(ev.Name)
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
			if w.skipDir(path) {
				return
			}
			if err := w.addTree(path); err != nil {
				w.report(err)
			}
			// A directory moved in may hold sources: say so through its files.
			_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return nil
				}
				if d.IsDir() {
					if p != path && w.skipDir(p) {
						return filepath.SkipDir
					}
					return nil
				}
				w.send(p)
				return nil
			})
			return
		}
	}
	w.send(path)
}

func (w *Watcher) send(path string) {
	rel, ok := w.Relevant(path)
	if !ok {
		return
	}
	base := filepath.Base(path)
	ev := Event{Path: rel, Time: time.Now(), Module: base == "go.mod" || base == "go.sum" || base == "go.work" || base == "go.work.sum"}
	select {
	case w.events <- ev:
	case <-w.done:
	}
}

// addTree watches dir and every directory below it that is not skipped.
func (w *Watcher) addTree(dir string) error {
	var errs []error
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // removed meanwhile
		}
		if !d.IsDir() {
			return nil
		}
		if p != w.dir && w.skipDir(p) {
			return filepath.SkipDir
		}
		if err := w.fsw.Add(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("watch %s: %w", p, err))
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("watch %s: %w", dir, err))
	}
	return errors.Join(errs...)
}

// skipDir reports whether the directory at the absolute path p is left unwatched.
func (w *Watcher) skipDir(p string) bool {
	if slices.Contains(w.ignore, p) {
		return true
	}
	name := filepath.Base(p)
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "node_modules"
}

// Relevant reports whether a change of the file at path (absolute, or relative to Dir) can
// change a build or an image, and names it relative to Dir: a Go file, go.mod, go.sum, go.work,
// an embedded file, or any file of a data directory; never an editor's temporary file, nor a
// file in an ignored directory.
func (w *Watcher) Relevant(path string) (string, bool) {
	path = w.abs(path)
	rel, err := filepath.Rel(w.dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	for d := filepath.Dir(path); d != w.dir && len(d) > len(w.dir); d = filepath.Dir(d) {
		if w.skipDir(d) {
			return "", false
		}
	}
	name := filepath.Base(path)
	if Temporary(name) {
		return "", false
	}
	rel = filepath.ToSlash(rel)
	switch {
	case strings.HasSuffix(name, ".go"), name == "go.mod", name == "go.sum", name == "go.work", name == "go.work.sum":
		return rel, true
	}
	w.mu.Lock()
	embedded := w.files[path]
	w.mu.Unlock()
	if embedded {
		return rel, true
	}
	for d := filepath.Dir(path); len(d) >= len(w.dir); d = filepath.Dir(d) {
		if filepath.Base(d) == "kodata" || slices.Contains(w.data, d) {
			return rel, true
		}
		if d == w.dir {
			break
		}
	}
	return "", false
}

// Temporary reports whether a file name is an editor's or a tool's temporary file: vim's swap
// files and its 4913 probe, emacs' #autosave# and .#lock files, backups ending in ~, JetBrains'
// safe-write files, and other hidden files.
func Temporary(name string) bool {
	switch {
	case name == "4913", strings.HasPrefix(name, "."), strings.HasSuffix(name, "~"),
		strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"),
		strings.HasSuffix(name, ".swp"), strings.HasSuffix(name, ".swx"), strings.HasSuffix(name, ".swo"),
		strings.HasSuffix(name, ".tmp"), strings.HasSuffix(name, ".bak"),
		strings.HasSuffix(name, "___jb_tmp___"), strings.HasSuffix(name, "___jb_old___"):
		return true
	}
	return false
}
