// Package secrets keeps the signing secrets out of the processes scratchkit starts. It imports
// only a little of the standard library, so the thin mage targets can use it too.
package secrets

import (
	"os"
	"slices"
	"strings"
)

// Names are the environment variables only signing reads: the cosign key's password and the
// OIDC tokens for keyless signing. No child process scratchkit starts needs them.
var Names = []string{"COSIGN_PASSWORD", "SIGSTORE_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"}

// Environ is os.Environ() without Names, followed by extra: the environment for a child process
// (go, git, docker, runc, a PGO workload).
func Environ(extra ...string) []string {
	return Env(os.Environ(), extra...)
}

// Env is env without Names, followed by extra.
func Env(env []string, extra ...string) []string {
	out := make([]string, 0, len(env)+len(extra))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(Names, k) {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}
