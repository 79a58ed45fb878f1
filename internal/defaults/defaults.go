// Package defaults is the one rule by which an option's zero value takes its default, for every
// library's Options: a limit, size or timeout not above zero, a string left empty.
package defaults

// Positive is v, or def when v is not above zero (unset).
func Positive[T ~int | ~int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// String is s, or def when s is empty.
func String(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
