package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"pam_keyinit_go/internal/pamconf"
)

// applyMigration writes the plan, or refuses with one line on stderr and
// exitFindings before writing anything.
func applyMigration(plan []migration, targets []checkTarget, pamDir, moduleDir, stateDir string, stdout, stderr io.Writer) int {
	refuse := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "keyinit-go migrate: refusing to apply: "+format+"\n", a...)
		return exitFindings
	}
	var changes []migration
	for _, m := range plan {
		if string(m.before) != string(m.after) {
			changes = append(changes, m)
		}
	}
	if len(changes) == 0 {
		fmt.Fprintln(stdout, "nothing to migrate: no pam_keyinit.so line that can be changed")
		return exitOK
	}
	if missing := missingModuleFiles(moduleDir); len(missing) > 0 {
		return refuse("the module is not fully installed in %s, where libpam loads modules from: %s missing; install the package (or \"make install\") first",
			moduleDir, strings.Join(missing, " and "))
	}
	if rep := checkResult(changes, targets, pamDir, moduleDir); rep.Errors > 0 {
		fmt.Fprintln(stdout, "keyinit-go check of the result:")
		rep.writeText(stdout)
		return refuse("\"keyinit-go check\" of the result finds %d error(s) (listed above): fix them, then apply", rep.Errors)
	}
	for _, m := range changes {
		if err := notReplaceable(m.path); err != nil {
			return refuse("%v", err)
		}
	}
	man, err := loadManifest(stateDir)
	if err != nil {
		return refuse("cannot read the record of earlier migrations: %v", err)
	}
	for _, m := range changes {
		if man.find(m.path) >= 0 {
			return refuse("%s was migrated before and names pam_keyinit.so again: run \"keyinit-go migrate --revert\" first", m.path)
		}
	}

	// Record first: a crash after this leaves files that --revert handles
	// (as migrated, or still as before).
	for _, m := range changes {
		if err := keep(stateDir, m); err != nil {
			fmt.Fprintf(stderr, "keyinit-go migrate: cannot keep the original of %s in %s: %v; nothing changed\n", m.path, stateDir, err)
			return exitUsage
		}
		man.Files = append(man.Files, manifestFile{Path: m.path, Before: sha256Hex(m.before), After: sha256Hex(m.after)})
	}
	if err := saveManifest(stateDir, man); err != nil {
		fmt.Fprintf(stderr, "keyinit-go migrate: cannot write the manifest in %s: %v; nothing changed\n", stateDir, err)
		return exitUsage
	}
	for i, m := range changes {
		if err := replaceFile(m.path, m.after); err != nil {
			fmt.Fprintf(stderr, "keyinit-go migrate: replace %s: %v; %d of %d file(s) were migrated: \"keyinit-go migrate --revert\" undoes them\n",
				m.path, err, i, len(changes))
			return exitUsage
		}
	}
	fmt.Fprintf(stdout, "migrated %d file(s); originals and manifest in %s; \"keyinit-go migrate --revert\" undoes it\n", len(changes), stateDir)
	return exitOK
}

// checkResult runs "check" over every service of pamDir (and the named
// files), reading the planned files as they would be after the change.
func checkResult(changes []migration, targets []checkTarget, pamDir, moduleDir string) checkReport {
	after := map[string][]byte{}
	for _, m := range changes {
		after[m.path] = m.after
	}
	read := func(p string) ([]byte, error) {
		if abs, err := filepath.Abs(realPath(p)); err == nil {
			if b, ok := after[abs]; ok {
				return b, nil
			}
		}
		return os.ReadFile(p)
	}
	all, _ := checkTargets(nil, pamDir)
	// Without the limits rule: it only warns, and --apply refuses on errors.
	return checkAll(append(all, targets...), pamDir, moduleDir, nil, read)
}

// missingModuleFiles lists the files of the module (the front libpam loads
// and the Go core the front loads) that moduleDir lacks. Both are needed:
// with the front alone every migrated line would fail its session.
func missingModuleFiles(moduleDir string) []string {
	var missing []string
	for _, f := range []string{pamconf.GoModule, pamconf.GoCore} {
		if p := filepath.Join(moduleDir, f); !fileExists(p) {
			missing = append(missing, p)
		}
	}
	return missing
}
