package keyring

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Real is the running kernel, seen from the calling thread.
type Real struct{}

var _ Kernel = Real{}

func (Real) Resolve(special int) (int, error) { return unix.KeyctlGetKeyringID(special, false) }

func (Real) Describe(serial int) (string, error) {
	return unix.KeyctlString(unix.KEYCTL_DESCRIBE, serial)
}

func (Real) Read(serial int) ([]int, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, serial, buf, 0)
		if err != nil {
			return nil, err
		}
		if n > len(buf) { // the keyring grew or was bigger: read again
			buf = make([]byte, n)
			continue
		}
		var out []int
		for i := 0; i+4 <= n; i += 4 {
			out = append(out, int(int32(binary.NativeEndian.Uint32(buf[i:]))))
		}
		return out, nil
	}
}

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
