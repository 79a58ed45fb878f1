package pgo

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// gzipBomb is a gzip stream of members, each expanding to 16MiB of zeros from about 16KB.
// Readers of gzip (pprof's too) read every member of a stream.
func gzipBomb(t testing.TB, members int) []byte {
	t.Helper()
	var one bytes.Buffer
	zw, err := gzip.NewWriterLevel(&one, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(zw, zeros{}, 16<<20); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(one.Bytes(), members)
}

// allocated is how many bytes f allocated, for the whole process.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A profile that expands past MaxProfileBytes, from an endpoint or a file, is refused before it
// is parsed: the error names the source and the limit, and reading it allocates a small fraction
// of what it expands to.
func TestProfileBombs(t *testing.T) {
	bomb := gzipBomb(t, 16) // 256MiB of zeros
	if len(bomb) > 300<<10 {
		t.Fatalf("the bomb is %d bytes compressed: not a bomb", len(bomb))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(bomb)
	}))
	defer srv.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "bomb.pprof")
	if err := os.WriteFile(file, bomb, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		opts   Options
		source string
	}{
		{"endpoint", Options{Endpoints: []Endpoint{{URL: srv.URL}}}, srv.URL + "/debug/pprof/profile"},
		{"file", Options{Files: []string{file}}, file},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Seconds, tc.opts.Retries = 1, -1
			var err error
			grew := allocated(func() { _, _, err = Collect(context.Background(), tc.opts) })
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("got %v, want %v", err, ErrTooLarge)
			}
			for _, w := range []string{tc.source, "more than 64MiB uncompressed"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
			if grew > 16<<20 {
				t.Errorf("reading a 256MiB gzip bomb allocated %dMiB", grew>>20)
			}
		})
	}
	if _, err := ReadFile(file); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), file) {
		t.Errorf("ReadFile of a bomb: %v", err)
	}

	// gzip inside gzip: pprof would gunzip the inner stream without a bound.
	var nested bytes.Buffer
	zw := gzip.NewWriter(&nested)
	zw.Write(bomb)
	zw.Close()
	if _, err := Parse(nested.Bytes()); !errors.Is(err, ErrNotProfile) || !strings.Contains(err.Error(), "gzip inside gzip") {
		t.Errorf("nested gzip: %v", err)
	}
}

// What is read is bounded before decompression too: an endless response, or a file that never
// ends, stops at MaxProfileBytes with an error that names the source and the limit.
func TestProfileTooLarge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, zeros{}) // until the client goes away
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		opts   Options
		source string
		says   string
	}{
		{"endless response", Options{Endpoints: []Endpoint{{URL: srv.URL}}}, srv.URL, "the response is larger than 64MiB"},
		{"endless file", Options{Files: []string{"/dev/zero"}}, "/dev/zero", "larger than 64MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Seconds, tc.opts.Retries = 1, -1
			_, _, err := Collect(context.Background(), tc.opts)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("got %v, want %v", err, ErrTooLarge)
			}
			for _, w := range []string{tc.source, tc.says} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
		})
	}
}
