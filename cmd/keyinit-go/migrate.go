package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"pam_keyinit_go/cmd/keyinit-go/internal/pamconf"
	"pam_keyinit_go/cmd/keyinit-go/internal/udiff"
)

const migrateHelp = `Usage: keyinit-go migrate [--apply | --revert] [--pam-dir DIR] [--module-dir DIR] [--state-dir DIR] [FILE|SERVICE...]

Switches PAM service files from pam_keyinit.so to pam_keyinit_go.so, and back.

Without --apply or --revert it writes nothing: it prints, as a unified diff
(patch -p0 applies it), what --apply would change. In every line that names
pam_keyinit.so only the module name changes, to pam_keyinit_go.so: the
control, the options, the place in the stack, comments and blanks stay. It
reports, and leaves as they are:
  - lines that name the module by absolute path when that directory has no
    pam_keyinit_go.so (write the path of the installed module yourself);
  - lines inside pam-auth-update's managed block of the common-* files (use
    "pam-auth-update --enable keyinit-go", and disable the profile that adds
    pam_keyinit.so).
With no FILE or SERVICE, every file in --pam-dir that names pam_keyinit.so.

--apply refuses, changing nothing, when pam_keyinit_go.so is not in the
module directory, when "keyinit-go check" of the result finds an error, or
when a file cannot be replaced. Otherwise it keeps each original and a
manifest (path, sha256 before and after) in --state-dir, then replaces each
file atomically (temporary file in its directory, fsync, rename) with the
owner, mode and extended attributes (SELinux label) of the original.

--revert puts back, byte for byte, every file still as --apply left it. A
file changed since is left alone and reported with a diff from what --apply
wrote to what is there now.

Exit status: 0 done (or, without --apply, every line can be migrated);
1 refused, a line left unmigrated, or a file left unreverted; 2 bad usage or
could not run.
`

// migration is what "migrate" does with one file.
type migration struct {
	name   string // as shown: the argument, or --pam-dir/NAME
	path   string // the file written: symbolic links resolved, absolute
	before []byte
	after  []byte
	notes  []migrateNote
}

// migrateNote is a line left as it was (left) or something to know.
type migrateNote struct {
	pos  pamconf.Pos
	msg  string
	left bool
}

func (n migrateNote) String() string { return fmt.Sprintf("%s: %s", n.pos, n.msg) }

func runMigrate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("migrate", migrateHelp, stderr)
	apply := fs.Bool("apply", false, "write the change (see above)")
	revert := fs.Bool("revert", false, "put back the files --apply changed")
	pamDir := fs.String("pam-dir", "/etc/pam.d", "the PAM service `DIR`")
	moduleDir := fs.String("module-dir", "", "the system PAM module `DIR` (default: found by looking for pam_permit.so)")
	stateDir := fs.String("state-dir", "/var/lib/keyinit-go", "where --apply keeps the originals and the manifest, as `DIR`")
	pos, help, err := parseArgs(fs, args, stdout)
	switch {
	case help:
		return exitOK
	case err != nil:
		return usageError(stderr, "migrate", err)
	case *apply && *revert:
		return usageError(stderr, "migrate", fmt.Errorf("--apply and --revert exclude each other"))
	case *revert && len(pos) > 0:
		return usageError(stderr, "migrate", fmt.Errorf("--revert takes no files: it reverts what the manifest in --state-dir records"))
	case *revert:
		return runRevert(*stateDir, stdout, stderr)
	}
	if *moduleDir == "" {
		if *moduleDir, err = defaultModuleDir(); err != nil {
			return usageError(stderr, "migrate", err)
		}
	}
	targets, err := checkTargets(pos, *pamDir)
	if err != nil {
		return usageError(stderr, "migrate", err)
	}
	plan, err := planMigration(targets, len(pos) == 0)
	if err != nil {
		return usageError(stderr, "migrate", err)
	}
	left := 0
	for _, m := range plan {
		fmt.Fprint(stdout, udiff.Unified(m.name, m.before, m.after))
		for _, n := range m.notes {
			fmt.Fprintf(stderr, "keyinit-go migrate: %s\n", n)
			if n.left {
				left++
			}
		}
	}
	if *apply {
		return applyMigration(plan, targets, *pamDir, *moduleDir, *stateDir, stdout, stderr)
	}
	if left > 0 {
		return exitFindings
	}
	return exitOK
}

// planMigration reads each target once (two names of one file count once)
// and works out its change. With onlyKeyinit, files that name no
// pam_keyinit.so are skipped quietly.
func planMigration(targets []checkTarget, onlyKeyinit bool) ([]migration, error) {
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
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		after, notes := migrateText(t.file, data)
		if onlyKeyinit && bytes.Equal(after, data) && len(notes) == 0 {
			continue
		}
		plan = append(plan, migration{name: t.file, path: p, before: data, after: after, notes: notes})
	}
	return plan, nil
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
		if filepath.IsAbs(mod) && !fileExists(mod) {
			notes = append(notes, migrateNote{p.Pos, fmt.Sprintf("not migrated: the line names the module by absolute path and %s has no %s; "+
				"install it there or write the path of the installed module yourself", filepath.Dir(mod), pamconf.GoModule), true})
			continue
		}
		out = append(out[:p.ModuleAt:p.ModuleAt], append([]byte(mod), out[p.ModuleAt+len(p.Module):]...)...)
	}
	if !bytes.Equal(out, data) && bytes.Contains(data, []byte("Generated by authselect")) {
		notes = append(notes, migrateNote{pamconf.Pos{File: file, Line: 1}, "generated by authselect: \"authselect apply-changes\" or \"authselect select\" " +
			"will write pam_keyinit.so back; to keep the change, make a custom profile (authselect create-profile) with pam_keyinit_go.so", false})
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
