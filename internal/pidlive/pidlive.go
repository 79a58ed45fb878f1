// Package pidlive tells whether a process still exists, so that what a killed process left
// (temporary files, status directories named for its PID) can be swept by the next one. It
// imports only the standard library: the thin mage targets use it too.
package pidlive

// Alive reports whether a process with pid exists (it may belong to another user). Where that
// cannot be known, it says true: nothing of a live process is ever swept.
func Alive(pid int) bool { return alive(pid) }
