package pamconf

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"pam_keyinit_go/internal/limitsconf"
	"pam_keyinit_go/keyinit"
)

// Checker finds problems in the keyinit lines of a loaded service.
type Checker struct {
	ModuleDir string                 // the system PAM module directory
	Exists    func(path string) bool // whether a module file exists
	// Trust says why a root host's pam_keyinit_go.so would refuse to load
	// the Go core at a path (internal/trust.Core), or nil; nil skips that
	// rule.
	Trust func(core string) error
	// Limits reads what pam_limits.so lines set (limits.go); nil skips
	// that rule.
	Limits *limitsconf.Loader
}

// Check returns the findings for svc's pam_keyinit.so and pam_keyinit_go.so
// lines (findings about the files themselves come from Loader.Load).
func (c Checker) Check(svc Service) []Finding {
	var fs []Finding
	for _, e := range svc.Entries {
		if !IsKeyinit(e.Module) {
			continue
		}
		fs = append(fs, unknownOptions(e)...)
		if e.Type != "auth" || !setcredKeysAfter(svc, e) {
			fs = append(fs, wrongStack(e)...)
		}
		fs = append(fs, c.moduleMissing(e)...)
		fs = append(fs, c.untrustedCore(e)...)
		fs = append(fs, pamConfigLine(svc, e)...)
	}
	fs = append(fs, sharedHost(svc)...)
	for _, typ := range []string{"auth", "session"} {
		fs = append(fs, stackOrder(svc.Name, svc.Stack(typ))...)
	}
	fs = append(fs, KeysBeforeSession(svc)...)
	fs = append(fs, c.runtimeLimits(svc)...)
	return adviseGenerated(svc.Generated, fs)
}

func unknownOptions(e Entry) []Finding {
	o := keyinit.ParseOptions(e.Args)
	if len(o.Unknown) == 0 {
		return nil
	}
	q := make([]string, len(o.Unknown))
	for i, a := range o.Unknown {
		q[i] = fmt.Sprintf("%q", a)
	}
	return []Finding{{Pos: e.Pos, Severity: Error, Code: CodeUnknownOption,
		Message: fmt.Sprintf("unknown %s %s for %s: the module ignores %s (options match exactly); valid options are debug, force and revoke",
			plural(len(q), "option", "options"), strings.Join(q, ", "), path.Base(e.Module), plural(len(q), "it", "them"))}}
}

// wrongStack: the modules provide authenticate (returns PAM_IGNORE), setcred,
// open_session and close_session, nothing for account or password.
func wrongStack(e Entry) []Finding {
	name := path.Base(e.Module)
	switch e.Type {
	case "session":
		return nil
	case "auth":
		return []Finding{{Pos: e.Pos, Severity: Warning, Code: CodeWrongStack,
			Message: fmt.Sprintf("%s in the auth stack acts only in pam_setcred (ESTABLISH_CRED makes the keyring, DELETE_CRED revokes it) and not at all in pam_authenticate; "+
				"for a session keyring per session, list it as \"session optional %s ...\"", name, name)}}
	}
	hook := map[string]string{"account": "pam_sm_acct_mgmt", "password": "pam_sm_chauthtok"}[e.Type]
	if failsOn(e.Control, "module_unknown") {
		return []Finding{{Pos: e.Pos, Severity: Error, Code: CodeWrongStack,
			Message: fmt.Sprintf("%s has no %s: libpam returns PAM_MODULE_UNKNOWN for it and control %q fails every %s call of this service; remove the line or move it to the session stack",
				name, hook, e.Control, e.Type)}}
	}
	return []Finding{{Pos: e.Pos, Severity: Warning, Code: CodeWrongStack,
		Message: fmt.Sprintf("%s has no %s: this %s line does nothing; remove it or move it to the session stack", name, hook, e.Type)}}
}

func (c Checker) moduleMissing(e Entry) []Finding {
	file := ModuleFile(e.Module, c.ModuleDir)
	if c.Exists(file) {
		if core := filepath.Join(filepath.Dir(file), GoCore); filepath.Base(file) == GoModule && !c.Exists(core) {
			return []Finding{{Pos: e.Pos, Severity: Error, Code: CodeModuleMissing,
				Message: fmt.Sprintf("the Go core %s does not exist beside %s: every session the line gives a keyring gets the plain one "+
					"the module makes in C without it, with a warning each time (\"the Go core ... cannot be opened\"); "+
					"reinstall the package ('make install' places both files)", core, file)}}
		}
		return nil
	}
	if e.Silent {
		return []Finding{{Pos: e.Pos, Severity: Warning, Code: CodeModuleMissing,
			Message: fmt.Sprintf("module file %s does not exist: libpam skips this \"-%s\" line quietly, so sessions get no keyring from it", file, e.Type)}}
	}
	effect := "sessions get no keyring from it"
	if failsOn(e.Control, "module_unknown") {
		effect = fmt.Sprintf("under control %q every %s call of the service fails (PAM_MODULE_UNKNOWN)", e.Control, e.Type)
	}
	return []Finding{{Pos: e.Pos, Severity: Error, Code: CodeModuleMissing,
		Message: fmt.Sprintf("module file %s does not exist: libpam logs \"unable to dlopen\" and %s; "+
			"install it ('make install' for pam_keyinit_go.so, package libpam-modules for pam_keyinit.so) or fix the path", file, effect)}}
}

// untrustedCore: the Go core beside the front is one a root host (sshd,
// login, su: every real one) refuses to load, as the front's trust rule
// says (internal/trust, pam/front/trust.c).
func (c Checker) untrustedCore(e Entry) []Finding {
	file := ModuleFile(e.Module, c.ModuleDir)
	core := filepath.Join(filepath.Dir(file), GoCore)
	if c.Trust == nil || filepath.Base(file) != GoModule || !c.Exists(file) || !c.Exists(core) {
		return nil
	}
	err := c.Trust(core)
	if err == nil {
		return nil
	}
	return []Finding{{Pos: e.Pos, Severity: Error, Code: CodeUntrusted,
		Message: fmt.Sprintf("a root host refuses to load the Go core %s: %v; every session the line gives a keyring gets the plain one "+
			"the module makes in C without it, with a warning each time (\"the Go core ... is not trusted\"): "+
			"fix the owner and mode (as the package installs them) or reinstall the package", core, err)}}
}

// sharedHost: services whose host keeps or reuses its process need force and
// revoke (see SharedHostServices). The session stack is judged as a whole,
// as the modules run it: a handle makes its keyring once, a later line's
// force replaces a keyring the earlier lines kept, and a later line's
// revoke revokes the keyring the handle made (keyinit/session.go), so the
// stack has force or revoke if any of its keyinit lines has it. The
// finding is at the stack's first keyinit line, the one that makes the
// keyring; when that line is in a file other services include too
// (system-auth, common-session), at the line of the service's own file
// that includes it: the fix is a line in the service's file, since force
// in the shared file would reach every service that includes it (plain su
// and sudo too), and the shared file may be one a tool writes (authselect).
func sharedHost(svc Service) []Finding {
	if !IsSharedHost(svc.Name) {
		return nil
	}
	var first *Entry
	var force, revoke bool
	for _, e := range svc.Stack("session") {
		if !IsKeyinit(e.Module) {
			continue
		}
		if first == nil {
			first = &e
		}
		o := keyinit.ParseOptions(e.Args)
		force, revoke = force || o.Force, revoke || o.Revoke
	}
	if first == nil || force && revoke {
		return nil
	}
	pos := first.Pos
	fix := func(option string) string { return " (add " + option + ")" }
	if len(first.Via) > 0 {
		pos = first.Via[0]
		fix = func(string) string {
			return fmt.Sprintf("; its keyinit line is %s (%s), which every service that includes %s shares: "+
				"put \"session optional %s force revoke\" in %s before this line, not an option in the shared file",
				first.Pos, first.Text(), path.Base(first.Pos.File), path.Base(first.Module), path.Base(pos.File))
		}
	}
	var fs []Finding
	if !revoke {
		fs = append(fs, Finding{Pos: pos, Severity: Warning, Code: CodeNoRevoke, Service: svc.Name,
			Message: fmt.Sprintf("service %s: no \"revoke\": the session keyring outlives the session in the host process and in processes left behind%s",
				svc.Name, fix("revoke, as Debian does for sshd and login"))})
	}
	if !force {
		fs = append(fs, Finding{Pos: pos, Severity: Warning, Code: CodeNoForce, Service: svc.Name,
			Message: fmt.Sprintf("service %s: no \"force\": if the host process already has a session keyring (systemd gives services one), the user's session keeps the host's keyring%s",
				svc.Name, fix("force"))})
	}
	return fs
}

// stackOrder checks the order of one type's flattened stack: keyinit lines
// after modules that add keys, and more than one keyinit line.
//
// A later line of the same module makes no keyring of its own: the handle
// made its keyring at the first line, or the first line kept the thread's
// own keyring and a later line without force decides the same. Only a
// later line with force, after lines without, can still make one (it
// replaces a keyring they kept). Lines that can make a keyring are judged
// for the key modules before them; the others are not, since the keys
// land in the keyring that stays.
//
// A line that makes no keyring of its own is harmless. When it is reached
// from another file (the service's own line, then system-auth's through
// "include", as Fedora and RHEL ship every login service; runuser-l then
// runuser in Debian) it is how layered files work: the shared file needs
// its line for the services that have none, the service its line for
// force. That is no finding. Two such lines in one file are an info: one
// would say the same.
func stackOrder(service string, stack []Entry) []Finding {
	var fs []Finding
	var first *Entry
	seen := map[string]*Entry{} // each module's first line
	forced := map[string]bool{} // an earlier line of the module has force
	for i := range stack {
		e := stack[i]
		if !IsKeyinit(e.Module) {
			continue
		}
		name := path.Base(e.Module)
		force := keyinit.ParseOptions(e.Args).Force
		earlier, again := seen[name]
		acts := !again || force && !forced[name]
		if acts {
			for _, prev := range stack[:i] {
				if why, ok := KeyModules[path.Base(prev.Module)]; ok {
					fs = append(fs, Finding{Pos: e.Pos, Severity: Warning, Code: CodeAfterKeys, Service: service,
						Message: fmt.Sprintf("service %s: %s comes after %s (%s), which %s; the new session keyring will not hold those keys: move the keyinit line above it",
							service, name, path.Base(prev.Module), prev.Pos, why)})
				}
			}
		}
		forced[name] = forced[name] || force
		if !again {
			seen[name] = &stack[i]
		}
		if first == nil {
			first = &stack[i]
			continue
		}
		switch {
		case path.Base(first.Module) != name:
			fs = append(fs, Finding{Pos: e.Pos, Severity: Error, Code: CodeBothModules, Service: service,
				Message: fmt.Sprintf("service %s: both pam_keyinit.so and pam_keyinit_go.so in the %s stack (the other at %s): with force the second replaces the first one's keyring, without it does nothing; keep only pam_keyinit_go.so",
					service, e.Type, first.Pos)})
		case !acts && earlier.Pos.File == e.Pos.File && earlier.Pos != e.Pos:
			fs = append(fs, Finding{Pos: e.Pos, Severity: Info, Code: CodeDuplicate, Service: service,
				Message: fmt.Sprintf("service %s: %s is already in the %s stack at %s, in the same file; this line makes no keyring of its own (harmless): one line would say the same",
					service, name, e.Type, earlier.Pos)})
		}
	}
	return fs
}

// failsOn says whether a control turns a module's return value (libpam's
// name for it in "[value=action]": module_unknown for a module without the
// hook, session_err, ...) into a failure of the stack.
func failsOn(control, value string) bool {
	switch control {
	case "required", "requisite":
		return true
	case "sufficient", "optional":
		return false
	}
	// "[value=action ...]": value's action, else default's; libpam makes
	// values that are not given "bad".
	action := "bad"
	for _, kv := range strings.Fields(strings.Trim(control, "[]")) {
		k, v, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case value:
			return isFailure(v)
		case "default":
			action = v
		}
	}
	return isFailure(action)
}

func isFailure(action string) bool {
	a := strings.ToLower(action)
	return a == "bad" || a == "die"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
