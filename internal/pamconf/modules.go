package pamconf

import (
	"path"
	"path/filepath"
	"strings"
)

// Module file names this package knows.
const (
	CModule  = "pam_keyinit.so"    // Linux-PAM's
	GoModule = "pam_keyinit_go.so" // ours
	// GoCore is the Go half of ours, relative to the module directory:
	// pam_keyinit_go.so is a C front that loads it on the first session
	// hook, so without it every session the front serves fails.
	GoCore = "pam_keyinit_go/core.so"
)

// IsKeyinit says whether a module path names pam_keyinit.so or
// pam_keyinit_go.so (by file name, so absolute paths count).
func IsKeyinit(module string) bool {
	b := path.Base(module)
	return b == CModule || b == GoModule
}

// KeyModules are modules whose session (or setcred) hook puts keys into the
// session keyring that exists when they run. A pam_keyinit line after them
// replaces that keyring (always with force; without force when the thread had
// none), and their keys are not in the new one.
//
// Not listed, on purpose: pam_gnome_keyring and pam_kwallet keep secrets in a
// user daemon, not in kernel keyrings; pam_sss has sssd's krb5_child write
// KEYRING: caches outside the PAM thread, usually into the persistent keyring,
// which a new session keyring does not hide.
var KeyModules = map[string]string{
	"pam_krb5.so":         "stores Kerberos tickets in a KEYRING: credential cache",
	"pam_ecryptfs.so":     "adds the eCryptfs mount passphrase to the session keyring",
	"pam_fscrypt.so":      "adds fscrypt (v1 policy) keys to the session keyring",
	"pam_cifscreds.so":    "adds CIFS credentials to the session keyring",
	"pam_afs_session.so":  "puts AFS tokens in a PAG, which lives in the session keyring",
	"pam_kafs_session.so": "puts kAFS tokens in the session keyring",
}

// SharedHostServices are services whose host process outlives a session or
// runs several, or whose host has a session keyring of its own (systemd
// services do): without force the user would keep the host's keyring, and
// without revoke the keyring outlives the session in leftover processes and
// in the host. Patterns are path.Match patterns on the service name.
var SharedHostServices = []string{
	"sshd", "login", "systemd-user", "gdm*", "lightdm*", "sddm*", "xrdp-sesman", "cockpit",
}

// IsSharedHost says whether a service name is one of SharedHostServices.
func IsSharedHost(service string) bool {
	for _, p := range SharedHostServices {
		if ok, _ := path.Match(p, service); ok {
			return true
		}
	}
	return false
}

// ModuleFile is where libpam looks for a module: an absolute path as is, a
// relative one under the system module directory (moduleDir).
func ModuleFile(module, moduleDir string) string {
	if filepath.IsAbs(module) {
		return module
	}
	// libpam expands "$ISA" to the directory name of the module ABI.
	return filepath.Join(moduleDir, strings.ReplaceAll(module, "$ISA", "."))
}
