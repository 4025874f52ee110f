package main

import (
	"fmt"
	"io"
	"os"

	"pam_keyinit_go/cmd/keyinit-go/internal/udiff"
)

// runRevert puts back every file the manifest records that is still as
// --apply wrote it; a file changed since is reported and left alone (and
// stays in the manifest).
func runRevert(stateDir string, stdout, stderr io.Writer) int {
	man, err := loadManifest(stateDir)
	if err != nil {
		fmt.Fprintf(stderr, "keyinit-go migrate: %v\n", err)
		return exitUsage
	}
	if len(man.Files) == 0 {
		fmt.Fprintf(stdout, "nothing to revert: no migration is recorded in %s\n", stateDir)
		return exitOK
	}
	var left []manifestFile
	reverted := 0
	for _, f := range man.Files {
		orig, err := os.ReadFile(keptFile(stateDir, f.Path, ".orig"))
		if err == nil && sha256Hex(orig) != f.Before {
			err = fmt.Errorf("the kept original does not match its checksum")
		}
		if err != nil {
			fmt.Fprintf(stderr, "keyinit-go migrate: %s: cannot revert: %v; left alone\n", f.Path, err)
			left = append(left, f)
			continue
		}
		cur, err := os.ReadFile(f.Path)
		if err != nil {
			fmt.Fprintf(stderr, "keyinit-go migrate: %s: %v; left alone\n", f.Path, err)
			left = append(left, f)
			continue
		}
		switch sha256Hex(cur) {
		case f.Before: // never replaced (an interrupted --apply), or put back by hand
			fmt.Fprintf(stdout, "%s: already as before the migration\n", f.Path)
		case f.After:
			if err := replaceFile(f.Path, orig); err != nil {
				fmt.Fprintf(stderr, "keyinit-go migrate: %s: cannot revert: %v; left alone\n", f.Path, err)
				left = append(left, f)
				continue
			}
			reverted++
			fmt.Fprintf(stdout, "%s: reverted\n", f.Path)
		default:
			migrated, _ := os.ReadFile(keptFile(stateDir, f.Path, ".new"))
			fmt.Fprintf(stderr, "keyinit-go migrate: %s changed after the migration: left alone; the diff below goes from what --apply wrote to what is there now; "+
				"to revert it anyway, copy %s over it and run --revert again\n", f.Path, keptFile(stateDir, f.Path, ".orig"))
			fmt.Fprint(stdout, udiff.Unified(f.Path, migrated, cur))
			left = append(left, f)
		}
	}
	man.Files = left
	if err := saveManifest(stateDir, man); err != nil {
		fmt.Fprintf(stderr, "keyinit-go migrate: update the manifest in %s: %v\n", stateDir, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "reverted %d file(s), %d left alone\n", reverted, len(left))
	if len(left) > 0 {
		return exitFindings
	}
	return exitOK
}
