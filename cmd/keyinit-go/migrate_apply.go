package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"pam_keyinit_go/internal/pamconf"
	"pam_keyinit_go/internal/trust"
)

// applyMigration writes the plan, or refuses with one line on stderr and
// exitFindings before writing anything. A file changed since it was read
// is left, with one line, the others are written, and it returns
// exitFindings.
//
// The order makes a migration killed at any point recoverable: each
// original and the manifest entry (marked pending) are on disk before its
// file is renamed over, and each file is renamed only if it is still what
// was read. A later --apply settles pending entries (settle) and --revert
// undoes whatever was done.
//
// The authselect part (as, nil if none) goes first: its failure stops
// before any file is written (migrate_authselect_apply.go).
func applyMigration(plan []migration, as *authselectPlan, targets []checkTarget, pamDir, moduleDir, stateDir string, stdout, stderr io.Writer) int {
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
	realPamDir, err := filepath.EvalSymlinks(pamDir)
	if err == nil {
		realPamDir, err = filepath.Abs(realPamDir)
	}
	if err != nil {
		return refuse("%v", err)
	}
	var predicted []migration
	if as != nil {
		predicted = as.files
		if as.err != nil && !errors.Is(as.err, errCustomExists) {
			return refuse("%v", as.err)
		}
	}
	entries, code := checkApply(changes, predicted, targets, pamDir, realPamDir, moduleDir, stdout, refuse)
	if code != exitOK {
		return code
	}
	st, err := openState(stateDir, len(changes) > 0 || as != nil)
	if err != nil {
		return refuse("%v", err)
	}
	if st == nil {
		fmt.Fprintln(stdout, "nothing to migrate: no pam_keyinit.so line that can be changed")
		return exitOK
	}
	defer st.close()
	for _, f := range st.man.Files {
		if err := st.man.writable(f); err != nil {
			return refuse("the manifest %s records %q, which --revert would not put back: %v; fix or remove that entry", manifestPath(st.dir), f.Path, err)
		}
	}
	if err := st.settle(stdout); err != nil {
		return refuse("cannot finish the interrupted migration recorded in %s: %v", st.dir, err)
	}
	if undone, err := st.settleAuthselect(stdout); err != nil {
		return refuse("cannot finish the interrupted migration recorded in %s: %v", st.dir, err)
	} else if undone && as != nil {
		as = replanAuthselect(as, pamDir)
	}
	if len(changes) == 0 && as == nil {
		fmt.Fprintln(stdout, "nothing to migrate: no pam_keyinit.so line that can be changed")
		return exitOK
	}
	if !st.man.empty() && st.man.PamDir != realPamDir {
		return refuse("the manifest %s records a migration of %s: revert it first, or pass another --state-dir", manifestPath(st.dir), st.man.PamDir)
	}
	if as != nil && st.man.Authselect != nil {
		return refuse("the manifest %s records that authselect was asked to select %s, and %s name pam_keyinit.so again: authselect has undone the switch; "+
			"run \"keyinit-go migrate --revert\" first, then migrate again", manifestPath(st.dir), st.man.Authselect.Custom, authselectNames(as))
	}
	if as != nil && as.err != nil {
		return refuse("%v", as.err)
	}
	for _, m := range changes {
		if st.man.find(m.path) >= 0 {
			return refuse("%s was migrated before and names pam_keyinit.so again: run \"keyinit-go migrate --revert\" first", m.path)
		}
	}

	if as != nil {
		if err := st.applyAuthselect(as, realPamDir, stdout); err != nil {
			fmt.Fprintf(stderr, "keyinit-go migrate: authselect: %v\n", err)
			return exitUsage
		}
		if len(changes) == 0 {
			fmt.Fprintf(stdout, "migrated %s through authselect (%s selected); manifest in %s; \"keyinit-go migrate --revert\" undoes it\n", authselectNames(as), authselectCustom, st.dir)
			return exitOK
		}
	}

	// Record first: the originals, then the entries, pending.
	st.man.PamDir = realPamDir
	for _, m := range changes {
		if err := st.keep(m); err != nil {
			fmt.Fprintf(stderr, "keyinit-go migrate: cannot keep the original of %s in %s: %v; nothing changed\n", m.path, st.dir, err)
			return exitUsage
		}
	}
	st.man.Files = append(st.man.Files, entries...)
	if err := st.save(); err != nil {
		fmt.Fprintf(stderr, "keyinit-go migrate: cannot write the manifest in %s: %v; nothing changed\n", st.dir, err)
		return exitUsage
	}

	replaced, changed, failed := replaceAll(changes, stderr)
	// The manifest keeps only the files replaced.
	ours := map[string]bool{}
	for _, m := range changes {
		ours[m.path] = true
	}
	var files []manifestFile
	for _, f := range st.man.Files {
		if ours[f.Path] {
			if !replaced[f.Path] {
				st.forget(f.Path)
				continue
			}
			f.Pending, f.Dev, f.Ino = false, 0, 0
		}
		files = append(files, f)
	}
	st.man.Files = files
	if err := st.save(); err != nil {
		fmt.Fprintf(stderr, "keyinit-go migrate: update the manifest in %s: %v; %d file(s) were migrated: \"keyinit-go migrate --revert\" undoes them\n",
			st.dir, err, len(replaced))
		return exitUsage
	}
	switch {
	case failed != nil:
		fmt.Fprintf(stderr, "keyinit-go migrate: %v; %d of %d file(s) were migrated: \"keyinit-go migrate --revert\" undoes them\n",
			failed, len(replaced), len(changes))
		return exitUsage
	case changed > 0:
		fmt.Fprintf(stdout, "migrated %d of %d file(s); originals and manifest in %s; \"keyinit-go migrate --revert\" undoes it\n", len(replaced), len(changes), st.dir)
		return exitFindings
	}
	via := ""
	if as != nil {
		via = fmt.Sprintf(", and %s through authselect (%s selected)", authselectNames(as), authselectCustom)
	}
	fmt.Fprintf(stdout, "migrated %d file(s)%s; originals and manifest in %s; \"keyinit-go migrate --revert\" undoes it\n", len(changes), via, st.dir)
	return exitOK
}

// checkApply is every refusal that needs no state: the module, the result,
// the files. It returns the manifest entries of the changes, pending.
// predicted are authselect's files as its select will write them: "check"
// of the result reads them so.
func checkApply(changes, predicted []migration, targets []checkTarget, pamDir, realPamDir, moduleDir string, stdout io.Writer, refuse func(string, ...any) int) ([]manifestFile, int) {
	if len(changes) == 0 && len(predicted) == 0 {
		return nil, exitOK
	}
	if missing := missingModuleFiles(moduleDir); len(missing) > 0 {
		return nil, refuse("the module is not fully installed in %s, where libpam loads modules from: %s missing; install the package (or \"make install\") first",
			moduleDir, strings.Join(missing, " and "))
	}
	if err := trust.Core(filepath.Join(moduleDir, pamconf.GoCore)); err != nil {
		return nil, refuse("a root host would not load the Go core in %s, where libpam loads modules from: %v; give it the owner and mode the package installs",
			moduleDir, err)
	}
	if rep := checkResult(append(append([]migration(nil), changes...), predicted...), targets, pamDir, moduleDir); rep.Errors > 0 {
		fmt.Fprintln(stdout, "keyinit-go check of the result:")
		rep.writeText(stdout)
		return nil, refuse("\"keyinit-go check\" of the result finds %d error(s) (listed above): fix them, then apply", rep.Errors)
	}
	var entries []manifestFile
	scope := manifest{PamDir: realPamDir}
	for _, m := range changes {
		if err := notReplaceable(m.path); err != nil {
			return nil, refuse("%v", err)
		}
		f := manifestFile{Path: m.path, Before: sha256Hex(m.before), After: sha256Hex(m.after), Pending: true, Dev: m.was.dev, Ino: m.was.ino}
		if link := filepath.Join(realPamDir, filepath.Base(m.name)); link != m.path {
			if r, err := filepath.EvalSymlinks(link); err == nil && r == m.path {
				f.Link = link
			}
		}
		if err := scope.writable(f); err != nil {
			return nil, refuse("%s (%s): %v; --revert puts back only files of the PAM directory: pass the directory as --pam-dir", m.name, m.path, err)
		}
		entries = append(entries, f)
	}
	return entries, exitOK
}

// replaceAll replaces each file that is still as read. A file changed
// meanwhile is left, with a line; an error stops the rest.
func replaceAll(changes []migration, stderr io.Writer) (replaced map[string]bool, changed int, failed error) {
	replaced = map[string]bool{}
	for _, m := range changes {
		err := replaceIfUnchanged(m.path, m.was, m.after)
		switch {
		case err == nil:
			replaced[m.path] = true
		case errors.Is(err, errChanged):
			fmt.Fprintf(stderr, "keyinit-go migrate: %s changed while migrate ran: left as it is; run migrate again\n", m.name)
			changed++
		default:
			return replaced, changed, fmt.Errorf("replace %s: %v", m.path, err)
		}
	}
	return replaced, changed, nil
}

// settle finishes what a killed --apply left: a pending entry whose file
// holds what --apply wrote is done; one whose file is the original (the
// same inode, edited in place or not, or the original bytes) was never
// replaced and is dropped. Any other stays pending, for --revert to show.
func (st *state) settle(stdout io.Writer) error {
	var files []manifestFile
	done, dropped := 0, 0
	for _, f := range st.man.Files {
		removeTemps(filepath.Dir(f.Path), filepath.Base(f.Path))
		if f.Pending {
			cur, err := readNoFollow(f.Path)
			switch h := sha256Hex(cur.data); {
			case err != nil:
			case h == f.After:
				f.Pending, f.Dev, f.Ino = false, 0, 0
				done++
			case h == f.Before || cur.dev == f.Dev && cur.ino == f.Ino:
				st.forget(f.Path)
				dropped++
				continue
			}
		}
		files = append(files, f)
	}
	if done+dropped == 0 {
		return nil
	}
	st.man.Files = files
	if err := st.save(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "finished the migration a killed --apply left: %d file(s) it replaced recorded, %d it never replaced forgotten\n", done, dropped)
	return nil
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
