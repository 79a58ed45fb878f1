// Package cachedir is the one home of scratchkit's cache directory: engines, compressed layers,
// the vulnerability database and results, the smoke prober, toolchain answers. It imports only
// the standard library: the thin mage targets use it too.
package cachedir

import (
	"fmt"
	"os"
	"path/filepath"
)

// Env moves the cache directory.
const Env = "SCRATCHKIT_CACHE"

// Dir is $SCRATCHKIT_CACHE (made absolute), else the user cache directory's scratchkit folder
// (~/.cache/scratchkit on Linux, ~/Library/Caches/scratchkit on macOS).
func Dir() (string, error) {
	if d := os.Getenv(Env); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for scratchkit (%v): set %s", err, Env)
	}
	return filepath.Join(d, "scratchkit"), nil
}
