package pidlive

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

func TestAlive(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Error("this process is not alive")
	}
	if runtime.GOOS == "windows" {
		t.Skip("no liveness check on windows")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true command:", err)
	}
	if Alive(cmd.Process.Pid) {
		t.Errorf("pid %d, exited and reaped, is alive", cmd.Process.Pid)
	}
}
