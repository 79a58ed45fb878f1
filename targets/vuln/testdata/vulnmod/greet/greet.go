// Package greet is a dependency for the vulnerability scan tests: the test database marks its
// functions vulnerable.
package greet

import "strings"

// Hello is called by the test program (and inlined into it).
func Hello(name string) string { return "hello " + name }

// Unused is not called by the test program, so the linker leaves it out.
func Unused(name string) string { return strings.Repeat(name, 3) }

// Greeter greets.
type Greeter struct{ Prefix string }

// Greet is a method the test program calls.
//
//go:noinline
func (g *Greeter) Greet(name string) string { return g.Prefix + name }
