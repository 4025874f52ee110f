package main

import (
	"bytes"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"pam_keyinit_go/cmd/keyinit-go/internal/udiff"
	"pam_keyinit_go/internal/pamconf"
)

// migration is what "migrate" does with one file.
type migration struct {
	name   string   // as shown: the argument, or --pam-dir/NAME
	path   string   // the file written: symbolic links resolved, absolute
	was    readFile // as read, with its device and inode
	before []byte   // was.data
	after  []byte
	notes  []migrateNote
	// authselect: one of the files authselect writes (authselectDirOf),
	// which migrate changes through authselect, never directly.
	authselect bool
}

// migrateNote is a line left as it was (left) or something to know.
type migrateNote struct {
	pos  pamconf.Pos
	msg  string
	left bool
}

func (n migrateNote) String() string { return fmt.Sprintf("%s: %s", n.pos, n.msg) }

// runMigrate is "keyinit-go migrate"; usage.go has its help.
func runMigrate(c *cmdline, args []string) int {
	apply := c.flags.Bool("apply", false, "write the change (see above)")
	revert := c.flags.Bool("revert", false, "put back the files --apply changed")
	dirs := c.pamFlags("the PAM service `DIR`", "the system PAM module `DIR` (default: found by looking for pam_permit.so)")
	stateDir := c.flags.String("state-dir", defaultStateDir, "where --apply keeps the originals and the manifest, as `DIR`")
	setcred := c.flags.Bool("setcred-line", false, "also add \""+pamconf.SetcredLine+"\" first in the auth stack of each service check warns about with keys-before-session")
	pos, code, ok := c.parse(args, nil)
	switch {
	case !ok:
		return code
	case *apply && *revert:
		return c.fail(fmt.Errorf("--apply and --revert exclude each other"))
	case *revert && len(pos) > 0:
		return c.fail(fmt.Errorf("--revert takes no files: it reverts what the manifest in --state-dir records"))
	case *revert:
		return runRevert(*stateDir, c.stdout, c.stderr)
	}
	targets, err := dirs.targets(pos)
	if err != nil {
		return c.fail(err)
	}
	plan, err := planMigration(targets, len(pos) == 0, *setcred, *dirs.pamDir)
	if err != nil {
		return c.fail(err)
	}
	plan, as := splitAuthselect(plan, *dirs.pamDir)
	left := 0
	for _, m := range plan {
		fmt.Fprint(c.stdout, udiff.Unified(m.name, m.before, m.after))
		for _, n := range m.notes {
			fmt.Fprintf(c.stderr, "keyinit-go migrate: %s\n", n)
			if n.left {
				left++
			}
		}
	}
	if as != nil {
		as.write(c.stdout, c.stderr)
		if as.err != nil {
			left++
		}
	}
	if *apply {
		return applyMigration(plan, as, targets, *dirs.pamDir, *dirs.moduleDir, *stateDir, c.stdout, c.stderr)
	}
	// What changes for users: with the diff, which is where it is reviewed.
	writeUserNote(c.stderr, plan, as, *dirs.pamDir)
	if left > 0 {
		return exitFindings
	}
	return exitOK
}

// planMigration reads each target once (two names of one file count once)
// and works out its change. With onlyKeyinit, files that name no
// pam_keyinit.so (and, with setcred, get no auth line) are skipped quietly.
// With setcred, services that "check" warns about with keys-before-session
// get pamconf.SetcredLine first in their auth stack (migrate_setcred.go).
func planMigration(targets []checkTarget, onlyKeyinit, setcred bool, pamDir string) ([]migration, error) {
	var plan []migration
	seen := map[string]bool{}
	for _, t := range targets {
		p, err := filepath.Abs(realPath(t.file))
		if err != nil {
			return nil, err
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		was, err := readNoFollow(p)
		if err != nil {
			return nil, err
		}
		after, notes := migrateText(t.file, was.data)
		_, owned := authselectDirOf(p)
		plan = append(plan, migration{name: t.file, path: p, was: was, before: was.data, after: after, notes: notes, authselect: owned})
	}
	if setcred {
		addSetcredLines(plan, targets, pamDir)
	}
	if !onlyKeyinit {
		return plan, nil
	}
	var out []migration
	for _, m := range plan {
		if !bytes.Equal(m.after, m.before) || len(m.notes) > 0 {
			out = append(out, m)
		}
	}
	return out, nil
}

// Markers of the block pam-auth-update(8) writes and rewrites in common-*.
const (
	managedStart = `# here are the per-package modules (the "Primary" block)`
	managedEnd   = `# end of pam-auth-update config`
)

// migrateText changes the module name of each pam_keyinit.so line of a
// file and nothing else. Lines are found with pamconf (the parser "check"
// uses), so continuations, brackets and comments are read as libpam does.
func migrateText(file string, data []byte) ([]byte, []migrateNote) {
	placed, _ := pamconf.ParsePlaced(file, data)
	start, end := managedLines(data)
	var notes []migrateNote
	out := append([]byte(nil), data...)
	// From the last line back, so earlier offsets stay right.
	for i := len(placed) - 1; i >= 0; i-- {
		p := placed[i]
		if p.ModuleAt < 0 || path.Base(p.Module) != pamconf.CModule {
			continue
		}
		if p.Pos.Line > start && p.Pos.Line < end {
			notes = append(notes, migrateNote{p.Pos, "not migrated: the line is in pam-auth-update's managed block, which pam-auth-update rewrites; " +
				"disable the profile that adds pam_keyinit.so and run \"pam-auth-update --enable keyinit-go\" instead", true})
			continue
		}
		mod := strings.TrimSuffix(p.Module, pamconf.CModule) + pamconf.GoModule
		if missing := missingModuleFiles(filepath.Dir(mod)); filepath.IsAbs(mod) && len(missing) > 0 {
			notes = append(notes, migrateNote{p.Pos, fmt.Sprintf("not migrated: the line names the module by absolute path and %s is missing; "+
				"install the module there or write the path of the installed module yourself", strings.Join(missing, " and ")), true})
			continue
		}
		out = append(out[:p.ModuleAt:p.ModuleAt], append([]byte(mod), out[p.ModuleAt+len(p.Module):]...)...)
	}
	if _, owned := authselectDirOf(realPath(file)); !owned && !bytes.Equal(out, data) && bytes.Contains(data, []byte("Generated by authselect")) {
		notes = append(notes, migrateNote{pamconf.Pos{File: file, Line: 1}, "says it was generated by authselect, which does not manage it (no authselect.conf beside it): " +
			"migrated as a plain file; should authselect manage it again (\"authselect select\"), it writes pam_keyinit.so back", false})
	}
	// Notes in file order: they were found from the end.
	for i, j := 0, len(notes)-1; i < j; i, j = i+1, j-1 {
		notes[i], notes[j] = notes[j], notes[i]
	}
	return out, notes
}

// managedLines returns the lines of pam-auth-update's markers (0, 0 if none):
// lines strictly between them are pam-auth-update's.
func managedLines(data []byte) (start, end int) {
	for i, l := range strings.Split(string(data), "\n") {
		switch strings.TrimSpace(l) {
		case managedStart:
			start = i + 1
		case managedEnd:
			if start > 0 {
				return start, i + 1
			}
		}
	}
	return 0, 0
}
