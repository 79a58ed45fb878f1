// Package imagefs reads an image's flattened filesystem (all layers, whiteouts honoured) whole or
// not at all, bounded in bytes and entries (Limits): as tar headers by path plus the contents of
// the files a Plan names (Read, for the image checks of package lint), or written to a directory
// with modes, owners and file capabilities (Unpack, for a runc bundle). Symlinks resolve inside
// the image as the kernel resolves them inside a container; no entry reaches outside.
package imagefs
