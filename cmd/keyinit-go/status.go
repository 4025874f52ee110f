package main

import (
	"fmt"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/cmd/keyinit-go/internal/keyring"
	"pam_keyinit_go/internal/keys"
)

// runStatus is "keyinit-go status"; usage.go has its help, status_report.go
// what it prints.
func runStatus(c *cmdline, args []string) int {
	jsonOut := c.jsonFlag()
	if _, code, ok := c.parse(args, noArgs); !ok {
		return code
	}
	rep := collectStatus()
	printReport(c.stdout, *jsonOut, &rep)
	if !rep.KeyringsSupported {
		return exitFindings
	}
	return exitOK
}

func noArgs(pos []string) error {
	if len(pos) != 0 {
		return fmt.Errorf("takes no arguments, got %q", pos)
	}
	return nil
}

func collectStatus() statusReport {
	rep := statusReport{NearQuota: []quotaUse{}}
	if err := keyring.Probe(); err != nil {
		rep.KeyctlError = err.Error()
		if e, ok := err.(unix.Errno); ok {
			rep.KeyctlError = unix.ErrnoName(e) + " (" + e.Error() + ")"
			rep.keyctlErrno = e
		}
	} else {
		rep.KeyringsSupported = true
	}
	if users, err := keys.ReadKeyUsers(); err != nil {
		rep.KeyUsersError = err.Error()
	} else {
		for _, u := range users {
			if raise := keyring.NearQuota(u); raise != nil {
				u.Owner = userName(u.UID)
				rep.NearQuota = append(rep.NearQuota, quotaUse{u, raise})
			}
		}
	}
	if !rep.KeyringsSupported {
		return rep
	}
	s, err := callerSession()
	if err != nil {
		rep.SessionError = err.Error()
	} else {
		rep.Session = &s
	}
	return rep
}

// callerSession describes @s of this thread, that is of the caller: the
// thread is locked (main.go) and looking up installs no other keyring than
// the user-session keyring the kernel would give the caller anyway.
func callerSession() (sessionKeyring, error) {
	k := keyring.Real{}
	serial, err := k.Resolve(keys.Session)
	if err != nil {
		return sessionKeyring{}, err
	}
	d, err := keys.Describe(serial)
	if err != nil {
		return sessionKeyring{}, err
	}
	s := sessionKeyring{Serial: serial, Name: d.Name, UID: d.UID, Owner: userName(d.UID)}
	if us, err := k.Resolve(keys.UserSession); err == nil && us == serial {
		s.UserSessionOnly = true
	}
	return s, nil
}
