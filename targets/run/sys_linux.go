package run

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// nofileLimit is this process's hard limit of open files (Go raises the soft limit to it).
func nofileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Max == 0 {
		return 1024
	}
	return r.Max
}

// bootAndPidNamespace returns this boot's id and this process's pid namespace
// ("pid:[4026531836]").
func bootAndPidNamespace() (boot, pidns string, err error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", "", err
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return "", "", err
	}
	return strings.TrimSpace(string(b)), ns, nil
}

// processExists reports whether pid names a process of this pid namespace, whoever owns it
// (kill(2) with signal 0 says ESRCH only when there is none; hidepid does not hide it).
func processExists(pid int) bool {
	return unix.Kill(pid, 0) != unix.ESRCH
}

// processStart returns when process pid started, in clock ticks since boot: field 22 of
// /proc/<pid>/stat, counted after the command name, which may itself hold spaces and parentheses.
func processStart(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); the start time is field 22.
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields, want at least 22", pid, len(f)+2)
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: start time %q: %w", pid, f[19], err)
	}
	return n, nil
}
