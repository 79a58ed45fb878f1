// Package lint checks one platform's image for the pitfalls of scratch and distroless images,
// without running it: the entrypoint exists, is a regular file the configured user may execute,
// is statically linked (binary.Check, Verify's engine) and is byte for byte the verified binary;
// the user is not root unless allowed and resolves in the image's /etc/passwd; a binary that
// links crypto/tls or crypto/x509 finds CA roots, one that calls time.LoadLocation finds zone
// data, one that links os/user finds /etc/passwd (what the binary links is read from its function
// table, see binary.Features); the base is pinned by digest; no shell or package manager rides
// along unless a debug variant was asked for; a non-root service neither exposes nor is probed
// on a port below 1024.
//
// Analyze reads an image once (package imagefs, bounded) into an Image, which answers both the
// checks (Findings, against a Policy) and a runtime's questions (Command, User, Dir); Check does
// both steps. Package run runs what passes here.
package lint
