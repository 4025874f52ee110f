package keyinit

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
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

// Owner reads "type;uid;gid;perm;description" with KEYCTL_DESCRIBE into a
// stack buffer and parses it in place: it runs at every open, and nothing
// of it may reach the heap (the error paths copy what they quote).
func (Kernel) Owner(serial int) (uint32, error) {
	var buf [256]byte
	n, err := unix.KeyctlBuffer(unix.KEYCTL_DESCRIBE, serial, buf[:], 0)
	if err != nil {
		return 0, err
	}
	if n > len(buf) {
		n = len(buf)
	}
	desc := bytes.TrimRight(buf[:n], "\x00")
	_, rest, _ := bytes.Cut(desc, []byte(";"))
	field, _, found := bytes.Cut(rest, []byte(";"))
	if !found {
		return 0, errors.New("unexpected key description " + strconv.Quote(string(desc)))
	}
	uid, err := strconv.ParseUint(string(field), 10, 32)
	if err != nil {
		return 0, errors.New("unexpected key description " + strconv.Quote(string(desc)))
	}
	return uint32(uid), nil
}

// QuotaUse reads uid's line of /proc/key-users:
// "  uid:  usage nkeys/nikeys qnkeys/maxkeys qnbytes/maxbytes".
//
// It reads with raw system calls, not package os: the first os.Open in a
// process starts the Go runtime's network poller, which keeps an epoll and
// an eventfd descriptor open in the host process for good.
func (Kernel) QuotaUse(uid uint32) string {
	fd, err := unix.Open("/proc/key-users", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	var data []byte
	buf := make([]byte, 4096)
	for len(data) < 1<<20 {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			break
		}
		data = append(data, buf[:n]...)
	}
	prefix := strconv.FormatUint(uint64(uid), 10) + ":"
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 5 && fields[0] == prefix {
			return "uses " + fields[3] + " keys and " + fields[4] + " bytes"
		}
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
