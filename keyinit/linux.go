package keyinit

import (
	"bytes"
	"errors"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/internal/keys"
)

// Kernel is the real Keyrings, calling keyctl(2) on the calling thread.
type Kernel struct{}

// ThreadCreds is the real Creds. It uses raw setresuid/setresgid system
// calls, which change only the calling thread. unix.Setresuid and
// syscall.Setresuid must not be used here: in a cgo build they go through
// glibc, which applies the change to every thread of the host process.
type ThreadCreds struct{}

var (
	_ Keyrings = Kernel{}
	_ Creds    = ThreadCreds{}
)

func (Kernel) GetID(special int) (int, error) {
	return unix.KeyctlGetKeyringID(special, false)
}

func (Kernel) JoinAnonymous() (int, error) {
	// A NULL name makes an anonymous "_ses" keyring. unix.KeyctlJoinSessionKeyring("")
	// would pass a pointer to "" and join a keyring *named* "".
	r, _, errno := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(int32(r)), nil
}

func (Kernel) Link(key, keyring int) error {
	_, err := unix.KeyctlInt(unix.KEYCTL_LINK, key, keyring, 0, 0)
	return err
}

func (Kernel) Unlink(key, keyring int) error {
	_, err := unix.KeyctlInt(unix.KEYCTL_UNLINK, key, keyring, 0, 0)
	return err
}

func (Kernel) Revoke(serial int) error {
	_, err := unix.KeyctlInt(unix.KEYCTL_REVOKE, serial, 0, 0, 0)
	return err
}

// Owner reads the key's description with KEYCTL_DESCRIBE into a stack
// buffer and parses it in place: it runs at every open, and nothing of it
// may reach the heap (the error paths copy what they quote). The buffer
// holds the longest description the kernel allows (4095 bytes and the
// fields before it): a buffer too short gets nothing at all.
func (Kernel) Owner(serial int) (uint32, error) {
	var buf [4096 + 128]byte
	n, err := unix.KeyctlBuffer(unix.KEYCTL_DESCRIBE, serial, buf[:], 0)
	if err != nil {
		return 0, err
	}
	n = min(n, len(buf))
	uid, err := keys.ParseOwner(buf[:n])
	if err != nil {
		return 0, errors.New("unexpected key description " + strconv.Quote(string(bytes.TrimRight(buf[:n], "\x00"))))
	}
	return uid, nil
}

// QuotaUse is uid's use of its key quota, "uses N/MAX keys and B/MAX
// bytes", from /proc/key-users.
func (Kernel) QuotaUse(uid uint32) string {
	if u, found := keys.UserOf(uid); found {
		return "uses " + u.Quota()
	}
	return ""
}

func (ThreadCreds) Get() IDs {
	var ids IDs
	// getresuid/getresgid cannot fail with valid pointers.
	unix.RawSyscall(sysGetresuid, uintptr(unsafe.Pointer(&ids.RUID)),
		uintptr(unsafe.Pointer(&ids.EUID)), uintptr(unsafe.Pointer(&ids.SUID)))
	unix.RawSyscall(sysGetresgid, uintptr(unsafe.Pointer(&ids.RGID)),
		uintptr(unsafe.Pointer(&ids.EGID)), uintptr(unsafe.Pointer(&ids.SGID)))
	return ids
}

func (ThreadCreds) SetUIDs(r, e, s uint32) error {
	return rawSet(sysSetresuid, r, e, s)
}

func (ThreadCreds) SetGIDs(r, e, s uint32) error {
	return rawSet(sysSetresgid, r, e, s)
}

func rawSet(trap uintptr, r, e, s uint32) error {
	// uintptr(uint32) keeps Keep as (uid_t)-1 for the kernel.
	_, _, errno := unix.RawSyscall(trap, uintptr(r), uintptr(e), uintptr(s))
	if errno != 0 {
		return errno
	}
	return nil
}
