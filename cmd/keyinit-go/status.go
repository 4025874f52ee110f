package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/cmd/keyinit-go/internal/keyring"
	"pam_keyinit_go/internal/keys"
)

const statusHelp = `Usage: keyinit-go status [--json]

Shows:
  - whether the kernel supports keyrings here (keyctl(2) is probed with an
    operation that does not exist, which touches no keyring: EOPNOTSUPP means
    yes; ENOSYS means no CONFIG_KEYS or a seccomp filter that says so; EPERM
    means a filter or security module denies keyctl);
  - the kernel.keys.* settings (quotas: maxkeys/maxbytes for users,
    root_maxkeys/root_maxbytes for root; gc_delay, how long revoked and
    expired keys stay before they are freed);
  - key use per uid from /proc/key-users, flagging uids at 80% of a quota or
    more (a full quota makes pam_keyinit fail with EDQUOT);
  - the session keyring of keyinit-go itself, i.e. of the caller, as a tree.
    Looking it up is what is asked here; if the caller has no session keyring
    of its own this shows (and notes) its user-session keyring _uid_ses.N.

Exit status: 0; 1 when keyctl does not work here; 2 bad usage.
`

// statusReport is what "status" prints; its JSON form is the --json output.
type statusReport struct {
	KeyringsSupported bool             `json:"keyrings_supported"`
	KeyctlError       string           `json:"keyctl_error,omitempty"`
	Sysctls           []keyring.Sysctl `json:"sysctls"`
	SysctlError       string           `json:"sysctl_error,omitempty"`
	KeyUsers          []keys.KeyUser   `json:"key_users"`
	KeyUsersError     string           `json:"key_users_error,omitempty"`
	NearQuota         []uint32         `json:"near_quota"` // uids at NearFull of a quota or more
	Session           *keyring.Key     `json:"session,omitempty"`
	SessionError      string           `json:"session_error,omitempty"`
	// UserSessionOnly: the caller had no session keyring of its own; Session
	// is its user-session keyring (_uid_ses.N), installed by looking it up.
	UserSessionOnly bool `json:"user_session_only"`
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", statusHelp, stderr)
	jsonOut := fs.Bool("json", false, "print a JSON report instead of text")
	pos, help, err := parseArgs(fs, args, stdout)
	switch {
	case help:
		return exitOK
	case err != nil:
		return usageError(stderr, "status", err)
	case len(pos) != 0:
		return usageError(stderr, "status", fmt.Errorf("takes no arguments, got %q", pos))
	}
	rep := collectStatus()
	if *jsonOut {
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		e.Encode(rep)
	} else {
		rep.writeText(stdout)
	}
	if !rep.KeyringsSupported {
		return exitFindings
	}
	return exitOK
}

func collectStatus() statusReport {
	rep := statusReport{Sysctls: []keyring.Sysctl{}, KeyUsers: []keys.KeyUser{}, NearQuota: []uint32{}}
	if err := keyring.Probe(); err != nil {
		rep.KeyctlError = err.Error()
		if e, ok := err.(unix.Errno); ok {
			rep.KeyctlError = unix.ErrnoName(e) + " (" + e.Error() + ")"
		}
	} else {
		rep.KeyringsSupported = true
	}
	if s, err := keyring.ReadSysctls("/proc/sys/kernel/keys"); err != nil {
		rep.SysctlError = err.Error()
	} else {
		rep.Sysctls = s
	}
	if b, err := os.ReadFile("/proc/key-users"); err != nil {
		rep.KeyUsersError = err.Error()
	} else if users, err := keys.ParseKeyUsers(b); err != nil {
		rep.KeyUsersError = err.Error()
	} else {
		for i := range users {
			users[i].Owner = userName(users[i].UID)
			if keyring.NearQuota(users[i]) {
				rep.NearQuota = append(rep.NearQuota, users[i].UID)
			}
		}
		rep.KeyUsers = users
	}
	if !rep.KeyringsSupported {
		return rep
	}
	k := keyring.Real{}
	serial, err := k.Resolve(keys.Session)
	if err != nil {
		rep.SessionError = err.Error()
		return rep
	}
	t := keyring.Tree(k, serial, keyring.MaxDepth, userName)
	rep.Session = &t
	if us, err := k.Resolve(keys.UserSession); err == nil && us == serial {
		rep.UserSessionOnly = true
	}
	return rep
}

func (r *statusReport) writeText(w io.Writer) {
	if r.KeyringsSupported {
		fmt.Fprintln(w, "kernel keyrings: supported")
	} else {
		fmt.Fprintf(w, "kernel keyrings: NOT usable here: keyctl fails with %s "+
			"(ENOSYS: kernel without CONFIG_KEYS or a seccomp filter; EPERM: denied by a filter or security module); "+
			"pam_keyinit_go lets sessions open without a keyring, pam_keyinit.so with force fails them\n", r.KeyctlError)
	}

	fmt.Fprintln(w, "\nsettings:")
	if r.SysctlError != "" {
		fmt.Fprintf(w, "  cannot read /proc/sys/kernel/keys: %s\n", r.SysctlError)
	}
	for _, s := range r.Sysctls {
		fmt.Fprintf(w, "  %s = %s\n", s.Name, s.Value)
	}

	fmt.Fprintln(w, "\nkey use per uid (/proc/key-users):")
	if r.KeyUsersError != "" {
		fmt.Fprintf(w, "  cannot read it: %s\n", r.KeyUsersError)
	}
	for _, u := range r.KeyUsers {
		who := fmt.Sprintf("uid %d", u.UID)
		if u.Owner != "" {
			who += " (" + u.Owner + ")"
		}
		mark := ""
		if keyring.NearQuota(u) {
			mark = "  <- near its quota: raise kernel.keys.maxkeys/maxbytes or lower gc_delay"
		}
		fmt.Fprintf(w, "  %-24s %d keys, quota %d/%d keys, %d/%d bytes%s\n",
			who, u.Keys, u.QuotaKeys, u.MaxKeys, u.QuotaBytes, u.MaxBytes, mark)
	}

	fmt.Fprintln(w, "\nsession keyring of the caller:")
	switch {
	case r.Session != nil:
		keyring.Render(w, *r.Session, "  ")
		if r.UserSessionOnly {
			fmt.Fprintln(w, "  note: the caller has no session keyring of its own; this is its user-session keyring,"+
				" which looking up @s installs (a login through pam_keyinit gets a \"_ses\" keyring instead)")
		}
	case r.SessionError != "":
		fmt.Fprintf(w, "  cannot look it up: %s\n", r.SessionError)
	default:
		fmt.Fprintln(w, "  none (no keyring support)")
	}
}
