//go:build !linux

package imagefs

import "errors"

const oNoFollow = 0

func mkfifo(string, uint32) error { return errors.New("fifos are only made on Linux") }

func setxattr(string, string, []byte) error {
	return errors.New("extended attributes are only written on Linux")
}
