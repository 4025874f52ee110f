package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"pam_keyinit_go/cmd/keyinit-go/internal/udiff"
)

// runRevert puts back every file the manifest records that is still as
// --apply wrote it; a file changed since is reported and left alone (and
// stays in the manifest), and so is an entry outside the PAM directory
// recorded at apply time (manifest.writable).
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
	migrated, _ := os.ReadFile(keptFile(st.dir, f.Path, ".new"))
	fmt.Fprintf(stderr, "keyinit-go migrate: %s changed after the migration: left alone; the diff below goes from what --apply wrote to what is there now; "+
		"to revert it anyway, copy %s over it and run --revert again\n", f.Path, keptFile(st.dir, f.Path, ".orig"))
	fmt.Fprint(stdout, udiff.Unified(f.Path, migrated, cur.data))
	return true, false
}
