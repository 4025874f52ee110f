//go:build !386 && !arm

package keyinit

import "golang.org/x/sys/unix"

// The 32-bit-id set*id system calls.
const (
	sysSetresuid = unix.SYS_SETRESUID
	sysSetresgid = unix.SYS_SETRESGID
	sysGetresuid = unix.SYS_GETRESUID
	sysGetresgid = unix.SYS_GETRESGID
)
