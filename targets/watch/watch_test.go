package watch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// next returns the next event; a watcher that says nothing for a long while fails the test.
func next(t *testing.T, w *Watcher) Event {
	t.Helper()
	select {
	case ev := <-w.Events():
		return ev
	case err := <-w.Errors():
		t.Fatalf("watcher error: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

func newWatcher(t *testing.T, opts Options) (*Watcher, string) {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module example.com/m\n")
	write(t, filepath.Join(dir, "main.go"), "package main\n")
	write(t, filepath.Join(dir, "static", "index.html"), "<p>hi</p>\n")
	for _, d := range []string{"dist", ".git", "cmd/app/kodata", "assets"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts.Dir = dir
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, dir
}

// Each ignored write comes before a relevant one: the relevant one must be the first event.
func TestWatchRelevantChangesOnly(t *testing.T) {
	w, dir := newWatcher(t, Options{Ignore: []string{"dist"}, DataDirs: []string{"assets"}, Files: []string{"static/index.html"}})
	cases := []struct{ ignored, relevant string }{
		{"dist/app/linux_amd64/app", "main.go"},
		{".git/index", "go.sum"},
		{".main.go.swp", "go.mod"},
		{"main.go~", "handler.go"},
		{"4913", "cmd/app/kodata/page.txt"},
		{"README.md", "assets/logo.svg"},
		{"#main.go#", "static/index.html"},
		{"static/other.html", "cmd/app/main.go"},
	}
	for _, c := range cases {
		write(t, filepath.Join(dir, c.ignored), "x")
		write(t, filepath.Join(dir, c.relevant), "package main\n")
		ev := next(t, w)
		if ev.Path != c.relevant {
			t.Fatalf("after writing %s then %s: first event %q, want %q", c.ignored, c.relevant, ev.Path, c.relevant)
		}
		w.Settle(context.Background(), ev) // the rest of that save
	}
}

func TestWatchModuleFiles(t *testing.T) {
	w, dir := newWatcher(t, Options{})
	write(t, filepath.Join(dir, "go.sum"), "")
	if ev := next(t, w); !ev.Module || ev.Path != "go.sum" {
		t.Fatalf("event %+v, want go.sum as a module change", ev)
	}
	w.Settle(context.Background(), Event{})
	write(t, filepath.Join(dir, "main.go"), "package main\n\nfunc main() {}\n")
	if ev := next(t, w); ev.Module {
		t.Fatalf("event %+v: a Go file is not a module change", ev)
	}
}

// A directory made after the watch started is watched too, and the files moved in with it count.
func TestWatchNewDirectories(t *testing.T) {
	w, dir := newWatcher(t, Options{})
	if err := os.MkdirAll(filepath.Join(dir, "internal", "api"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Give the watcher the directory before writing into it would race its watch; the write
	// below is seen either way: by the new watch, or by the walk of the created directory.
	write(t, filepath.Join(dir, "internal", "api", "api.go"), "package api\n")
	if ev := next(t, w); ev.Path != "internal/api/api.go" {
		t.Fatalf("event %q, want internal/api/api.go", ev.Path)
	}
	w.Settle(context.Background(), Event{})
	write(t, filepath.Join(dir, "internal", "api", "more.go"), "package api\n")
	if ev := next(t, w); ev.Path != "internal/api/more.go" {
		t.Fatalf("event %q, want internal/api/more.go", ev.Path)
	}

	staged := filepath.Join(t.TempDir(), "pkg")
	write(t, filepath.Join(staged, "pkg.go"), "package pkg\n")
	w.Settle(context.Background(), Event{})
	if err := os.Rename(staged, filepath.Join(dir, "pkg")); err != nil {
		t.Skipf("rename across directories: %v", err)
	}
	if ev := next(t, w); ev.Path != "pkg/pkg.go" {
		t.Fatalf("event %q, want pkg/pkg.go (moved in)", ev.Path)
	}
}

// Settle gathers a burst into one list without repeats, the first event first.
func TestSettleCoalesces(t *testing.T) {
	w, dir := newWatcher(t, Options{Debounce: 200 * time.Millisecond})
	write(t, filepath.Join(dir, "a.go"), "package main\n")
	first := next(t, w)
	for _, f := range []string{"b.go", "a.go", "c.go"} {
		write(t, filepath.Join(dir, f), "package main\n// again\n")
	}
	got := w.Settle(context.Background(), first)
	seen := map[string]int{}
	for _, ev := range got {
		seen[ev.Path]++
	}
	if got[0].Path != "a.go" || seen["a.go"] != 1 || seen["b.go"] != 1 || seen["c.go"] != 1 {
		t.Fatalf("settled %+v, want a.go first, then b.go and c.go, each once", got)
	}
}

func TestTemporary(t *testing.T) {
	for name, want := range map[string]bool{
		"main.go": false, "go.mod": false, "index.html": false,
		".main.go.swp": true, "main.go.swx": true, "4913": true, "main.go~": true, "#main.go#": true,
		".#main.go": true, "main.go___jb_tmp___": true, "x.tmp": true,
	} {
		if got := Temporary(name); got != want {
			t.Errorf("Temporary(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCloseTwice(t *testing.T) {
	w, _ := newWatcher(t, Options{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
