//go:build !unix

package launch

import "context"

// lockFile does not lock where flock is missing: concurrent builds each rename a complete
// binary into place, and the last one stays.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
