package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"pam_keyinit_go/cmd/keyinit-go/internal/udiff"
	"pam_keyinit_go/internal/pamconf"
)

// namesGoModule says whether a line of the pam.d file data names
// pam_keyinit_go.so (by name or path; comments and includes do not count).
func namesGoModule(file string, data []byte) bool {
	lines, _ := pamconf.Parse(file, data)
	for _, l := range lines {
		if _, inc := l.IncludesFile(); !inc && path.Base(l.Module) == pamconf.GoModule {
			return true
		}
	}
	return false
}

// gone says whether f's file is no longer there while the PAM directory
// recorded at apply time still is (reached as recorded): a file removed
// since (its package purged) names no module, and is not put back.
func (m manifest) gone(f manifestFile) bool {
	if !cleanAbs(m.PamDir) || !cleanAbs(f.Path) {
		return false
	}
	if real, err := filepath.EvalSymlinks(m.PamDir); err != nil || real != m.PamDir {
		return false
	}
	_, err := os.Lstat(f.Path)
	return errors.Is(err, fs.ErrNotExist)
}

// runRevert puts back every file the manifest records that is still as
// --apply wrote it; a file changed since is reported and left alone (and
// stays in the manifest), and so is an entry outside the PAM directory
// recorded at apply time (manifest.writable). A file that names
// pam_keyinit_go.so no more (edited since, or gone) is forgotten: nothing
// of the migration is left in it, so removing the package, whose scripts
// run --revert, can go on (packaging/prerm).
func runRevert(stateDir string, stdout, stderr io.Writer) int {
	st, err := openState(stateDir, false)
	if err != nil {
		fmt.Fprintf(stderr, "keyinit-go migrate: refusing to revert: %v\n", err)
		return exitFindings
	}
	if st == nil || st.man.empty() {
		if st != nil {
			st.close()
		}
		fmt.Fprintf(stdout, "nothing to revert: no migration is recorded in %s\n", stateDir)
		return exitOK
	}
	defer st.close()
	authselectLeft := false
	if st.man.Authselect != nil {
		if st.undoAuthselect(stdout, stderr) {
			st.man.Authselect = nil
		} else {
			authselectLeft = true
		}
	}
	var left []manifestFile
	reverted := 0
	for _, f := range st.man.Files {
		keep, done := st.revert(f, stdout, stderr)
		if keep {
			left = append(left, f)
		}
		if done {
			reverted++
		}
	}
	st.man.Files = left
	if err := st.save(); err != nil {
		fmt.Fprintf(stderr, "keyinit-go migrate: update the manifest in %s: %v\n", st.dir, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "reverted %d file(s), %d left alone\n", reverted, len(left))
	if authselectLeft {
		fmt.Fprintln(stdout, "what authselect was asked to do is left as it is (see above)")
	}
	if len(left) > 0 || authselectLeft {
		return exitFindings
	}
	return exitOK
}

// revert puts one file back, or says in one line why not. keep says
// whether its entry stays in the manifest, reverted whether it was put back.
func (st *state) revert(f manifestFile, stdout, stderr io.Writer) (keep, reverted bool) {
	left := func(format string, a ...any) (bool, bool) {
		fmt.Fprintf(stderr, "keyinit-go migrate: "+format+"\n", a...)
		return true, false
	}
	if st.man.gone(f) {
		fmt.Fprintf(stdout, "%s: gone since the migration: forgotten\n", f.Path)
		st.forget(f.Path)
		return false, false
	}
	if err := st.man.writable(f); err != nil {
		return left("refusing to revert %q: %v; left alone", f.Path, err)
	}
	removeTemps(filepath.Dir(f.Path), filepath.Base(f.Path))
	orig, err := os.ReadFile(keptFile(st.dir, f.Path, ".orig"))
	if err == nil && sha256Hex(orig) != f.Before {
		err = fmt.Errorf("the kept original does not match its checksum")
	}
	if err != nil {
		return left("%s: cannot revert: %v; left alone", f.Path, err)
	}
	cur, err := readNoFollow(f.Path)
	if err != nil {
		return left("%v; left alone", err)
	}
	switch sha256Hex(cur.data) {
	case f.Before: // never replaced (an interrupted --apply), or put back by hand
		fmt.Fprintf(stdout, "%s: already as before the migration\n", f.Path)
		st.forget(f.Path)
		return false, false
	case f.After:
		err := replaceIfUnchanged(f.Path, cur, orig)
		if errors.Is(err, errChanged) {
			return left("%s changed while migrate ran: left as it is; run migrate --revert again", f.Path)
		}
		if err != nil {
			return left("%s: cannot revert: %v; left alone", f.Path, err)
		}
		st.forget(f.Path)
		fmt.Fprintf(stdout, "%s: reverted\n", f.Path)
		return false, true
	}
	if f.Pending && cur.dev == f.Dev && cur.ino == f.Ino {
		// A killed --apply never replaced it; it was edited since.
		fmt.Fprintf(stdout, "%s: never migrated (the --apply that recorded it was interrupted), edited since: left as it is\n", f.Path)
		st.forget(f.Path)
		return false, false
	}
	if !namesGoModule(f.Path, cur.data) {
		// Put back or taken out by hand: nothing of the migration is left.
		fmt.Fprintf(stdout, "%s: edited since the migration and names %s no more: left as it is, forgotten\n", f.Path, pamconf.GoModule)
		st.forget(f.Path)
		return false, false
	}
	migrated, _ := os.ReadFile(keptFile(st.dir, f.Path, ".new"))
	fmt.Fprintf(stderr, "keyinit-go migrate: %s changed after the migration: left alone; the diff below goes from what --apply wrote to what is there now; "+
		"to revert it anyway, copy %s over it and run --revert again\n", f.Path, keptFile(st.dir, f.Path, ".orig"))
	fmt.Fprint(stdout, udiff.Unified(f.Path, migrated, cur.data))
	return true, false
}
