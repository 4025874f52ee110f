package keyinit

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// State is what one PAM handle remembers between hooks. The bridge keeps it in
// C memory attached to the handle (pam_set_data), not in process globals, so
// that concurrent handles on other threads never share it and a child forked
// after open (systemd's "(sd-pam)") can still revoke without entering Go.
type State struct {
	Serial int32  // the session keyring this handle made; 0 if none
	UID    uint32 // its owner, to revoke as
	GID    uint32
	Opens  int32 // open_session calls minus close_session calls
	Revoke bool  // a "revoke" option was seen by a call that could make a keyring
}

// Module is the policy of pam_keyinit, bound to its kernel, credential and
// PAM operations. Its methods must run on one locked OS thread: the thread
// whose credentials get the new session keyring.
type Module struct {
	Keys  Keyrings
	Creds Creds
	Host  Host
}

// OpenSession is pam_sm_open_session.
func (m Module) OpenSession(st *State, args []string) Code {
	o := m.options(args)
	st.Opens++
	m.debugf(o, "OPEN %d", st.Opens)
	return m.initKeyring(st, o, SessionErr)
}

// CloseSession is pam_sm_close_session. Like pam_keyinit.so it always
// succeeds; it revokes when the last open session of this handle closes.
func (m Module) CloseSession(st *State, args []string) Code {
	o := m.options(args)
	m.debugf(o, "CLOSE %d,%d,%t", st.Opens, st.Serial, st.Revoke)
	st.Opens--
	if st.Opens <= 0 && st.Serial > 0 && st.Revoke {
		m.revoke(st, o, SessionErr)
	}
	return Success
}

// Setcred is pam_sm_setcred: ESTABLISH makes the keyring as open does (for
// hosts that call setcred before open), DELETE revokes it; the session
// counter is left alone.
func (m Module) Setcred(st *State, flags int, args []string) Code {
	o := m.options(args)
	switch {
	case flags&FlagEstablishCred != 0:
		m.debugf(o, "ESTABLISH_CRED")
		return m.initKeyring(st, o, CredErr)
	case flags&FlagDeleteCred != 0 && st.Serial > 0 && st.Revoke:
		m.debugf(o, "DELETE_CRED")
		return m.revoke(st, o, CredErr)
	}
	return Ignore
}

func (m Module) options(args []string) Options {
	o := ParseOptions(args)
	if msg := o.UnknownMessage(); msg != "" {
		m.Host.Log(LogErr, msg)
	}
	return o
}

// initKeyring gives the calling thread a new session keyring owned by the
// target user, unless this handle already made one or (without force) the
// thread already has a session keyring of its own. fail is the code for
// errors: PAM_SESSION_ERR from open, PAM_CRED_ERR from setcred.
func (m Module) initKeyring(st *State, o Options, fail Code) (code Code) {
	if o.Revoke {
		st.Revoke = true
	}
	if st.Serial > 0 {
		return Success // made by an earlier hook of this handle
	}

	name, rc := m.Host.User()
	if rc != Success {
		return rc
	}
	uid, gid, found := m.Host.LookupUser(name)
	if !found {
		m.Host.Log(LogNotice, fmt.Sprintf("Unable to look up user %q", name))
		return UserUnknown
	}

	// The kernel makes the keyring owned by the thread's *real* uid/gid and
	// resolves @u and @us from the real uid, so switch those (euid stays
	// root) and restore all six ids exactly on every way out, panics included.
	saved := m.Creds.Get()
	m.debugf(o, "UID:%d [%d]  GID:%d [%d]", uid, saved.RUID, gid, saved.RGID)
	if gid != saved.RGID {
		if err := m.Creds.SetGIDs(gid, Keep, Keep); err != nil {
			m.Host.Log(LogErr, fmt.Sprintf("Unable to change GID to %d temporarily: %v", gid, err))
			return fail
		}
		defer func() {
			if err := m.Creds.SetGIDs(saved.RGID, saved.EGID, saved.SGID); err != nil {
				m.Host.Log(LogErr, fmt.Sprintf("Unable to change GID back to %d: %v", saved.RGID, err))
				code = fail
			}
		}()
	}
	if uid != saved.RUID {
		if err := m.Creds.SetUIDs(uid, Keep, Keep); err != nil {
			m.Host.Log(LogErr, fmt.Sprintf("Unable to change UID to %d temporarily: %v", uid, err))
			return fail
		}
		defer func() {
			if err := m.Creds.SetUIDs(saved.RUID, saved.EUID, saved.SUID); err != nil {
				m.Host.Log(LogErr, fmt.Sprintf("Unable to change UID back to %d: %v", saved.RUID, err))
				code = fail
			}
		}()
	}
	return m.joinKeyring(st, o, uid, gid, fail)
}

// joinKeyring runs with the real ids switched to the target user's.
func (m Module) joinKeyring(st *State, o Options, uid, gid uint32, fail Code) Code {
	if !o.Force {
		session, err := m.Keys.GetID(SpecSessionKeyring)
		m.debugf(o, "GET SESSION = %d (%v)", session, errOrNil(err))
		switch {
		case errors.Is(err, unix.ENOSYS):
			m.noKeyrings()
			return Success
		case errors.Is(err, unix.EKEYREVOKED):
			// The thread still holds a keyring revoked by an earlier close
			// (pam_keyinit.so fails here): it is no session keyring at all.
		case err != nil:
			return m.keyctlFailed("get the session keyring", uid, err, fail)
		default:
			usession, err := m.Keys.GetID(SpecUserSessionKeyring)
			m.debugf(o, "GET USER SESSION = %d (%v)", usession, errOrNil(err))
			if err != nil {
				return m.keyctlFailed("get the user-session keyring", uid, err, fail)
			}
			if session != usession {
				return Success // the thread already has a session keyring of its own
			}
		}
	}

	serial, err := m.Keys.JoinAnonymous()
	m.debugf(o, "JOIN = %d (%v)", serial, errOrNil(err))
	if errors.Is(err, unix.ENOSYS) {
		m.noKeyrings() // pam_keyinit.so fails here under force
		return Success
	}
	if err != nil {
		return m.keyctlFailed("join a new session keyring", uid, err, fail)
	}
	st.Serial, st.UID, st.GID = int32(serial), uid, gid

	if err := m.Keys.Link(SpecUserKeyring, SpecSessionKeyring); err != nil {
		return m.keyctlFailed("link the user keyring into the session keyring", uid, err, fail)
	}
	// Never leave another user's keyring linked into this session: @u is
	// resolved from the real uid, so a failed or skipped switch would show
	// here.
	owner, err := m.Keys.Owner(SpecUserKeyring)
	if err != nil || owner != uid {
		m.Keys.Unlink(SpecUserKeyring, SpecSessionKeyring)
		if err != nil {
			return m.keyctlFailed("check the owner of the user keyring", uid, err, fail)
		}
		m.Host.Log(LogErr, fmt.Sprintf("the user keyring linked for uid %d belongs to uid %d: unlinked it; "+
			"check that nothing else changes this thread's ids during the session hooks", uid, owner))
		return fail
	}
	return Success
}

// revoke revokes the keyring this handle made, acting as its owner; root
// stays the saved uid so the switch back cannot fail for lack of privilege.
func (m Module) revoke(st *State, o Options, fail Code) (code Code) {
	serial := st.Serial
	saved := m.Creds.Get()
	m.debugf(o, "REVOKE %d as UID:%d [%d]  GID:%d [%d]", serial, st.UID, saved.EUID, st.GID, saved.EGID)

	if st.GID != saved.EGID {
		if err := m.Creds.SetGIDs(Keep, st.GID, Keep); err != nil {
			m.Host.Log(LogErr, fmt.Sprintf("Unable to change GID to %d temporarily: %v", st.GID, err))
			return fail
		}
		defer func() {
			if err := m.Creds.SetGIDs(saved.RGID, saved.EGID, saved.SGID); err != nil {
				m.Host.Log(LogErr, fmt.Sprintf("Unable to change GID back to %d: %v", saved.EGID, err))
				code = fail
			}
		}()
	}
	if st.UID != saved.EUID {
		if err := m.Creds.SetUIDs(Keep, st.UID, saved.EUID); err != nil {
			m.Host.Log(LogErr, fmt.Sprintf("Unable to change UID to %d temporarily: %v", st.UID, err))
			return fail
		}
		defer func() {
			if err := m.Creds.SetUIDs(saved.RUID, saved.EUID, saved.SUID); err != nil {
				m.Host.Log(LogErr, fmt.Sprintf("Unable to change UID back to %d: %v", saved.EUID, err))
				code = fail
			}
		}()
	}

	st.Serial = 0
	err := m.Keys.Revoke(int(serial))
	switch {
	case err == nil:
		return Success
	case errors.Is(err, unix.EKEYREVOKED), errors.Is(err, unix.ENOKEY):
		// Revoked or destroyed by someone else already: nothing is left to do.
		m.debugf(o, "REVOKE %d: already gone (%v)", serial, err)
		return Success
	default:
		return m.keyctlFailed("revoke the session keyring", st.UID, err, fail)
	}
}

func (m Module) debugf(o Options, format string, args ...any) {
	if o.Debug {
		m.Host.Log(LogDebug, fmt.Sprintf(format, args...))
	}
}

func (m Module) noKeyrings() {
	m.Host.Log(LogNotice, "the kernel has no keyring support here (keyctl: ENOSYS; "+
		"a kernel without CONFIG_KEYS or a seccomp policy that blocks keyctl): session continues without a session keyring")
}

// keyctlFailed logs one line that says what failed and what to do, and
// returns fail.
func (m Module) keyctlFailed(what string, uid uint32, err error, fail Code) Code {
	var hint string
	switch {
	case errors.Is(err, unix.EDQUOT):
		hint = fmt.Sprintf("the key quota of uid %d is full", uid)
		if use := m.Keys.QuotaUse(uid); use != "" {
			hint += " (" + use + ")"
		}
		hint += ": raise kernel.keys.maxkeys / kernel.keys.maxbytes, or lower kernel.keys.gc_delay so revoked keyrings are freed sooner"
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		hint = "keyctl was denied, likely by a seccomp filter or a security module: allow keyctl(2) for this service, or remove pam_keyinit_go from its stack"
	default:
		hint = "see keyctl(2)"
	}
	m.Host.Log(LogErr, fmt.Sprintf("Unable to %s for uid %d: %v; %s", what, uid, err, hint))
	return fail
}

func errOrNil(err error) any {
	if err == nil {
		return "ok"
	}
	return err
}
