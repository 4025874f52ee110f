package main

// check: has authselect undone what migrate asked of it? The manifest of
// "migrate --apply" records that custom/keyinit-go was selected; a later
// "authselect select" of another profile (by hand, or by a tool that runs
// it) writes pam_keyinit.so back into system-auth and password-auth, and
// su and crond, whose only keyinit line comes through them, run
// pam_keyinit.so again (migrate_authselect.go).

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"pam_keyinit_go/internal/pamconf"
)

// CodeAuthselectUndone is the code of that finding.
const CodeAuthselectUndone = "authselect-undone"

// authselectUndone reads the manifest in stateDir (read only, no lock) and
// reports, when it records a switch through authselect of a directory the
// links of pamDir lead into, that authselect has undone it: another
// profile selected, or its files naming pam_keyinit.so again.
func authselectUndone(stateDir, pamDir string) []pamconf.Finding {
	b, err := os.ReadFile(manifestPath(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var m manifest
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil || m.Authselect == nil || m.Authselect.Pending {
		return nil
	}
	rec := m.Authselect
	served := false
	for _, name := range authselectPamFiles {
		if d, ok := authselectDirOf(realPath(filepath.Join(pamDir, name))); ok && d == rec.ConfigDir {
			served = true
		}
	}
	if !served {
		return nil
	}
	conf := filepath.Join(rec.ConfigDir, "authselect.conf")
	again := func(f pamconf.Finding) pamconf.Finding {
		f.Severity, f.Code = pamconf.Error, CodeAuthselectUndone
		return f
	}
	profile, features, err := readAuthselectConf(rec.ConfigDir)
	if err != nil {
		return []pamconf.Finding{again(pamconf.Finding{Pos: pamconf.Pos{File: conf, Line: 1},
			Message: fmt.Sprintf("keyinit-go migrate selected the authselect profile %s (manifest %s), and authselect's configuration cannot be read now: %v", rec.Custom, manifestPath(stateDir), err)})}
	}
	sel := shellJoin(append([]string{"authselect", "select", rec.Custom}, features...)...)
	cfiles := authselectCFiles(rec.ConfigDir)
	if profile != rec.Custom {
		what := "its files name pam_keyinit.so again"
		if len(cfiles) == 0 {
			what = "its files no longer come from " + rec.Custom
		}
		return []pamconf.Finding{again(pamconf.Finding{Pos: pamconf.Pos{File: conf, Line: 1},
			Message: fmt.Sprintf("authselect has undone the switch of \"keyinit-go migrate --apply\": the profile in use is %s, not %s, which it selected (manifest %s), so %s, "+
				"and the services that reach a keyinit line only through them (su and crond on Fedora and RHEL) run pam_keyinit.so again; "+
				"run %q to select it again, with the features in use (or \"keyinit-go migrate --revert\", then migrate again)",
				profile, rec.Custom, manifestPath(stateDir), what, sel)})}
	}
	var out []pamconf.Finding
	tmpl := filepath.Join(rec.ConfigDir, "custom", authselectName)
	for _, p := range cfiles {
		line := 1
		if data, err := os.ReadFile(p); err == nil {
			placed, _ := pamconf.ParsePlaced(p, data)
			for _, pl := range placed {
				if pl.ModuleAt >= 0 && filepath.Base(pl.Module) == pamconf.CModule {
					line = pl.Pos.Line
					break
				}
			}
		}
		out = append(out, again(pamconf.Finding{Pos: pamconf.Pos{File: p, Line: line},
			Message: fmt.Sprintf("authselect writes pam_keyinit.so here again though %s, which \"keyinit-go migrate --apply\" switched, is selected: a template in %s names it again; "+
				"change pam_keyinit.so to pam_keyinit_go.so there (only the module name) and run \"authselect apply-changes\"", rec.Custom, tmpl)}))
	}
	return out
}

// addFindings adds findings to the report, in its order, and counts them.
func (r *checkReport) addFindings(fs []pamconf.Finding) {
	if len(fs) == 0 {
		return
	}
	r.Findings = pamconf.Tidy(append(r.Findings, fs...))
	r.Errors, r.Warnings = pamconf.Count(r.Findings)
}

// stateDirHelp is check's --state-dir help.
const stateDirHelp = "where \"migrate --apply\" keeps its manifest, as `DIR`: check says when authselect has undone the switch it records (" + CodeAuthselectUndone + ")"
