//go:build !unix

package atomicfile

// syncDir: directories cannot be synced here; the rename is as durable as the system makes it.
func syncDir(string) error { return nil }
