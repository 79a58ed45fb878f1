// Package benchlib is a tiny library with benchmarks, for the check's test of a library's
// workload (go test -bench).
package benchlib

// Sum adds the bytes of s through an interface, a call PGO can devirtualize.
func Sum(s []byte, a Adder) int {
	n := 0
	for _, c := range s {
		n = a.Add(n, int(c))
	}
	return n
}

// Adder adds.
type Adder interface{ Add(a, b int) int }

// Plain is the usual Adder.
type Plain struct{}

// Add returns a+b.
func (Plain) Add(a, b int) int { return a + b }
