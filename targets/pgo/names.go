package pgo

import (
	"strconv"
	"strings"
)

// stripTypeArgs removes bracketed type arguments ("F[...]", "(*T[...]).M") from a function name;
// they may contain slashes and dots that confuse splitting.
func stripTypeArgs(name string) string {
	if !strings.Contains(name, "[") {
		return name
	}
	var b strings.Builder
	depth := 0
	for _, r := range name {
		switch {
		case r == '[':
			depth++
		case r == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// splitFuncName splits a symbol name as found in profiles ("net/http.(*conn).serve",
// "main.main.func1", "example.com/m/pkg.F[...]") into its package path and the rest.
func splitFuncName(name string) (pkg, rest string) {
	name = stripTypeArgs(name)
	slash := strings.LastIndex(name, "/")
	dot := strings.Index(name[slash+1:], ".")
	if dot < 0 {
		return "", name
	}
	dot += slash + 1
	return name[:dot], name[dot+1:]
}

// funcKey maps the part of a symbol after its package to the declaration it comes from:
// "F", "T.M" or "(*T).M". Closures ("F.func1", "F.func1.2", "(*T).M.gowrap1"), method values
// ("T.M-fm") and numbered init functions ("init.0") map to their enclosing declaration.
// closure reports whether the symbol was such an inner function.
func funcKey(rest string) (key string, closure bool) {
	rest = strings.TrimSuffix(rest, "-fm")
	parts := strings.Split(rest, ".")
	n := 1
	if len(parts) > 1 && !isInnerName(parts[1]) {
		n = 2 // a method: T.M or (*T).M
	}
	return strings.Join(parts[:min(n, len(parts))], "."), len(parts) > n
}

// isInnerName reports whether a name element is one the compiler gives to closures and wrappers.
func isInnerName(s string) bool {
	for _, p := range []string{"func", "gowrap", "deferwrap"} {
		if strings.HasPrefix(s, p) && decimal(s[len(p):]) {
			return true
		}
	}
	return decimal(s)
}

// decimal reports whether s is a number the compiler wrote (func1, the 2 of a.b.2).
func decimal(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}
