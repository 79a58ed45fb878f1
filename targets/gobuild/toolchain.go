package gobuild

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/scratchkit/scratchkit/targets/goenv"
)

// ToolchainPatch is the build.toolchain value that builds with the newest patch release of the
// Go minor in use (go1.26.8 on PATH, go1.26.11 released: go1.26.11).
const ToolchainPatch = "patch"

// toolchainRE is a Go release the go command's GOTOOLCHAIN accepts: go1.26.11, go1.27rc2 (go1.26 names
// a language version, not a release).
var toolchainRE = regexp.MustCompile(`^go1\.[0-9]+(\.[0-9]+|rc[0-9]+)$`)

// CheckToolchain checks a build.toolchain value: empty (the go on PATH), a Go release such as
// go1.26.11, or patch.
func CheckToolchain(s string) error {
	if s == "" || s == ToolchainPatch || toolchainRE.MatchString(s) {
		return nil
	}
	return fmt.Errorf("%q is not a Go release: write one such as go1.26.11, or patch (the newest patch release of the Go in use)", s)
}

// ToolchainOptions configures ResolveToolchain.
type ToolchainOptions struct {
	// Go is the go command; default "go".
	Go string
	// Env is the go command's environment (GOPROXY and the rest as the user has them); nil
	// means os.Environ().
	Env []string
	// CacheDir keeps the newest patch release found, for MaxAge; empty keeps nothing.
	CacheDir string
	MaxAge   time.Duration
	Now      func() time.Time
}

// ResolveToolchain turns a build.toolchain value into the GOTOOLCHAIN the builds use: "" for
// the go command on PATH as it is, the release itself when one is named, and for patch the
// newest goX.Y.N of the minor of the go command on PATH that the module proxy serves as
// golang.org/toolchain for this host (the go command fetches it from there, as it does for a
// go.mod's toolchain line).
func ResolveToolchain(ctx context.Context, setting string, opts ToolchainOptions) (string, error) {
	if err := CheckToolchain(setting); err != nil {
		return "", fmt.Errorf("build.toolchain: %w", err)
	}
	if setting != ToolchainPatch {
		return setting, nil
	}
	if opts.Go == "" {
		opts.Go = "go"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	out, err := opts.run(ctx, "env", "GOVERSION")
	if err != nil {
		return "", fmt.Errorf("build.toolchain: patch: which Go is in use: %w", err)
	}
	local := strings.TrimSpace(string(out))
	major, minor, _, ok := parseRelease(local)
	if !ok {
		return "", fmt.Errorf("build.toolchain: patch: the go command says it is %q, not a Go release", local)
	}
	series := fmt.Sprintf("go%d.%d", major, minor)
	kept := ""
	if opts.CacheDir != "" {
		kept = filepath.Join(opts.CacheDir, "toolchain", "patch-"+series+"-"+runtime.GOOS+"-"+runtime.GOARCH+".json")
		var k struct {
			Release string    `json:"release"`
			Asked   time.Time `json:"asked"`
		}
		if data, err := os.ReadFile(kept); err == nil && json.Unmarshal(data, &k) == nil {
			if age := opts.Now().Sub(k.Asked); age >= -time.Minute && age < opts.MaxAge && strings.HasPrefix(k.Release, series+".") {
				return k.Release, nil
			}
		}
	}
	out, err = opts.run(ctx, "list", "-m", "-versions", "golang.org/toolchain")
	if err != nil {
		return "", fmt.Errorf("build.toolchain: patch: list the Go releases the module proxy serves (golang.org/toolchain): %w", err)
	}
	best, bestPatch := local, -1
	if _, _, p, ok := parseRelease(local); ok {
		bestPatch = p
	}
	suffix := "." + runtime.GOOS + "-" + runtime.GOARCH
	for _, v := range strings.Fields(string(out)) {
		rel, ok := strings.CutPrefix(v, "v0.0.1-")
		if !ok {
			continue
		}
		if rel, ok = strings.CutSuffix(rel, suffix); !ok {
			continue
		}
		if M, m, p, ok := parseRelease(rel); ok && M == major && m == minor && p > bestPatch {
			best, bestPatch = rel, p
		}
	}
	if kept != "" {
		data, _ := json.Marshal(map[string]any{"release": best, "asked": opts.Now().UTC()})
		if os.MkdirAll(filepath.Dir(kept), 0o755) == nil {
			_ = os.WriteFile(kept, data, 0o644) // a failure only means asking again
		}
	}
	return best, nil
}

// parseRelease reads goX.Y.Z (a release, not a release candidate).
func parseRelease(s string) (major, minor, patch int, ok bool) {
	parts := strings.Split(strings.TrimPrefix(s, "go"), ".")
	if !strings.HasPrefix(s, "go") || len(parts) != 3 {
		return 0, 0, 0, false
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return 0, 0, 0, false
		}
		n[i] = v
	}
	return n[0], n[1], n[2], true
}

// run runs the go command outside any module, on the local toolchain.
func (o *ToolchainOptions) run(ctx context.Context, args ...string) ([]byte, error) {
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	return goenv.Outside(ctx, o.Go, append(env[:len(env):len(env)], "GOFLAGS=-mod=mod"), args...)
}
