package run

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/internal/cachedir"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/targets/platform"
)

// The prober is a tiny static program (internal/prober, on internal/httpprobe) that performs the
// http probe from a container joined to the service container's network namespace: how a docker
// user, root or not, reaches a service that has no network but its own loopback. scratchkit
// builds it from the source embedded here with the go on PATH, once per source and Go version,
// and keeps the binary under the cache directory.

//go:embed internal/prober/main.go internal/httpprobe/httpprobe.go
var proberSource embed.FS

// proberModule is the module path the embedded sources import each other by.
const proberModule = "github.com/scratchkit/scratchkit"

// proberMain is the prober's package inside that module.
const proberMain = "./targets/run/internal/prober"

// proberUser runs the prober: nobody, with no capabilities.
const proberUser = "65534:65534"

// Limits of the prober's container.
const (
	proberMemory = 64 << 20
	proberPids   = 64
)

// proberEnv is the build environment that decides what binary comes out, besides the source and
// the Go version: a static binary for the host, whatever the caller's environment says.
func proberEnv() []string {
	host := platform.Host()
	host.Variant = platform.DefaultVariant(host.Arch) // the architecture's default level, set explicitly
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + host.Arch, "GOFLAGS=-trimpath", "GOWORK=off", "GOTOOLCHAIN=local", "GOPROXY=off"}
	if k, v := host.Level(); k != "" {
		env = append(env, k+"="+v)
	}
	return env
}

// cacheDir is where smoke keeps what it builds: opts.CacheDir, else the user cache dir.
func (o Options) cacheDir() (string, error) {
	if o.CacheDir != "" {
		return o.CacheDir, nil
	}
	return cachedir.Dir()
}

// proberBinary returns the path of the prober binary for this source and Go version, building it
// into the cache when it is not there. Concurrent callers each build and rename into place; the
// file is whole or absent.
func proberBinary(ctx context.Context, opts Options) (string, error) {
	dir, err := opts.cacheDir()
	if err != nil {
		return "", err
	}
	gover, err := goVersion(ctx)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", gover, strings.Join(proberEnv(), " "))
	files, err := proberFiles()
	if err != nil {
		return "", err
	}
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00%s", f.name, len(f.data), f.data)
	}
	key := hex.EncodeToString(h.Sum(nil))[:20]
	path := filepath.Join(dir, "prober", key, "prober")
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		return path, nil
	}

	opts.logf("smoke: building the http prober with %s into %s", gover, filepath.Dir(path))
	tmp, err := os.MkdirTemp("", "scratchkit-prober-")
	if err != nil {
		return "", fmt.Errorf("build the prober: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		p := filepath.Join(tmp, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("build the prober: %w", err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return "", fmt.Errorf("build the prober: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte("module "+proberModule+"\n\ngo 1.21\n"), 0o644); err != nil {
		return "", fmt.Errorf("build the prober: %w", err)
	}
	out := filepath.Join(tmp, "prober.bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-buildvcs=false", "-o", out, proberMain)
	cmd.Dir = tmp
	cmd.Env = secrets.Environ(proberEnv()...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the prober with %s: %v: %s", gover, err, bytes.TrimSpace(msg))
	}
	bin, err := os.Open(out)
	if err != nil {
		return "", fmt.Errorf("build the prober: %w", err)
	}
	defer bin.Close()
	if err := atomicfile.Write(path, 0o755, func(w io.Writer) error { _, err := io.Copy(w, bin); return err }); err != nil {
		return "", fmt.Errorf("cache the prober: %w", err)
	}
	return path, nil
}

type sourceFile struct {
	name string // slash-separated, relative to the module root
	data []byte
}

// proberFiles are the embedded sources at their places in the module.
func proberFiles() ([]sourceFile, error) {
	var files []sourceFile
	for _, name := range []string{"internal/prober/main.go", "internal/httpprobe/httpprobe.go"} {
		data, err := proberSource.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("prober source: %w", err)
		}
		files = append(files, sourceFile{name: "targets/run/" + name, data: data})
	}
	return files, nil
}

// goVersion is the version of the go on PATH ("go1.26.8").
func goVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Env = secrets.Environ("GOTOOLCHAIN=local", "GOWORK=off")
	cmd.Dir = os.TempDir() // outside any module, whose go line could ask for another toolchain
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%v: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return "", fmt.Errorf("smoke's http prober is built with go, and `go env GOVERSION` failed: %w. Put go on PATH, or set smoke.network: host", err)
	}
	v := strings.TrimSpace(string(out))
	if v == "" {
		return "", errors.New("go env GOVERSION printed nothing: put a go of version 1.21 or later on PATH, or set smoke.network: host")
	}
	return v, nil
}

// proberImage makes the prober's image: the binary at /prober on nothing, run as nobody.
func proberImage(bin string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("read the prober: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "prober", Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerData := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerData)), nil })
	if err != nil {
		return nil, fmt.Errorf("prober layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("prober image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	host := platform.Host()
	cf.OS, cf.Architecture, cf.Variant = host.OS, host.Arch, host.Variant
	cf.Config.Entrypoint = []string{"/prober"}
	cf.Config.User = proberUser
	return mutate.ConfigFile(img, cf)
}
