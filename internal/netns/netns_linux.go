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

// Dial connects to addr (tcp4) from inside the network namespace of process pid: a goroutine
// locks itself to a thread, moves that thread into the namespace, and creates the socket there.
// The socket stays in that namespace for its life; the thread is never unlocked, so the Go
// runtime discards it when the goroutine ends instead of reusing a thread in a foreign
// namespace. It needs CAP_SYS_ADMIN (root).
func Dial(ctx context.Context, pid int, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			ch <- result{err: fmt.Errorf("open the network namespace of process %d: %w", pid, err)}
			return
		}
		err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		ns.Close()
		if err != nil {
			ch <- result{err: fmt.Errorf("join the network namespace of process %d: %w", pid, err)}
			return
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp4", addr)
		ch <- result{conn, err}
	}()
	r := <-ch
	return r.conn, r.err
}

// Listen listens on addr (tcp4) inside the network namespace of process pid, as Dial connects:
// the listening socket belongs to that namespace for its life, wherever it is served from, so
// a process confined there reaches a server the caller runs. It needs CAP_SYS_ADMIN (root).
func Listen(pid int, addr string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			ch <- result{err: fmt.Errorf("open the network namespace of process %d: %w", pid, err)}
			return
		}
		err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		ns.Close()
		if err != nil {
			ch <- result{err: fmt.Errorf("join the network namespace of process %d: %w", pid, err)}
			return
		}
		l, err := net.Listen("tcp4", addr)
		ch <- result{l, err}
	}()
	r := <-ch
	return r.l, r.err
}
