// Package modsum reads the hashes go.sum and a binary's build information give Go modules.
package modsum

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Hex turns a module hash of the "h1:" kind (base64 of the SHA-256 of the module's file list, as
// golang.org/x/mod/sumdb/dirhash computes it) into lowercase hex: the digest an SBOM's checksum
// and an in-toto dirHash carry. It reports false for any other hash and for a malformed one.
func Hex(sum string) (string, bool) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != sha256.Size {
		return "", false
	}
	return hex.EncodeToString(raw), true
}
