//go:build !linux

package run

import (
	"errors"
)

func nofileLimit() uint64 { return 1024 }

func bootAndPidNamespace() (string, string, error) {
	return "", "", errors.New("pid namespaces are a Linux thing")
}

func processExists(int) bool { return true }

func processStart(int) (uint64, error) {
	return 0, errors.New("process start times are read from Linux's /proc")
}
