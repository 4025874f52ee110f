package pamconf

import (
	"fmt"
	"path"
	"strings"
)

// SetcredKeyModule is a module that stores keys in the session keyring of
// the calling process in pam_setcred(PAM_ESTABLISH_CRED) (or earlier, in
// the auth stack), before pam_open_session runs.
type SetcredKeyModule struct {
	Module string                   // file name, as in KeyModules
	When   func(args []string) bool // nil: whenever the module is in the auth stack
	Why    string                   // for the finding's message
	Source string                   // where the fact comes from
}

// SetcredKeyModules is the one list of such modules. su (util-linux),
// login, sudo and display managers call pam_setcred(ESTABLISH) before
// pam_open_session, so without a keyinit line first in the auth stack these
// keys land in the caller's (or root's) session keyring, not the user's.
//
// Not listed, after reading their sources:
//   - pam_sss: sssd's krb5_child, a process of the sssd daemon, writes the
//     credential cache (sssd-krb5(5) krb5_ccname_template; the krb5_child log
//     in SSSD/sssd issue #7106 shows "KEYRING:persistent:UID"), not the PAM
//     caller's session keyring.
//   - pam_winbind with krb5_auth krb5_ccache_type=KEYRING: winbindd makes the
//     cache, and names it "KEYRING:persistent:UID" (samba
//     source3/winbindd/winbindd_pam.c, generate_krb5_ccache); custom
//     patterns are accepted only for FILE:/, WRFILE:/ and DIR:/.
//   - pam_ecryptfs: pam_sm_authenticate adds the mount passphrase in a child
//     that has done setuid(USER), with add_key(..., KEY_SPEC_USER_KEYRING)
//     (ecryptfs-utils src/pam_ecryptfs/pam_ecryptfs.c and
//     src/libecryptfs/key_management.c): the user's user keyring, not the
//     caller's session keyring; its pam_sm_setcred does nothing.
//   - pam_mount: its auth hook only keeps the password; it mounts in
//     pam_sm_open_session (pam_mount(8)), after the session keyring exists.
//     A cryptsetup or mount helper it runs may use keyrings; not confirmed.
var SetcredKeyModules = []SetcredKeyModule{
	{
		// pam-krb5 (Russ Allbery's, Debian's libpam-krb5): pam_krb5(5),
		// "ccache=": the cache is created in pam_setcred, default FILE:; a
		// KEYRING:session: name (or krb5.conf default_ccache_name, MIT and
		// Heimdal krb5.conf(5)) puts it in the calling process's session
		// keyring. Neither the option nor krb5.conf is read here, so every
		// pam_krb5 line counts; measured with MIT's KDC: su, login and sudo
		// then leave the tickets in the caller's keyring.
		Module: "pam_krb5.so",
		Why:    "stores Kerberos tickets in the session keyring at setcred when its credential cache is KEYRING:session: (ccache= or krb5.conf default_ccache_name; not read here)",
		Source: "pam_krb5(5) ccache=; krb5.conf(5) default_ccache_name",
	},
}

// SetcredKeyModuleOf returns the entry for e's module when e is such a
// module with arguments that make it one.
func SetcredKeyModuleOf(e Entry) (SetcredKeyModule, bool) {
	b := path.Base(e.Module)
	for _, m := range SetcredKeyModules {
		if m.Module == b && (m.When == nil || m.When(e.Args)) {
			return m, true
		}
	}
	return SetcredKeyModule{}, false
}

// SetcredLine is the line that makes the user's keyring at setcred, before
// the modules of SetcredKeyModules store keys.
const SetcredLine = "auth optional pam_keyinit_go.so force revoke"

// NoSetcredCheck are services whose host opens the session before it calls
// pam_setcred: sshd (OpenSSH's do_pam_session runs before
// do_pam_setcred in the post-auth child), so the session line's keyring
// already exists when the auth stack's setcred runs. By name because the
// order is the host's, which the pam.d file does not show; another host
// under the name sshd would be missed.
var NoSetcredCheck = []string{"sshd"}

// KeysBeforeSession: a module of SetcredKeyModules in the auth stack with
// no keyinit auth line before it. Linux-PAM's pam_keyinit.so line counts as
// ours does: its pam_sm_setcred(ESTABLISH_CRED) makes the keyring as open
// does (measured with a real KDC through su -l, test/krb5_su_test.go).
func KeysBeforeSession(svc Service) []Finding {
	for _, n := range NoSetcredCheck {
		if svc.Name == n {
			return nil
		}
	}
	var fs []Finding
	made := false
	for _, e := range svc.Stack("auth") {
		if IsKeyinit(e.Module) {
			made = true
			continue
		}
		m, ok := SetcredKeyModuleOf(e)
		if !ok || made {
			continue
		}
		fs = append(fs, Finding{Pos: e.Pos, Severity: Warning, Code: CodeKeysBeforeSession, Service: svc.Name,
			Message: fmt.Sprintf("service %s: %s %s; su, login, sudo and display managers call pam_setcred before pam_open_session, "+
				"so the keys land in the caller's session keyring and the user's session cannot find them: "+
				"add %q first in the auth stack (keyinit-go migrate --setcred-line does)",
				svc.Name, strings.TrimSuffix(path.Base(e.Module), ".so"), m.Why, SetcredLine)})
	}
	return fs
}

// setcredKeysAfter says whether a module of SetcredKeyModules follows e in
// the service's auth stack: then a keyinit auth line is what
// KeysBeforeSession asks for.
func setcredKeysAfter(svc Service, e Entry) bool {
	after := false
	for _, x := range svc.Stack("auth") {
		if x.Pos == e.Pos {
			after = true
			continue
		}
		if _, ok := SetcredKeyModuleOf(x); ok && after {
			return true
		}
	}
	return false
}
