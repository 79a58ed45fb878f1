//go:build !unix

package filelock

import "os"

// tryLock: no cross-process lock here; the process lock alone serialises.
func tryLock(*os.File) (bool, error) { return true, nil }

func unlockFile(*os.File) error { return nil }
