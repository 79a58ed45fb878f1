package imagefs

import "syscall"

// oNoFollow makes open(2) refuse a symlink as the last component.
const oNoFollow = syscall.O_NOFOLLOW

func mkfifo(path string, mode uint32) error { return syscall.Mkfifo(path, mode) }

// setxattr sets an extended attribute on a file (no symlink following needed: called on files
// and directories only).
func setxattr(path, name string, value []byte) error {
	return syscall.Setxattr(path, name, value, 0)
}
