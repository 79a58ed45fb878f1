package pgo

import (
	"errors"
	"fmt"
)

// Kinds of bad input. Errors returned for an input wrap exactly one of these, so callers can test
// them with errors.Is; the message says what was found and what to do.
var (
	// ErrUnreachable: the endpoint could not be reached (connection refused, DNS, TLS, timeout),
	// after the configured retries.
	ErrUnreachable = errors.New("endpoint unreachable")
	// ErrUnauthorized: the endpoint answered 401 or 403.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound: the endpoint answered 404, or a file does not exist.
	ErrNotFound = errors.New("not found")
	// ErrHTTPStatus: the endpoint answered another non-2xx status.
	ErrHTTPStatus = errors.New("unexpected HTTP status")
	// ErrHTML: the response or file is an HTML page.
	ErrHTML = errors.New("an HTML page, not a profile")
	// ErrNotProfile: the data does not parse as a pprof profile.
	ErrNotProfile = errors.New("not a profile")
	// ErrTooLarge: the response or file, or what its gzip expands to, is larger than
	// MaxProfileBytes.
	ErrTooLarge = errors.New("profile too large")
	// ErrNotCPU: a profile of another kind (heap, goroutine, mutex, ...).
	ErrNotCPU = errors.New("not a CPU profile")
	// ErrNoSamples: a CPU profile without any CPU time in it.
	ErrNoSamples = errors.New("no samples")
	// ErrNotSymbolized: the profile holds addresses without function names.
	ErrNotSymbolized = errors.New("not symbolized")
	// ErrNotGo: a CPU profile, but not of a Go program the compiler can use (no Go runtime frames,
	// or no function start lines, which Go writes since 1.20).
	ErrNotGo = errors.New("not a Go profile")
	// ErrNotMainModule: no sample runs code of Options.MainModule.
	ErrNotMainModule = errors.New("no samples in the main module")
	// ErrWorkload: the local workload could not be started, did not become ready, or died.
	ErrWorkload = errors.New("workload failed")
	// ErrTooFewSources: fewer valid inputs than required; Collect's error wraps it.
	ErrTooFewSources = errors.New("too few valid profiles")
	// ErrConfig: an input is misconfigured (bad URL, missing token variable, unreadable CA file).
	ErrConfig = errors.New("bad configuration")
)

// reason is an error of one kind with a message written for the user.
type reason struct {
	kind error
	msg  string
}

func (r *reason) Error() string { return r.msg }
func (r *reason) Unwrap() error { return r.kind }

// because returns an error of the given kind with a formatted message.
func because(kind error, format string, args ...any) error {
	return &reason{kind: kind, msg: fmt.Sprintf(format, args...)}
}
