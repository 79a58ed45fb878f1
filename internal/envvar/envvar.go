// Package envvar is the one rule for an environment entry scratchkit is given (a build's env,
// an image's env, a smoke container's env): NAME=VALUE, NAME a POSIX shell name.
package envvar

import (
	"fmt"
	"strings"
)

// Split splits kv at its first '=' and checks the name: a letter or '_', then letters, digits
// and '_'. The error quotes kv and says what to write.
func Split(kv string) (name, value string, err error) {
	name, value, ok := strings.Cut(kv, "=")
	if !ok || !validName(name) {
		return "", "", fmt.Errorf("%q is not NAME=VALUE (a name of letters, digits and _, not starting with a digit)", kv)
	}
	return name, value, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
