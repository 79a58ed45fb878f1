// Package keyfile names cosign's key files. It imports nothing, so that what only needs the names
// (the Dockerfile context check of the core engine) does not link the signing stack.
package keyfile

// Key file names, the same as `cosign generate-key-pair` writes.
const (
	Private = "cosign.key"
	Public  = "cosign.pub"
)
