// Package prunemark is what scratchkit's caches on disk share about their upkeep: a walk of the
// entries at most once per interval, recorded by the time of a marker file, and an entry's time
// refreshed on a hit so that entries in use are never the oldest.
package prunemark

import (
	"os"
	"path/filepath"
	"time"

	"github.com/scratchkit/scratchkit/internal/atomicfile"
)

// Name is the marker file in a cache directory: its modification time is the last prune's.
const Name = "last-prune"

// Due reports whether dir was last pruned every or more before now, or never. A marker more
// than a minute ahead of now (a clock set back) counts as none.
func Due(dir string, every time.Duration, now time.Time) bool {
	fi, err := os.Stat(filepath.Join(dir, Name))
	return err != nil || now.Sub(fi.ModTime()) >= every || !fi.ModTime().Before(now.Add(time.Minute))
}

// Done records now as dir's last prune.
func Done(dir string, now time.Time) error {
	mark := filepath.Join(dir, Name)
	if err := atomicfile.WriteFile(mark, []byte(now.UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Chtimes(mark, now, now)
}

// Touch sets path's time to now when it is more than every old. Failing to is no matter: a
// prune racing with the hit may have removed the entry.
func Touch(path string, every time.Duration, now time.Time) {
	if fi, err := os.Stat(path); err == nil && now.Sub(fi.ModTime()) > every {
		_ = os.Chtimes(path, now, now)
	}
}
