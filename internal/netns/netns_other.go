//go:build !linux

// Package netns dials into the network namespace of another process (Linux only).
package netns

import (
	"context"
	"errors"
	"net"
)

// Dial needs Linux.
func Dial(context.Context, int, string) (net.Conn, error) {
	return nil, errors.New("joining another process's network namespace needs Linux")
}

// Listen needs Linux.
func Listen(int, string) (net.Listener, error) {
	return nil, errors.New("joining another process's network namespace needs Linux")
}
