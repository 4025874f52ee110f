package keyinit

import (
	"errors"
	"strconv"

	"pam_keyinit_go/internal/keys"

	"golang.org/x/sys/unix"
)

// State is what one PAM handle remembers between hooks. It lives in C memory
// attached to the handle (pam_set_data), not in process globals, so that
// concurrent handles on other threads never share it and a child forked
// after open (systemd's "(sd-pam)") can still revoke without entering Go.
//
// Go makes the keyring and records it here; the C front (../pam/front)
// counts the sessions and revokes it (it needs no id switch, so it needs no
// Go), in the process that opened it and in forked children alike.
type State struct {
	Serial int32  // the session keyring this handle made; 0 if none
	UID    uint32 // its owner, for log lines
	GID    uint32
	Opens  int32 // open_session calls minus close_session calls (kept by C)
	Revoke bool  // a "revoke" option was seen by a call that could make a keyring
	Debug  bool  // "debug" was given to the last call that could make a keyring
	// Settled: a hook of this handle succeeded, having made the keyring or
	// found that none was needed (one of the user's own kept, no keyring
	// support). A child forked afterwards (sshd's post-auth child) then
	// answers setcred(ESTABLISH) with success from C, as pam_keyinit.so
	// would after deciding the same again.
	Settled bool
}

// Module is the policy of pam_keyinit, bound to its kernel, credential and
// PAM operations. Its methods must run on one locked OS thread: the thread
// whose credentials get the new session keyring.
type Module struct {
	Keys  Keyrings
	Creds Creds
	Host  Host
}

// Hook says which PAM hook asks for the keyring: it decides the error code
// and the debug line.
type Hook int

const (
	HookOpenSession   Hook = iota // pam_sm_open_session: errors are PAM_SESSION_ERR
	HookEstablishCred             // pam_sm_setcred(PAM_ESTABLISH_CRED): errors are PAM_CRED_ERR
)

// Init makes the session keyring for pam_sm_open_session (after C counted
// the open) or pam_sm_setcred(PAM_ESTABLISH_CRED), the two hooks of
// pam_keyinit that can make one.
func (m Module) Init(st *State, hook Hook, args []string) Code {
	o := m.options(args)
	st.Debug = o.Debug
	fail := SessionErr
	if hook == HookEstablishCred {
		fail = CredErr
	}
	if o.Debug {
		if hook == HookEstablishCred {
			m.debug("ESTABLISH_CRED")
		} else {
			m.debug("OPEN " + itoa(st.Opens))
		}
	}
	code := m.initKeyring(st, o, fail)
	if code == Success {
		st.Settled = true
	}
	return code
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
		m.Host.Log(LogErr, "Unable to get the user name: pam_get_user returned PAM code "+itoa(rc)+"; "+
			"the application must set PAM_USER or answer the user name prompt")
		return rc
	}
	uid, gid, found := m.Host.LookupUser(name)
	if !found {
		m.Host.Log(LogNotice, "Unable to look up user "+strconv.Quote(name))
		return UserUnknown
	}

	// The kernel makes the keyring owned by the thread's *real* uid/gid and
	// resolves @u and @us from the real uid, so switch those (euid stays
	// root) and restore all six ids exactly on every way out, panics included.
	saved := m.Creds.Get()
	// Without root a thread may set an id only to one it holds: a real id it
	// holds nowhere else could not be switched back.
	if saved.EUID != 0 && (gid != saved.RGID && saved.RGID != saved.EGID && saved.RGID != saved.SGID ||
		uid != saved.RUID && saved.RUID != saved.EUID && saved.RUID != saved.SUID) {
		m.Host.Log(LogErr, "Unable to switch ids for uid "+itoa(uid)+" temporarily: without root this thread could not switch its real ids back")
		return fail
	}
	if o.Debug {
		m.debug("UID:" + itoa(uid) + " [" + itoa(saved.RUID) + "]  GID:" + itoa(gid) + " [" + itoa(saved.RGID) + "]")
	}
	if gid != saved.RGID {
		if err := m.Creds.SetGIDs(gid, Keep, Keep); err != nil {
			m.Host.Log(LogErr, "Unable to change GID to "+itoa(gid)+" temporarily: "+err.Error())
			return fail
		}
		defer func() {
			if err := m.Creds.SetGIDs(saved.RGID, saved.EGID, saved.SGID); err != nil {
				m.Host.Log(LogErr, "Unable to change GID back to "+itoa(saved.RGID)+": "+err.Error())
				code = fail
			}
		}()
	}
	if uid != saved.RUID {
		if err := m.Creds.SetUIDs(uid, Keep, Keep); err != nil {
			m.Host.Log(LogErr, "Unable to change UID to "+itoa(uid)+" temporarily: "+err.Error())
			return fail
		}
		defer func() {
			if err := m.Creds.SetUIDs(saved.RUID, saved.EUID, saved.SUID); err != nil {
				m.Host.Log(LogErr, "Unable to change UID back to "+itoa(saved.RUID)+": "+err.Error())
				code = fail
			}
		}()
	}
	return m.joinKeyring(st, o, uid, gid, fail)
}

// joinKeyring runs with the real ids switched to the target user's.
func (m Module) joinKeyring(st *State, o Options, uid, gid uint32, fail Code) Code {
	if !o.Force {
		session, err := m.Keys.GetID(keys.Session)
		if o.Debug {
			m.debug("GET SESSION = " + itoa(session) + " (" + errText(err) + ")")
		}
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
			usession, err := m.Keys.GetID(keys.UserSession)
			if o.Debug {
				m.debug("GET USER SESSION = " + itoa(usession) + " (" + errText(err) + ")")
			}
			if err != nil {
				return m.keyctlFailed("get the user-session keyring", uid, err, fail)
			}
			if session != usession && m.keepSession(session, uid, o) {
				return Success // the thread already has a session keyring of the user's own
			}
		}
	}

	serial, err := m.Keys.JoinAnonymous()
	if o.Debug {
		m.debug("JOIN = " + itoa(serial) + " (" + errText(err) + ")")
	}
	if errors.Is(err, unix.ENOSYS) {
		m.noKeyrings() // pam_keyinit.so fails here under force
		return Success
	}
	if err != nil {
		return m.keyctlFailed("join a new session keyring", uid, err, fail)
	}
	st.Serial, st.UID, st.GID = int32(serial), uid, gid

	if err := m.Keys.Link(keys.User, keys.Session); err != nil {
		return m.keyctlFailed("link the user keyring into the session keyring", uid, err, fail)
	}
	// Never leave another user's keyring linked into this session: @u is
	// resolved from the real uid, so a failed or skipped switch would show
	// here.
	owner, err := m.Keys.Owner(keys.User)
	if err != nil || owner != uid {
		undone := m.undoLink(st)
		if err != nil {
			return m.keyctlFailed("check the owner of the user keyring", uid, err, fail)
		}
		m.Host.Log(LogErr, "the user keyring linked for uid "+itoa(uid)+" belongs to uid "+itoa(owner)+": "+undone+"; "+
			"check that nothing else changes this thread's ids during the session hooks")
		return fail
	}
	return Success
}

// keepSession says whether, without force, the thread's own session keyring
// may stay: only if it belongs to the target user, or the target is root.
// pam_keyinit.so keeps it whoever owns it, so after "sudo -u bob" or a
// display manager's login the user's processes possessed the caller's or
// root's keyrings (NixOS/nixpkgs#331444). Another uid's keyring is replaced
// by a new one, as with force, and the replacement is logged.
func (m Module) keepSession(session int, uid uint32, o Options) bool {
	if uid == 0 {
		return true
	}
	owner, err := m.Keys.Owner(keys.Session)
	if o.Debug {
		m.debug("SESSION OWNER = " + itoa(owner) + " (" + errText(err) + ")")
	}
	if err == nil && owner == uid {
		return true
	}
	why := "it belongs to uid " + itoa(owner)
	if err != nil {
		why = "its owner cannot be read (" + err.Error() + ")"
	}
	m.Host.Log(LogNotice, "replacing session keyring "+itoa(session)+" with a new one for uid "+itoa(uid)+": "+why+
		"; without force only a session keyring of the user's own is kept")
	return false
}

// undoLink removes the link to @u from the new session keyring. If even
// that fails, it revokes the new keyring (the thread possesses it), so that
// nothing can reach the linked keyring through it. It says what it did.
func (m Module) undoLink(st *State) string {
	err := m.Keys.Unlink(keys.User, keys.Session)
	if err == nil {
		return "unlinked it"
	}
	if rerr := m.Keys.Revoke(int(st.Serial)); rerr != nil {
		return "could neither unlink it (" + err.Error() + ") nor revoke the new session keyring (" + rerr.Error() + ")"
	}
	st.Serial = 0
	return "could not unlink it (" + err.Error() + "), so revoked the new session keyring"
}

// debug logs one LOG_DEBUG line. Callers test Options.Debug first, so that
// without debug no line is built: building one allocates.
func (m Module) debug(msg string) {
	m.Host.Log(LogDebug, msg)
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
		hint = "the key quota of uid " + itoa(uid) + " is full"
		if use := m.Keys.QuotaUse(uid); use != "" {
			hint += " (" + use + ")"
		}
		hint += ": raise kernel.keys.maxkeys / kernel.keys.maxbytes, or lower kernel.keys.gc_delay so revoked keyrings are freed sooner"
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		hint = "keyctl was denied, likely by a seccomp filter or a security module: allow keyctl(2) for this service, or remove pam_keyinit_go from its stack"
	default:
		hint = "see keyctl(2)"
	}
	m.Host.Log(LogErr, "Unable to "+what+" for uid "+itoa(uid)+": "+err.Error()+"; "+hint)
	return fail
}

// The log lines are built with strconv, not fmt: fmt, with the reflect and
// os code it brings, made the module about 260 KB larger, which cost every
// host process about 300 KiB resident and every process start that loads
// the module about 0.1 ms ('make bench').

func itoa[T ~int | ~int32 | ~uint32](n T) string { return strconv.FormatInt(int64(n), 10) }

// errText is an error for a debug line: "ok" when there is none.
func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
