package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/internal/testenv"
)

// bench holds what every comparison shares: the checkout, one temporary directory, the mage CLI
// built from the module's pinned version, and the cleanups to run on exit.
type bench struct {
	opts     options
	root     string // the repository root (module github.com/scratchkit/scratchkit)
	src      string // the scratchkit source measured: a snapshot of HEAD, or root
	commit   string // what src holds
	tmp      string // everything this run writes
	mage     string // the mage CLI
	goVer    string
	vulndb   string // the file:// URL of an empty vulnerability database on disk (GOVULNDB)
	cleanups []func() error
}

// newBench finds the checkout, makes the temporary directory and builds the mage CLI.
func newBench(ctx context.Context, o options) (*bench, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return nil, fmt.Errorf("find the module (run from the scratchkit checkout): go list -m: %w", err)
	}
	path, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if path != "github.com/scratchkit/scratchkit" {
		return nil, fmt.Errorf("run from the scratchkit checkout: the module here is %q", path)
	}
	tmp, err := os.MkdirTemp("", "scratchkit-compare-")
	if err != nil {
		return nil, err
	}
	b := &bench{opts: o, root: dir, tmp: tmp}
	b.cleanups = append(b.cleanups, func() error {
		if o.keep {
			fmt.Fprintf(os.Stderr, "compare: kept %s\n", tmp)
			return nil
		}
		return os.RemoveAll(tmp)
	})
	ver, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("go env GOVERSION: %w", err), b.Close())
	}
	b.goVer = strings.TrimSpace(string(ver))

	// Verify's vulnerability check reads a database; the bench machine is offline, so point it
	// at an empty copy on disk: the check runs (scratchkit does the work), no network wait.
	if b.vulndb, err = testenv.WriteVulnDBFiles(filepath.Join(tmp, "vulndb"), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		return nil, errors.Join(err, b.Close())
	}

	// Measure a fixed source: the checkout may change under a long run (other work in it would
	// make mage rebuild the magefile in the middle of a row).
	b.src, b.commit = dir, "working tree of "+dir
	if o.src == "head" {
		b.src = filepath.Join(tmp, "src")
		if b.commit, err = snapshot(ctx, dir, b.src); err != nil {
			return nil, errors.Join(err, b.Close())
		}
	}

	// The mage CLI at the version go.mod pins, as the e2e tests build it.
	b.mage = filepath.Join(tmp, "bin", "mage")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", b.mage, "github.com/magefile/mage")
	cmd.Dir = b.src
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, errors.Join(fmt.Errorf("build the mage CLI: %w\n%s", err, out), b.Close())
	}
	return b, nil
}

// onClose adds a cleanup; cleanups run last-added first.
func (b *bench) onClose(f func() error) { b.cleanups = append(b.cleanups, f) }

// Close runs the cleanups: registries, proxies, then the temporary directory.
func (b *bench) Close() error {
	var errs []error
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, b.cleanups[i]())
	}
	b.cleanups = nil
	return errors.Join(errs...)
}

// header prints the machine and the method once.
func (b *bench) header() {
	fmt.Printf("# scratchkit comparisons\n\n")
	fmt.Printf("%s, %s, %s/%s, %d CPUs (%s), load average %s\nscratchkit: %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		b.goVer, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), loadAvg(), b.commit)
}

// env is the environment of every tool run: the caller's, without scratchkit's, ko's and
// mage's own variables (so nothing from the shell changes what is measured), plus extra.
// mage's binary cache and scratchkit's engine cache default to folders of the temporary
// directory, so no run reads or writes the user's; projects and cold runs give their own
// (extra comes last, and the last value of a variable wins).
func (b *bench) env(extra ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		name, _, _ := strings.Cut(e, "=")
		if strings.HasPrefix(name, "SCRATCHKIT_") || strings.HasPrefix(name, "KO_") || strings.HasPrefix(name, "MAGEFILE_") ||
			name == "SOURCE_DATE_EPOCH" || name == "GOCACHE" || name == "GOVULNDB" {
			continue
		}
		env = append(env, e)
	}
	env = append(env, "NO_COLOR=1", "MAGEFILE_CACHE="+filepath.Join(b.tmp, "magecache"), "SCRATCHKIT_CACHE="+filepath.Join(b.tmp, "scratchkit-cache"),
		"GOVULNDB="+b.vulndb)
	return append(env, extra...)
}

// command makes a command with the bench environment.
func (b *bench) command(ctx context.Context, dir string, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = b.env(env...)
	return cmd
}

// run runs cmd and returns its wall-clock time; a failure carries the command's output.
func run(cmd *exec.Cmd) (time.Duration, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s (in %s): %w\n%s", strings.Join(cmd.Args, " "), cmd.Dir, err, tail(out.String(), 40))
	}
	return d, nil
}

// output runs cmd and returns its combined output.
func output(cmd *exec.Cmd) (string, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s (in %s): %w\n%s", strings.Join(cmd.Args, " "), cmd.Dir, err, tail(out.String(), 40))
	}
	return out.String(), nil
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = append([]string{"..."}, l[len(l)-lines:]...)
	}
	return strings.Join(l, "\n")
}

// freshCache makes an empty GOCACHE directory under the temporary directory.
func (b *bench) freshCache(name string) (string, error) {
	dir, err := os.MkdirTemp(b.tmp, "gocache-"+name+"-")
	if err != nil {
		return "", err
	}
	return dir, nil
}

// coldCaches are the caches of one cold run, all empty: the Go build cache, scratchkit's engine
// cache, mage's binary cache, and a GOBIN for a go install. The module cache stays warm.
type coldCaches struct {
	root, gocache, skcache, magecache, gobin string
}

// freshCaches makes the empty caches of one cold run; remove them with os.RemoveAll(c.root).
func (b *bench) freshCaches(name string) (*coldCaches, error) {
	root, err := os.MkdirTemp(b.tmp, "cold-"+name+"-")
	if err != nil {
		return nil, err
	}
	c := &coldCaches{root: root, gocache: filepath.Join(root, "gocache"), skcache: filepath.Join(root, "scratchkit-cache"),
		magecache: filepath.Join(root, "magecache"), gobin: filepath.Join(root, "bin")}
	for _, d := range []string{c.gocache, c.skcache, c.magecache, c.gobin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, errors.Join(err, os.RemoveAll(root))
		}
	}
	return c, nil
}

// env is the environment of a cold run: every cache empty.
func (c *coldCaches) env() []string {
	return []string{"GOCACHE=" + c.gocache, "SCRATCHKIT_CACHE=" + c.skcache, "MAGEFILE_CACHE=" + c.magecache}
}

// snapshot extracts `git archive HEAD` of the checkout into dir and names the commit.
func snapshot(ctx context.Context, root, dir string) (string, error) {
	rev, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", fmt.Errorf("snapshot the checkout: git rev-parse HEAD: %w (or use -src worktree)", err)
	}
	cmd := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", "HEAD")
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	extractErr := untar(pipe, dir)
	_, _ = io.Copy(io.Discard, pipe)
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("snapshot the checkout: git archive HEAD: %w: %s", err, stderr.String())
	}
	if extractErr != nil {
		return "", fmt.Errorf("snapshot the checkout into %s: %w", dir, extractErr)
	}
	return "commit " + strings.TrimSpace(string(rev))[:12] + " (git archive HEAD)", nil
}

// untar writes a tar stream's directories, files and symbolic links under dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !filepath.IsLocal(h.Name) {
			return fmt.Errorf("unexpected path %q in the archive", h.Name)
		}
		path := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
				var f *os.File
				if f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()|0o600); err == nil {
					_, err = io.Copy(f, tr)
					err = errors.Join(err, f.Close())
				}
			}
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
				err = os.Symlink(h.Linkname, path)
			}
		}
		if err != nil {
			return err
		}
	}
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
