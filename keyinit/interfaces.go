package keyinit

// Keyrings is the part of keyctl(2) the module uses. Every call acts on the
// calling thread's credentials, so the caller must stay on one OS thread.
// Errors are syscall errnos (unix.Errno) so the policy can tell ENOSYS,
// EDQUOT, EPERM and EKEYREVOKED apart.
type Keyrings interface {
	// GetID resolves a special id without creating anything
	// (KEYCTL_GET_KEYRING_ID, create=0). Note that resolving @s in a thread
	// with no session keyring installs the user-session keyring.
	GetID(special int) (int, error)
	// JoinAnonymous replaces the thread's session keyring with a new
	// anonymous one named "_ses" (KEYCTL_JOIN_SESSION_KEYRING, name NULL),
	// owned by the real uid/gid, and returns its serial.
	JoinAnonymous() (int, error)
	// Link links key into keyring (KEYCTL_LINK).
	Link(key, keyring int) error
	// Unlink removes the link from keyring to key (KEYCTL_UNLINK).
	Unlink(key, keyring int) error
	// Revoke revokes a key (KEYCTL_REVOKE).
	Revoke(serial int) error
	// Owner returns the uid that owns a key (from KEYCTL_DESCRIBE).
	Owner(serial int) (uid uint32, err error)
	// QuotaUse describes uid's key quota use from /proc/key-users, for the
	// EDQUOT message; "" when unknown.
	QuotaUse(uid uint32) string
}

// IDs are a thread's real, effective and saved user and group ids.
type IDs struct {
	RUID, EUID, SUID uint32
	RGID, EGID, SGID uint32
}

// Keep, passed for an id to SetUIDs or SetGIDs, leaves that id unchanged
// ((uid_t)-1 in setresuid(2)).
const Keep = ^uint32(0)

// Creds reads and switches the calling thread's ids. Implementations must
// change only the calling thread (raw per-thread syscalls), never the whole
// process: a PAM host such as sshd or gdm has other threads.
type Creds interface {
	Get() IDs
	SetUIDs(r, e, s uint32) error // setresuid(2)
	SetGIDs(r, e, s uint32) error // setresgid(2)
}

// Host is what the module asks of libpam and of the system.
type Host interface {
	// User is pam_get_user: the target user name, or a PAM code.
	User() (string, Code)
	// LookupUser resolves a name through NSS (getpwnam), so LDAP and SSSD
	// users work. found is false for an unknown user.
	LookupUser(name string) (uid, gid uint32, found bool)
	// Log writes one line through pam_syslog.
	Log(p Priority, msg string)
}
