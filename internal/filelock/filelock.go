// Package filelock serialises processes around shared files: an exclusive advisory lock on a
// lock file, held from Lock until the returned unlock is called or the process ends (the kernel
// releases it even after kill -9, so a crashed holder never leaves a stale lock behind).
//
// On unix it is flock(2). Elsewhere it is best effort: only the goroutines of one process are
// serialised.
package filelock

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// poll is how often a waiting Lock tries again.
const poll = 25 * time.Millisecond

// Lock takes the exclusive lock of path, creating the file (and its directory) if needed, and
// waits until it is free or ctx ends. Call unlock to release it.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	m := processLock(path)
	if !tryUntil(ctx, m.TryLock) {
		return nil, fmt.Errorf("lock %s: %w", path, context.Cause(ctx))
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		m.Unlock()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	var lerr error
	if !tryUntil(ctx, func() bool { ok, err := tryLock(f); lerr = err; return ok || err != nil }) {
		lerr = context.Cause(ctx)
	}
	if lerr != nil {
		f.Close()
		m.Unlock()
		return nil, fmt.Errorf("lock %s: %w", path, lerr)
	}
	return func() {
		_ = unlockFile(f)
		f.Close()
		m.Unlock()
	}, nil
}

// tryUntil calls try until it reports true, or ctx ends (false).
func tryUntil(ctx context.Context, try func() bool) bool {
	for !try() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(poll):
		}
	}
	return true
}

// processLocks serialise the goroutines of this process per lock file: flock alone would too on
// Linux, but not on every unix, nor where there is no flock.
var processLocks sync.Map // cleaned path -> *sync.Mutex

func processLock(path string) *sync.Mutex {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	m, _ := processLocks.LoadOrStore(abs, new(sync.Mutex))
	return m.(*sync.Mutex)
}
