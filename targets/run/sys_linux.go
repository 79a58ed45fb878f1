package run

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// oNoFollow makes open(2) refuse a symlink as the last component.
const oNoFollow = syscall.O_NOFOLLOW

func mkfifo(path string, mode uint32) error { return syscall.Mkfifo(path, mode) }

// canJoinNetns reports whether this process may enter other network namespaces (setns(2)
// needs CAP_SYS_ADMIN: in practice, root).
func canJoinNetns() bool { return os.Geteuid() == 0 }

// dialInNetns connects to addr from inside the network namespace of process pid: a goroutine
// locks itself to a thread, moves that thread into the namespace, and creates the socket
// there. The socket stays in that namespace for its life; the thread is never unlocked, so the Go
// runtime discards it when the goroutine ends instead of reusing a thread in a foreign namespace.
func dialInNetns(ctx context.Context, pid int, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			ch <- result{err: fmt.Errorf("open the container's network namespace: %w", err)}
			return
		}
		err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		ns.Close()
		if err != nil {
			ch <- result{err: fmt.Errorf("join the network namespace of container process %d: %w", pid, err)}
			return
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp4", addr)
		ch <- result{conn, err}
	}()
	r := <-ch
	return r.conn, r.err
}

// setxattr sets an extended attribute on a file (no symlink following needed: called on files
// and directories only).
func setxattr(path, name string, value []byte) error {
	return syscall.Setxattr(path, name, value, 0)
}

// nofileLimit is this process's hard limit of open files (Go raises the soft limit to it).
func nofileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Max == 0 {
		return 1024
	}
	return r.Max
}
