package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"pam_keyinit_go/cmd/keyinit-go/internal/pamconf"
)

const checkHelp = `Usage: keyinit-go check [--json] [--strict] [--pam-dir DIR] [--module-dir DIR] [FILE|SERVICE...]

Reads PAM service files the way libpam does (comments, "\" continuations,
[...] controls and arguments, case-insensitive types), follows "@include" and
the "include" and "substack" controls, finds the pam_keyinit.so and
pam_keyinit_go.so lines and reports, as FILE:LINE: SEVERITY: MESSAGE [CODE]:

  errors
    unknown-option   an option other than debug, force, revoke (ignored by the
                     modules: "revoke=yes" does not revoke)
    wrong-stack      in account or password, with a control that makes the
                     missing hook (PAM_MODULE_UNKNOWN) fail the stack
    module-missing   the module file does not exist (relative names resolve
                     in the system module directory)
    c-and-go         pam_keyinit.so and pam_keyinit_go.so in one stack
    include, syntax  unreadable includes, include loops, lines libpam rejects
  warnings
    wrong-stack      in auth (only pam_setcred acts), or in account/password
                     where it does nothing
    module-missing   missing, on a "-session" line libpam skips quietly
    after-key-module after a module that adds keys to the session keyring:
                     pam_krb5, pam_ecryptfs, pam_fscrypt, pam_cifscreds,
                     pam_afs_session, pam_kafs_session (not pam_gnome_keyring
                     or pam_sss: they keep secrets elsewhere)
    no-revoke,       in the session stack of a service whose host process
    no-force         outlives or shares sessions or has its own session
                     keyring: sshd, login, systemd-user, gdm*, lightdm*,
                     sddm*, xrdp-sesman, cockpit; these want "force revoke"
    duplicate        the same module twice in one stack

A line in an included file is reported once, with the services it affects in
the message where that matters. An argument with a "/" is a file (its name is
the service name); one without is a service in --pam-dir. With no arguments,
every file in --pam-dir is checked.

Exit status: 0 no errors (warnings allowed, unless --strict); 1 errors (or
warnings with --strict); 2 bad usage or unreadable arguments.
`

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", checkHelp, stderr)
	jsonOut := fs.Bool("json", false, "print a JSON report instead of text")
	strict := fs.Bool("strict", false, "exit 1 on warnings too")
	pamDir := fs.String("pam-dir", "/etc/pam.d", "where services and relative includes are, as `DIR` for libpam")
	moduleDir := fs.String("module-dir", "", "the system PAM module `DIR` for relative module names (default: found by looking for pam_permit.so)")
	pos, help, err := parseArgs(fs, args, stdout)
	switch {
	case help:
		return exitOK
	case err != nil:
		return usageError(stderr, "check", err)
	}
	if *moduleDir == "" {
		if *moduleDir, err = defaultModuleDir(); err != nil {
			return usageError(stderr, "check", err)
		}
	}
	targets, err := checkTargets(pos, *pamDir)
	if err != nil {
		return usageError(stderr, "check", err)
	}

	rep := checkAll(targets, *pamDir, *moduleDir, os.ReadFile)

	if *jsonOut {
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		e.Encode(rep)
	} else {
		rep.writeText(stdout)
	}
	if rep.Errors > 0 || *strict && rep.Warnings > 0 {
		return exitFindings
	}
	return exitOK
}

// checkAll checks the targets, reading files with read: os.ReadFile, or
// for "migrate --apply" the files as they would be after the change.
func checkAll(targets []checkTarget, pamDir, moduleDir string, read func(string) ([]byte, error)) checkReport {
	rep := checkReport{PamDir: pamDir, ModuleDir: moduleDir, Services: []string{}, Lines: []keyinitLine{}}
	loader := pamconf.Loader{Dir: pamDir, ReadFile: read, RealPath: realPath}
	checker := pamconf.Checker{ModuleDir: moduleDir, Exists: fileExists}
	lines := map[pamconf.Pos]*keyinitLine{}
	var findings []pamconf.Finding
	for _, t := range targets {
		svc, fs := loader.Load(t.name, t.file)
		findings = append(findings, fs...)
		findings = append(findings, checker.Check(svc)...)
		rep.Services = append(rep.Services, t.name)
		for _, e := range svc.Entries {
			if !pamconf.IsKeyinit(e.Module) {
				continue
			}
			l := lines[e.Pos]
			if l == nil {
				l = &keyinitLine{Pos: e.Pos, Text: e.Text()}
				lines[e.Pos] = l
			}
			if n := len(l.Services); n == 0 || l.Services[n-1] != t.name {
				l.Services = append(l.Services, t.name)
			}
		}
	}
	for _, l := range lines {
		rep.Lines = append(rep.Lines, *l)
	}
	sort.Slice(rep.Lines, func(i, j int) bool {
		a, b := rep.Lines[i].Pos, rep.Lines[j].Pos
		return a.File < b.File || a.File == b.File && a.Line < b.Line
	})
	rep.Findings = pamconf.Tidy(findings)
	if rep.Findings == nil {
		rep.Findings = []pamconf.Finding{}
	}
	rep.Errors, rep.Warnings = pamconf.Count(rep.Findings)

	return rep
}

type checkTarget struct{ name, file string }

func checkTargets(args []string, pamDir string) ([]checkTarget, error) {
	var out []checkTarget
	if len(args) == 0 {
		ents, err := os.ReadDir(pamDir)
		if err != nil {
			return nil, fmt.Errorf("read %s: %v; pass --pam-dir DIR or name files", pamDir, err)
		}
		for _, e := range ents {
			p := filepath.Join(pamDir, e.Name())
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() { // symlinks too (Fedora's system-auth)
				out = append(out, checkTarget{e.Name(), p})
			}
		}
		return out, nil
	}
	for _, a := range args {
		t := checkTarget{name: filepath.Base(a), file: a}
		if !strings.Contains(a, "/") {
			t.file = filepath.Join(pamDir, a)
		}
		if st, err := os.Stat(t.file); err != nil || !st.Mode().IsRegular() {
			hint := ""
			if !strings.Contains(a, "/") {
				hint = fmt.Sprintf(" (a name without \"/\" is a service in %s; write ./%s for a file here)", pamDir, a)
			}
			return nil, fmt.Errorf("%s is not a readable file%s", t.file, hint)
		}
		out = append(out, t)
	}
	return out, nil
}
