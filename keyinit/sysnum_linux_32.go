//go:build 386 || arm

package keyinit

import "golang.org/x/sys/unix"

// On 386 and arm the plain set*id calls take 16-bit ids; the *32 ones do not.
const (
	sysSetresuid = unix.SYS_SETRESUID32
	sysSetresgid = unix.SYS_SETRESGID32
	sysGetresuid = unix.SYS_GETRESUID32
	sysGetresgid = unix.SYS_GETRESGID32
)
