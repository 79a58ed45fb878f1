//go:build !unix

package pgo

import (
	"os"
	"os/exec"
)

func ownGroup(cmd *exec.Cmd) {}

func terminate(cmd *exec.Cmd) error { return cmd.Process.Signal(os.Interrupt) }

func kill(cmd *exec.Cmd) error { return cmd.Process.Kill() }
