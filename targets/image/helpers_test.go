package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/scratchkit/scratchkit/internal/testenv"
)

// tinyBinary builds (once per test process) a small static Go program for platform os/arch[/variant].
func tinyBinary(t *testing.T, platform string) string {
	t.Helper()
	src := testenv.Fixture(t, "tiny", func(src string) error {
		if err := os.MkdirAll(src, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/tiny\n\ngo 1.26\n"), 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"tiny\") }\n"), 0o644)
	})
	parts := strings.Split(platform, "/")
	env := []string{"GOOS=" + parts[0], "GOARCH=" + parts[1], "GOFLAGS=", "GOWORK=off"}
	if len(parts) == 3 && parts[1] == "arm" {
		env = append(env, "GOARM="+strings.TrimPrefix(parts[2], "v"))
	}
	return testenv.GoBuild(t, testenv.GoProgram{Dir: src, Env: env, Flags: []string{"-trimpath", "-ldflags=-s -w"}})
}

// resetStatic forgets the static base built in this process, as a new process starts.
func resetStatic() {
	staticCache.Lock()
	staticCache.m = nil
	staticCache.Unlock()
}

func TestMain(m *testing.M) { testenv.Main(m) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// tarFile is one entry read back from a layer.
type tarFile struct {
	hdr  *tar.Header
	data []byte
}

// layerFiles reads a layer's tar, keyed by absolute path without a trailing slash.
func layerFiles(t *testing.T, l v1.Layer) (map[string]tarFile, []string) {
	t.Helper()
	rc, err := l.Uncompressed()
	must(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]tarFile{}
	var order []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		data, err := io.ReadAll(tr)
		must(t, err)
		p := "/" + strings.TrimSuffix(h.Name, "/")
		if _, dup := files[p]; dup {
			t.Fatalf("layer has %s twice", p)
		}
		files[p] = tarFile{hdr: h, data: data}
		order = append(order, p)
	}
	return files, order
}

// imageFiles merges all layers of an image (later layers win; no whiteouts are used here).
func imageFiles(t *testing.T, img v1.Image) map[string]tarFile {
	t.Helper()
	layers, err := img.Layers()
	must(t, err)
	all := map[string]tarFile{}
	for _, l := range layers {
		fs, _ := layerFiles(t, l)
		for p, f := range fs {
			all[p] = f
		}
	}
	return all
}

func configOf(t *testing.T, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	must(t, err)
	return cf
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	return b
}

func goroot(t testing.TB) string {
	t.Helper()
	r, err := GoRoot(context.Background())
	must(t, err)
	return r
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// writeTar is the tar writeTarTo writes, in memory.
func writeTar(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeTarTo(&buf, entries, mtime); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
