// Package netns dials into the network namespace of another process: a container's (smoke's
// http probe under runc) or a test service's kept off the host's interfaces.
package netns

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Dial connects to addr (tcp4) from inside the network namespace of process pid (see inside).
// It needs CAP_SYS_ADMIN (root).
func Dial(ctx context.Context, pid int, addr string) (net.Conn, error) {
	return inside(pid, func() (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp4", addr)
	})
}

// Listen listens on addr (tcp4) inside the network namespace of process pid, as Dial connects:
// the listening socket belongs to that namespace for its life, wherever it is served from, so
// a process confined there reaches a server the caller runs. It needs CAP_SYS_ADMIN (root).
func Listen(pid int, addr string) (net.Listener, error) {
	return inside(pid, func() (net.Listener, error) { return net.Listen("tcp4", addr) })
}

// inside makes a socket with open in the network namespace of process pid: a goroutine locks
// itself to a thread, moves that thread into the namespace, and calls open there. The socket
// stays in that namespace for its life; the thread is never unlocked, so the Go runtime
// discards it when the goroutine ends instead of reusing a thread in a foreign namespace.
func inside[T any](pid int, open func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var zero T
		ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			ch <- result{zero, fmt.Errorf("open the network namespace of process %d: %w", pid, err)}
			return
		}
		err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		ns.Close()
		if err != nil {
			ch <- result{zero, fmt.Errorf("join the network namespace of process %d: %w", pid, err)}
			return
		}
		v, err := open()
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}
