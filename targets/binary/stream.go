package binary

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// chunkSize is how much of the file one read covers. Big enough that per-read overhead is
// noise on a 100 MB binary, small enough that memory stays flat.
const chunkSize = 4 << 20

// snippetLen is how many bytes after a leaked path are kept to show the user where it came from.
const snippetLen = 120

// maxLeakExamples bounds how many occurrences of one path are described (all are counted).
const maxLeakExamples = 3

// Leak is one build-machine path found in the file's bytes.
type Leak struct {
	Path     string   // the path looked for, as given
	Count    int      // occurrences
	Examples []string // up to three occurrences, each with the text that follows it, e.g. "/home/ci/app/main.go"
	Offsets  []int64  // file offsets of the examples
}

// streamResult is what one pass over the file's bytes yields.
type streamResult struct {
	sha256 string
	leaks  []Leak
}

// needle is one byte pattern the stream pass looks for.
type needle struct {
	pat  []byte
	leak int // index into leaks
	// exists caches whether pat/<segment> exists on this machine, by segment.
	exists map[string]bool
}

// streamScan reads r once, front to back, computing the sha256 of all size bytes and finding
// every leak path (matched as a whole path: followed by '/' or a byte that cannot continue a
// file name).
func streamScan(ctx context.Context, r io.ReaderAt, size int64, paths []string) (streamResult, error) {
	var res streamResult
	var needles []needle
	for _, p := range paths {
		res.leaks = append(res.leaks, Leak{Path: p})
		needles = append(needles, needle{pat: []byte(p), leak: len(res.leaks) - 1, exists: map[string]bool{}})
	}
	keep := snippetLen
	for _, n := range needles {
		keep = max(keep, len(n.pat)+snippetLen)
	}

	h := sha256.New()
	buf := make([]byte, keep+int(min(int64(chunkSize), size)))
	carried := 0 // bytes at the front of buf kept from the previous window
	var off int64
	for off < size {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		want := int(min(int64(chunkSize), size-off))
		n, err := r.ReadAt(buf[carried:carried+want], off)
		if n < want {
			if err == nil || errors.Is(err, io.EOF) {
				err = fmt.Errorf("file ended at byte %d, expected %d bytes (did it change while being read?)", off+int64(n), size)
			}
			return res, fmt.Errorf("read at offset %d: %w", off+int64(n), err)
		}
		h.Write(buf[carried : carried+n])
		window := buf[:carried+n]
		winOff := off - int64(carried) // file offset of window[0]
		off += int64(n)
		eof := off >= size
		limit := len(window) // matches starting before limit are handled in this window
		if !eof {
			limit = len(window) - keep
		}
		for _, nd := range needles {
			scanWindow(window, limit, winOff, nd, &res)
		}
		if eof {
			break
		}
		carried = copy(buf, window[limit:])
	}
	res.sha256 = hex.EncodeToString(h.Sum(nil))
	return res, nil
}

// scanWindow records every match of nd that starts in window[:limit].
func scanWindow(window []byte, limit int, winOff int64, nd needle, res *streamResult) {
	pos := 0
	for pos < limit {
		i := bytes.Index(window[pos:], nd.pat)
		if i < 0 {
			return
		}
		start := pos + i
		if start >= limit {
			return
		}
		pos = start + 1
		end := start + len(nd.pat)
		if end < len(window) && !endsPath(window[end]) {
			continue
		}
		if end < len(window) && window[end] == '/' && !nd.under(window[end+1:]) {
			continue
		}
		if (end >= len(window) || window[end] != '/') && bytes.Count(nd.pat, []byte("/")) < 2 {
			// A bare one-segment path ("/root", "/app") is a common string constant; it only
			// counts as a leak when it continues into something that exists there.
			continue
		}
		l := &res.leaks[nd.leak]
		l.Count++
		ex := printableRun(window[start:min(len(window), start+snippetLen)])
		switch {
		case len(l.Examples) < maxLeakExamples:
			l.Examples = append(l.Examples, ex)
			l.Offsets = append(l.Offsets, winOff+int64(start))
		case len(ex) > len(nd.pat):
			// Prefer occurrences that show what follows the path ("/home/ci/app/main.go")
			// over the bare path.
			if i := slices.Index(l.Examples, string(nd.pat)); i >= 0 {
				l.Examples[i], l.Offsets[i] = ex, winOff+int64(start)
			}
		}
	}
}

// under reports whether the bytes after "<path>/" name something that exists in path on this
// machine. A build-machine path leaks as the start of a real file's path (/home/ci/go/pkg/mod/…,
// /root/src/app/main.go); a short path such as HOME=/root also occurs by chance inside unrelated
// strings ("…/root/sign-self-issued" in an API client), which names nothing here and is no leak.
func (nd needle) under(rest []byte) bool {
	n := 0
	for n < len(rest) && !endsPath(rest[n]) {
		n++
	}
	if n == 0 {
		return true // "<path>/" followed by no name: the directory itself
	}
	seg := string(rest[:n])
	if seg == "." || seg == ".." {
		return false
	}
	ok, seen := nd.exists[seg]
	if !seen {
		_, err := os.Lstat(filepath.Join(string(nd.pat), seg))
		ok = err == nil
		nd.exists[seg] = ok
	}
	return ok
}

// endsPath reports whether b, following a directory name, ends it: '/' continues into the
// directory (a leak), anything that could be part of a file name means a different name.
func endsPath(b byte) bool {
	switch {
	case b == '/':
		return true
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return false
	}
	return !strings.ContainsRune("._-+@~,=", rune(b))
}

// printableRun returns the leading run of printable ASCII in b.
func printableRun(b []byte) string {
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			return string(b[:i])
		}
	}
	return string(b)
}

// cleanLeakPaths normalises the paths to look for: absolute, cleaned, deduplicated, and
// without the ones too short to mean anything (a bare "/" would match every binary).
// It returns the usable paths and a note for each one dropped.
func cleanLeakPaths(paths []string) (use []string, notes []string) {
	seen := map[string]bool{}
	for _, p := range paths {
		if strings.TrimSpace(p) == "" {
			continue
		}
		c := filepath.Clean(p)
		switch {
		case !filepath.IsAbs(c):
			notes = append(notes, fmt.Sprintf("leak path %q ignored: not an absolute path", p))
			continue
		case len(c) < 4:
			notes = append(notes, fmt.Sprintf("leak path %q ignored: too short to tell a leak from chance", p))
			continue
		case seen[c]:
			continue
		}
		seen[c] = true
		use = append(use, c)
	}
	return use, notes
}
