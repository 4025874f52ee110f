package keyring

import (
	"golang.org/x/sys/unix"

	"pam_keyinit_go/internal/keys"
)

// Real is the running kernel, seen from the calling thread.
type Real struct{}

var _ Kernel = Real{}

func (Real) Resolve(special int) (int, error) { return unix.KeyctlGetKeyringID(special, false) }

func (Real) Describe(serial int) (string, error) {
	return unix.KeyctlString(unix.KEYCTL_DESCRIBE, serial)
}

func (Real) Read(serial int) ([]int, error) { return keys.Links(serial) }

// Probe says whether keyctl(2) works here, without touching any keyring:
// it asks for an operation that does not exist. A kernel with keys answers
// EOPNOTSUPP; ENOSYS means no keyring support (or a seccomp filter that
// pretends so); EPERM/EACCES mean a filter or security module denies it.
func Probe() error {
	_, _, errno := unix.Syscall(unix.SYS_KEYCTL, 0x7fffffff, 0, 0)
	if errno == unix.EOPNOTSUPP || errno == 0 {
		return nil
	}
	return errno
}
