package main

import (
	"fmt"
	"io"
	"strings"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/cmd/keyinit-go/internal/keyring"
	"pam_keyinit_go/internal/keys"
)

// statusReport is what "status" prints; its JSON form is the --json output.
// It holds only what keyctl show, /proc/key-users and sysctl kernel.keys
// do not say by themselves.
type statusReport struct {
	KeyringsSupported bool            `json:"keyrings_supported"`
	KeyctlError       string          `json:"keyctl_error,omitempty"` // "ENOSYS (function not implemented)"
	keyctlErrno       unix.Errno      // the error behind KeyctlError, for the advice
	NearQuota         []quotaUse      `json:"near_quota"` // uids at keyring.NearFull of a quota or more
	KeyUsersError     string          `json:"key_users_error,omitempty"`
	Session           *sessionKeyring `json:"session,omitempty"`
	SessionError      string          `json:"session_error,omitempty"`
}

// quotaUse is a uid near a quota, and the sysctls to raise.
type quotaUse struct {
	keys.KeyUser
	Raise []string `json:"raise"`
}

// sessionKeyring is the caller's @s.
type sessionKeyring struct {
	Serial int    `json:"serial"`
	Name   string `json:"name"`
	UID    uint32 `json:"uid"`
	Owner  string `json:"owner,omitempty"`
	// UserSessionOnly: the caller has no session keyring of its own; @s is
	// its user-session keyring (_uid_ses.N), there or installed by looking.
	UserSessionOnly bool `json:"user_session_only"`
}

func (r *statusReport) writeText(w io.Writer) {
	if r.KeyringsSupported {
		fmt.Fprintln(w, "keyctl: works")
	} else {
		fmt.Fprintf(w, "keyctl: does NOT work here: %s; %s\n", r.KeyctlError, keyctlAdvice(r.keyctlErrno))
	}

	switch {
	case r.KeyUsersError != "":
		fmt.Fprintf(w, "key quotas: cannot read %s: %s\n", keys.KeyUsersFile, r.KeyUsersError)
	case len(r.NearQuota) == 0:
		fmt.Fprintf(w, "key quotas: no uid at %.0f%% or more of its keys or bytes\n", keyring.NearFull*100)
	default:
		fmt.Fprintf(w, "key quotas: uids at %.0f%% or more (a full quota makes pam_keyinit fail with EDQUOT; "+
			"revoked keys count until kernel.keys.gc_delay has passed):\n", keyring.NearFull*100)
		for _, u := range r.NearQuota {
			fmt.Fprintf(w, "  %s: %s; raise %s\n", who(u.UID, u.Owner), u.Quota(), strings.Join(u.Raise, " and "))
		}
	}

	switch s := r.Session; {
	case s != nil:
		fmt.Fprintf(w, "session keyring of the caller: %s (serial %d, %s)\n  %s\n", keyring.Escape(s.Name), s.Serial, who(s.UID, s.Owner), s.meaning())
	case r.SessionError != "":
		fmt.Fprintf(w, "session keyring of the caller: cannot look it up: %s\n", r.SessionError)
	default:
		fmt.Fprintln(w, "session keyring of the caller: not looked up (keyctl does not work)")
	}
}

// keyctlAdvice is what to do when keyctl fails with e.
func keyctlAdvice(e unix.Errno) string {
	switch e {
	case unix.ENOSYS:
		return "the kernel lacks CONFIG_KEYS, or a seccomp filter (a container's) says so: boot a kernel with " +
			"CONFIG_KEYS=y or allow keyctl in the filter; until then pam_keyinit_go lets sessions open without " +
			"a keyring and pam_keyinit.so with force fails them"
	case unix.EPERM, unix.EACCES:
		return "a seccomp filter or a security module (SELinux, AppArmor) denies keyctl: allow it there, " +
			"or sessions fail to get a keyring"
	}
	return "keyctl(2) does not list this error for an unknown operation: look at what filters system calls here"
}

// meaning is what the caller's session keyring means for a session a
// PAM service opens from here with pam_keyinit and no "force".
func (s *sessionKeyring) meaning() string {
	if s.UserSessionOnly {
		return fmt.Sprintf("only the user-session keyring (or none, which looking up installs): a session "+
			"opened from here for uid %d gets a new session keyring from pam_keyinit even without force; "+
			"for another user pam_keyinit.so keeps this one if the caller's processes inherit it, "+
			"pam_keyinit_go.so replaces it", s.UID)
	}
	return fmt.Sprintf("a session keyring of its own: without force pam_keyinit.so keeps it for a session "+
		"opened from here whoever logs in, pam_keyinit_go.so only for uid %d or root; with force every session "+
		"gets a new one", s.UID)
}

// who is "uid N (name)", or "uid N" for a uid without a name.
func who(uid uint32, name string) string {
	if name == "" {
		return fmt.Sprintf("uid %d", uid)
	}
	return fmt.Sprintf("uid %d (%s)", uid, keyring.Escape(name))
}
