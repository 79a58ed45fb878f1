//go:build unix

package pgo

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in its own process group so that stopping it reaches its children too
// (a shell script that starts the service, a load tool that forks).
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// terminate sends SIGTERM to cmd's process group.
func terminate(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }

// kill sends SIGKILL to cmd's process group.
func kill(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
