package main

// The pam.d files check and migrate work on, and their --pam-dir and
// --module-dir, which the two commands share.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// pamFlags are --pam-dir and --module-dir; each command words their help
// for what it does with them.
type pamFlags struct{ pamDir, moduleDir *string }

func (c *cmdline) pamFlags(pamDirHelp, moduleDirHelp string) pamFlags {
	return pamFlags{
		pamDir:    c.flags.String("pam-dir", "/etc/pam.d", pamDirHelp),
		moduleDir: c.flags.String("module-dir", "", moduleDirHelp),
	}
}

// targets fills in the system module directory when --module-dir was not
// given, and turns the arguments into the files to work on.
func (p pamFlags) targets(args []string) ([]checkTarget, error) {
	if *p.moduleDir == "" {
		d, err := defaultModuleDir()
		if err != nil {
			return nil, err
		}
		*p.moduleDir = d
	}
	return checkTargets(args, *p.pamDir)
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
