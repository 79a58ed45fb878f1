package launch

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/scratchkit/scratchkit/internal/cachedir"

	"github.com/scratchkit/scratchkit/internal/filelock"
	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/internal/tick"
)

// Variant is which engine binary: Core leaves out signing and ko's daemon and kind publishers.
type Variant string

const (
	Core Variant = "core"
	Full Variant = "full"
)

// CoreTag is the build tag that leaves signing and ko's publishers out of cmd/scratchkit.
const CoreTag = "scratchkit_core"

// Cache is where engines are built and kept.
type Cache struct {
	// Dir holds one folder per engine build key. Default: cachedir.Dir().
	Dir string
	// Go is the go command that builds engines. Default "go".
	Go string
	// GoVersion is part of the key: an engine is rebuilt for another Go. Default runtime.Version(),
	// the Go that compiled the magefile (mage recompiles it when the go command changes).
	GoVersion string
	// Log receives the one line said before a build. Default os.Stderr.
	Log io.Writer
}

func (c *Cache) defaults() error {
	if c.Dir == "" {
		d, err := cachedir.Dir()
		if err != nil {
			return err
		}
		c.Dir = d
	}
	if c.Go == "" {
		c.Go = "go"
	}
	if c.GoVersion == "" {
		c.GoVersion = runtime.Version()
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
	return nil
}

// safeName keeps letters, digits, '.', '_' and '-' of s, and turns anything else into '_'.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

// key names the folder of an engine: what it is built from, with which Go, for which host.
// A checkout's key carries its sources' hash, so any change to them is another engine.
func (c *Cache) key(src Source) (key, family string, err error) {
	suffix := safeName(c.GoVersion) + "-" + runtime.GOOS + "-" + runtime.GOARCH
	if src.Dir == "" {
		return safeName(src.Module+"@"+src.Version) + "-" + suffix, "", nil
	}
	h, err := src.Hash()
	if err != nil {
		return "", "", err
	}
	d := fnv.New64a()
	d.Write([]byte(src.Dir))
	family = "checkout-" + hex.EncodeToString(d.Sum(nil)[:6]) + "-"
	return family + h[:16] + "-" + suffix, family, nil
}

// Engine returns the engine binary of variant built from src, building it first when the cache
// has none: the second and later calls of a version (or of an unchanged checkout) only stat it.
// Concurrent callers (two mage processes) build it once and both get it.
func (c *Cache) Engine(ctx context.Context, src Source, v Variant) (string, error) {
	if err := c.defaults(); err != nil {
		return "", err
	}
	key, family, err := c.key(src)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(c.Dir, "engine", key)
	bin := filepath.Join(dir, "scratchkit-"+string(v))
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if isExecutable(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("scratchkit engine cache: %w", err)
	}
	unlock, err := filelock.Lock(ctx, bin+".lock")
	if err != nil {
		return "", fmt.Errorf("scratchkit engine cache: %w", err)
	}
	defer unlock()
	if isExecutable(bin) { // another process built it while this one waited
		return bin, nil
	}
	if err := c.build(ctx, src, v, bin); err != nil {
		return "", err
	}
	if family != "" {
		c.prune(family, key)
	}
	return bin, nil
}

// build compiles the engine into a temporary file next to bin, then renames it into place.
func (c *Cache) build(ctx context.Context, src Source, v Variant, bin string) error {
	what, once := "v"+strings.TrimPrefix(src.Version, "v"), "once per version"
	if src.Dir != "" {
		what, once = "from "+src.Dir, "once per change to its sources"
	}
	parts := "everything but signing"
	if v == Full {
		parts = "with signing"
	}
	fmt.Fprintf(c.Log, "building the scratchkit engine %s (%s; %s, %s): this takes a while the first time\n", what, parts, once, c.GoVersion)
	start := time.Now()

	tmp, err := os.MkdirTemp(filepath.Dir(bin), ".build-")
	if err != nil {
		return fmt.Errorf("scratchkit engine cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	// The engine is a local tool: built with the go command's defaults (no -trimpath, cgo as
	// configured), it shares the Go build cache with the team's own builds and tests.
	args := []string{"build", "-o", filepath.Join(tmp, "scratchkit")}
	if v == Core {
		args = append(args, "-tags="+CoreTag)
	}
	env := secrets.Environ("GOFLAGS=", "GOWORK=off")
	var cmd *exec.Cmd
	if src.Dir != "" {
		cmd = exec.CommandContext(ctx, c.Go, append(args, "./cmd/scratchkit")...)
		cmd.Dir = src.Dir
	} else {
		// go install pkg@version builds with scratchkit's own go.mod, whatever the magefile's
		// module requires, and needs no source in the magefile's module.
		args[0] = "install"
		args = append(args[:1:1], args[3:]...) // no -o: GOBIN
		cmd = exec.CommandContext(ctx, c.Go, append(args, src.Module+"/cmd/scratchkit@"+src.Version)...)
		cmd.Dir = tmp
		env = append(env, "GOBIN="+tmp)
	}
	cmd.Env = env
	cmd.Args = append(cmd.Args[:2:2], append([]string{"-v"}, cmd.Args[2:]...)...) // package by package, for progress
	prog := &progress{}
	cmd.Stdout, cmd.Stderr = prog, prog
	stop := prog.report(c.Log, start)
	err = cmd.Run()
	stop()
	if err != nil {
		return buildError(src, cmd, err, prog.messages())
	}
	built := filepath.Join(tmp, "scratchkit")
	if runtime.GOOS == "windows" {
		built += ".exe"
	}
	if err := os.Rename(built, bin); err != nil {
		return fmt.Errorf("scratchkit engine cache: %w", err)
	}
	fmt.Fprintf(c.Log, "built the scratchkit engine in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// buildError says why the engine did not build and what to do.
func buildError(src Source, cmd *exec.Cmd, err error, out []byte) error {
	msg := strings.TrimSpace(string(out))
	if len(msg) > 4000 {
		msg = msg[:4000] + "\n…"
	}
	hint := "fix the error above, or set " + EnvEngine + " to a scratchkit binary built elsewhere"
	switch {
	case errors.Is(err, exec.ErrNotFound):
		hint = "install Go (the engine is built with the go command), or set " + EnvEngine
	case src.Dir == "" && (strings.Contains(msg, "dial tcp") || strings.Contains(msg, "no such host") || strings.Contains(msg, "connection refused") || strings.Contains(msg, "GOPROXY")):
		hint = "the Go module proxy could not be reached: let go download " + src.Module + "@" + src.Version + " (GOPROXY), or set " + EnvEngine + " to a scratchkit binary (go install " + src.Module + "/cmd/scratchkit@" + src.Version + " on a machine with network)"
	}
	return fmt.Errorf("could not build the scratchkit engine %s (%s in %s): %v\n%s\n%s", src, strings.Join(cmd.Args, " "), cmd.Dir, err, msg, hint)
}

// prune removes the engines of older states of the same checkout.
func (c *Cache) prune(family, keep string) {
	entries, err := os.ReadDir(filepath.Join(c.Dir, "engine"))
	if err != nil {
		return
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, family) && n != keep {
			os.RemoveAll(filepath.Join(c.Dir, "engine", n))
		}
	}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// progress counts what go build -v and the module downloads print, and keeps every other line
// (the errors) for the message of a failed build.
type progress struct {
	mu        sync.Mutex
	partial   []byte
	packages  int
	downloads int
	other     []string
}

func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		line := string(p.partial[:i])
		p.partial = p.partial[i+1:]
		switch {
		case strings.HasPrefix(line, "go: downloading "):
			p.downloads++
		case line != "" && !strings.ContainsAny(line, " \t:"):
			p.packages++ // an import path: go build -v compiled it
		case len(p.other) < 200:
			p.other = append(p.other, line)
		}
	}
	return len(b), nil
}

func (p *progress) messages() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return []byte(strings.Join(append(p.other, string(p.partial)), "\n"))
}

// report says every ten seconds how far the build has come, until the returned func is called.
func (p *progress) report(w io.Writer, start time.Time) (stop func()) {
	return tick.Every(10*time.Second, func() {
		p.mu.Lock()
		n, d := p.packages, p.downloads
		p.mu.Unlock()
		line := fmt.Sprintf("  … %d packages compiled", n)
		if d > 0 {
			line += fmt.Sprintf(", %d modules downloaded", d)
		}
		fmt.Fprintf(w, "%s (%s)\n", line, time.Since(start).Round(time.Second))
	})
}
