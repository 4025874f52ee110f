package main

// What a migration changes for users: the services whose session gets its
// keyring from a line without force. pam_keyinit.so without force keeps a
// session keyring the process already has (the caller's, under su, sudo
// and runuser; the daemon's for crond), whoever owns it; pam_keyinit_go.so
// keeps it only if it belongs to the session's user (or that user is
// root), and otherwise makes the user a keyring of their own
// (pam_keyinit_go(8), "never hands a user another uid's session keyring").

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"pam_keyinit_go/internal/pamconf"
	"pam_keyinit_go/keyinit"
)

// sharedFile: a file of the PAM directory that only other services
// include (authselect's and pam-auth-update's), not a service of its own.
func sharedFile(name string) bool {
	return slices.Contains(authselectPamFiles, name) || strings.HasPrefix(name, "common-") || name == "config-util"
}

// noForceServices are the services of pamDir whose session keyring comes
// from a pam_keyinit.so line without force that the migration switches:
// the first keyinit line of their session stack is pam_keyinit.so without
// force before, and pam_keyinit_go.so without force after. after holds the
// files the migration changes (real, absolute paths) as they will be.
func noForceServices(pamDir string, after map[string][]byte) []string {
	targets, err := checkTargets(nil, pamDir)
	if err != nil {
		return nil
	}
	readAfter := func(p string) ([]byte, error) {
		if abs, err := filepath.Abs(realPath(p)); err == nil {
			if b, ok := after[abs]; ok {
				return b, nil
			}
		}
		return os.ReadFile(p)
	}
	before := pamconf.Loader{Dir: pamDir, ReadFile: os.ReadFile, RealPath: realPath}
	later := pamconf.Loader{Dir: pamDir, ReadFile: readAfter, RealPath: realPath}
	var out []string
	for _, t := range targets {
		if sharedFile(t.name) {
			continue
		}
		svc, _ := before.Load(t.name, t.file)
		was, ok := firstSessionKeyinit(svc)
		if !ok || filepath.Base(was.Module) != pamconf.CModule || keyinit.ParseOptions(was.Args).Force {
			continue
		}
		svc, _ = later.Load(t.name, t.file)
		now, ok := firstSessionKeyinit(svc)
		if ok && filepath.Base(now.Module) == pamconf.GoModule && !keyinit.ParseOptions(now.Args).Force {
			out = append(out, t.name)
		}
	}
	return out
}

// firstSessionKeyinit is the keyinit line that decides a session's keyring:
// the first of its session stack (a later one finds the keyring made).
func firstSessionKeyinit(svc pamconf.Service) (pamconf.Entry, bool) {
	for _, e := range svc.Stack("session") {
		if pamconf.IsKeyinit(e.Module) {
			return e, true
		}
	}
	return pamconf.Entry{}, false
}

// writeUserNote says, in one line, which services give their users a
// keyring of their own after the migration where they had the caller's.
func writeUserNote(w io.Writer, plan []migration, as *authselectPlan, pamDir string) {
	after := map[string][]byte{}
	for _, m := range plan {
		after[m.path] = m.after
	}
	if as != nil && as.err == nil { // else authselect's files stay as they are
		for _, m := range as.files {
			after[m.path] = m.after
		}
	}
	svcs := noForceServices(pamDir, after)
	if len(svcs) == 0 {
		return
	}
	fmt.Fprintf(w, "keyinit-go migrate: for users: %s %s no \"force\" on the line that makes %s session keyring: "+
		"pam_keyinit.so kept the keyring the process already had (the caller's under su, sudo and runuser, the daemon's under crond), "+
		"pam_keyinit_go.so keeps it only if it belongs to the session's user (or that user is root) "+
		"and otherwise gives the user a new keyring of their own: keys of the caller's are no longer in it (pam_keyinit_go(8))\n",
		strings.Join(svcs, ", "), plural(len(svcs), "has", "have"), plural(len(svcs), "its", "their"))
}
