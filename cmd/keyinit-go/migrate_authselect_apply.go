package main

// --apply, --revert, and the settling of a killed --apply, for the part of
// a migration that goes through authselect (migrate_authselect.go).
//
// --apply keeps every file of authselect's directory (and authselect 1.2's
// copies of them) and records the profile and features in use, pending,
// before it runs anything; then create-profile, the templates switched
// (each atomically, as pam.d files), the templates recorded, the select,
// and the record marked done. Killed at any point, the record says what to
// undo: --revert selects the recorded profile again if custom/keyinit-go is
// selected, puts back the bytes of authselect's files, and removes the
// profile; --apply again finishes a run killed after its select, and
// undoes (then does anew) one killed before.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"pam_keyinit_go/cmd/keyinit-go/internal/udiff"
)

// manifestAuthselect is what --apply asked authselect to do.
type manifestAuthselect struct {
	// ConfigDir is authselect's directory (a real path), into which links
	// of the manifest's PamDir lead.
	ConfigDir string `json:"config_dir"`
	// Profile and Features were in use before, Features in authselect.conf's order.
	Profile  string   `json:"profile"`
	Features []string `json:"features"`
	// Custom is the profile --apply made and selected: custom/keyinit-go.
	Custom string `json:"custom"`
	// Kept are authselect's files as they were before (Before, their
	// sha256), each kept as STATE/files/HASH.orig: every file of ConfigDir
	// and authselect 1.2's copies of them (authselectCopyDir).
	Kept []manifestFile `json:"kept"`
	// Templates are Custom's PAM templates as create-profile made them
	// (Before) and as --apply left them (After).
	Templates []manifestFile `json:"templates,omitempty"`
	// Pending: recorded before create-profile, until the select is done
	// and checked.
	Pending bool `json:"pending,omitempty"`
}

func (r *manifestAuthselect) keptFiles() []manifestFile { return r.Kept }

// errCustomExists: custom/keyinit-go is there already, maybe from a
// killed --apply, which only the state can tell (existsError is one).
var errCustomExists = errors.New("custom profile exists")

type existsError struct{ error }

func (existsError) Is(target error) bool { return target == errCustomExists }

// authselectKeepList is every file --apply keeps of authselect's: the
// regular files of its directory and authselect 1.2's copies.
func authselectKeepList(configDir string) ([]string, error) {
	ents, err := os.ReadDir(configDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			out = append(out, filepath.Join(configDir, e.Name()))
		}
	}
	for _, name := range authselectCopies {
		p := filepath.Join(authselectCopyDir(configDir), name)
		if st, err := os.Lstat(p); err == nil && st.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	return out, nil
}

// applyAuthselect does the authselect part of --apply, before the plain
// files. A failure before the select is done is undone on the spot
// ("nothing changed"); after it, the record stays for --revert.
func (st *state) applyAuthselect(a *authselectPlan, realPamDir string, stdout io.Writer) error {
	rec := &manifestAuthselect{ConfigDir: a.configDir, Profile: a.profile, Features: a.features, Custom: authselectCustom, Pending: true}
	kept, err := authselectKeepList(a.configDir)
	if err != nil {
		return fmt.Errorf("%v; nothing changed", err)
	}
	for _, p := range kept {
		was, err := readNoFollow(p)
		if err == nil {
			err = writeNew(keptFile(st.dir, p, ".orig"), was.data)
		}
		if err != nil {
			for _, k := range rec.Kept {
				st.forget(k.Path)
			}
			return fmt.Errorf("cannot keep %s in %s: %v; nothing changed", p, st.dir, err)
		}
		rec.Kept = append(rec.Kept, manifestFile{Path: p, Before: sha256Hex(was.data)})
	}
	st.man.PamDir = realPamDir
	st.man.Authselect = rec
	if err := st.save(); err != nil {
		st.man.Authselect = nil
		for _, k := range rec.Kept {
			st.forget(k.Path)
		}
		return fmt.Errorf("cannot write the manifest in %s: %v; nothing changed", st.dir, err)
	}
	var undoLog bytes.Buffer
	undo := func(why error) error {
		if st.undoAuthselect(&undoLog, &undoLog) {
			st.man.Authselect = nil
			if err := st.save(); err == nil {
				return fmt.Errorf("%v; undone: nothing changed", why)
			}
		}
		return fmt.Errorf("%v; then, undoing it: %s; \"keyinit-go migrate --revert\" undoes what was done", why, oneLineOf(undoLog.String()))
	}

	create, sel := a.commands()
	step("authselect", "create-profile")
	if out, err := authselectRun(a.tool, "create-profile", authselectName, "--base-on", a.profile); err != nil {
		return undo(fmt.Errorf("%s: %v (%s)", create, err, out))
	}
	fmt.Fprintf(stdout, "ran: %s\n", create)
	dir := filepath.Join(a.configDir, "custom", authselectName)
	switched := 0
	for _, name := range authselectPamFiles {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		was, err := readNoFollow(p) // create-profile copies: a symbolic link is not ours to write through
		if err != nil {
			return undo(fmt.Errorf("the template %v", err))
		}
		after, _ := migrateText(p, was.data)
		if !bytes.Equal(after, was.data) {
			if i := slices.IndexFunc(a.templates, func(t migration) bool { return t.name == p }); i < 0 || !bytes.Equal(a.templates[i].before, was.data) {
				fmt.Fprint(stdout, "# (as create-profile made it)\n"+udiff.Unified(p, was.data, after))
			}
			if err := replaceIfUnchanged(p, was, after); err != nil {
				return undo(fmt.Errorf("switch %s: %v", p, err))
			}
			switched++
		}
		rec.Templates = append(rec.Templates, manifestFile{Path: p, Before: sha256Hex(was.data), After: sha256Hex(after)})
	}
	if switched == 0 {
		return undo(fmt.Errorf("the templates of %s (%s) name no pam_keyinit.so", authselectCustom, dir))
	}
	if err := st.save(); err != nil {
		return undo(fmt.Errorf("cannot write the manifest in %s: %v", st.dir, err))
	}
	step("authselect", "select")
	if out, err := authselectRun(a.tool, append([]string{"select", authselectCustom}, a.features...)...); err != nil {
		return undo(fmt.Errorf("%s: %v (%s)", sel, err, out))
	}
	fmt.Fprintf(stdout, "ran: %s\n", sel)
	if err := authselectDone(a.tool, rec); err != nil {
		return fmt.Errorf("after %s: %v; \"keyinit-go migrate --revert\" undoes it", sel, err)
	}
	rec.Pending = false
	if err := st.save(); err != nil {
		return fmt.Errorf("update the manifest in %s: %v; \"keyinit-go migrate --revert\" undoes the switch", st.dir, err)
	}
	return nil
}

// authselectDone says why the switch the record describes is not (or no
// longer) in place, or nil: custom/keyinit-go selected with the features
// in use, none of authselect's PAM files naming pam_keyinit.so, and
// authselect's own check passing.
func authselectDone(tool string, rec *manifestAuthselect) error {
	profile, features, err := readAuthselectConf(rec.ConfigDir)
	if err != nil {
		return err
	}
	if err := authselectManages(tool, rec.ConfigDir, profile, features); err != nil {
		return err
	}
	if profile != rec.Custom {
		return fmt.Errorf("the profile in use is %s, not %s", profile, rec.Custom)
	}
	if files := authselectCFiles(rec.ConfigDir); len(files) > 0 {
		return fmt.Errorf("%s still %s pam_keyinit.so", strings.Join(files, ", "), plural(len(files), "names", "name"))
	}
	if out, err := authselectRun(tool, "check"); err != nil {
		return fmt.Errorf("\"authselect check\" fails (%s)", out)
	}
	return nil
}

// authselectCFiles lists the PAM files of authselect's directory that have
// a pam_keyinit.so line.
func authselectCFiles(configDir string) []string {
	var out []string
	for _, name := range authselectPamFiles {
		p := filepath.Join(configDir, name)
		if b, err := os.ReadFile(p); err == nil && hasCModuleLine(p, b) {
			out = append(out, p)
		}
	}
	return out
}

// authselectScope says why --revert must not act on the record, or nil:
// authselect's directory must be one the links of the PAM directory
// recorded at apply time lead into, and every file the record names must
// be in it (or in authselect 1.2's copies beside it) or in the profile
// --apply made.
func (m manifest) authselectScope(r *manifestAuthselect) error {
	if r.Custom != authselectCustom {
		return fmt.Errorf("the manifest records the profile %q; keyinit-go makes only %s", r.Custom, authselectCustom)
	}
	if !authselectWord(r.Profile) {
		return fmt.Errorf("the manifest records the profile %q, not a profile name", r.Profile)
	}
	for _, f := range r.Features {
		if !authselectWord(f) {
			return fmt.Errorf("the manifest records the feature %q, not a feature name", f)
		}
	}
	if !cleanAbs(r.ConfigDir) || realPath(r.ConfigDir) != r.ConfigDir || !fileExists(filepath.Join(r.ConfigDir, "authselect.conf")) {
		return fmt.Errorf("the manifest records authselect's directory %q, which is not an absolute path without \"..\" or symbolic links that holds authselect.conf", r.ConfigDir)
	}
	linked := false
	for _, name := range authselectPamFiles {
		if t, err := filepath.EvalSymlinks(filepath.Join(m.PamDir, name)); err == nil && filepath.Dir(t) == r.ConfigDir {
			linked = true
		}
	}
	if !linked {
		return fmt.Errorf("no file of %s, the PAM directory recorded at apply time, leads into %s, the authselect directory recorded", m.PamDir, r.ConfigDir)
	}
	custom := filepath.Join(r.ConfigDir, "custom", authselectName)
	for _, f := range r.Kept {
		if d := filepath.Dir(f.Path); !cleanAbs(f.Path) || d != r.ConfigDir && d != authselectCopyDir(r.ConfigDir) || realPath(d) != d {
			return fmt.Errorf("the manifest records %q, which is not a file of %s or of %s", f.Path, r.ConfigDir, authselectCopyDir(r.ConfigDir))
		}
	}
	for _, f := range r.Templates {
		if !cleanAbs(f.Path) || filepath.Dir(f.Path) != custom {
			return fmt.Errorf("the manifest records the template %q, which is not in %s", f.Path, custom)
		}
	}
	return nil
}

// undoAuthselect undoes what the record says --apply asked authselect to
// do, as far as it went: selects the recorded profile again (with the
// features in use now) when custom/keyinit-go is selected, puts back the
// bytes of authselect's files, and removes the profile. It returns false,
// having said why in one line, when something is left: the record then
// stays, and --revert tries again.
func (st *state) undoAuthselect(stdout, stderr io.Writer) bool {
	rec := st.man.Authselect
	left := func(format string, a ...any) bool {
		fmt.Fprintf(stderr, "keyinit-go migrate: "+format+"\n", a...)
		return false
	}
	if err := st.man.authselectScope(rec); err != nil {
		return left("refusing to revert what authselect was asked to do: %v; left alone", err)
	}
	tool, err := exec.LookPath("authselect")
	if err != nil {
		return left("authselect is not in PATH: cannot select %s again; left alone: %v", rec.Profile, err)
	}
	profile, features, err := readAuthselectConf(rec.ConfigDir)
	if err == nil {
		err = authselectManages(tool, rec.ConfigDir, profile, features)
	}
	if err != nil {
		return left("%v; left alone", err)
	}
	switch profile {
	case rec.Custom:
		args := append([]string{"select", rec.Profile}, features...)
		step("authselect", "select back")
		if out, err := authselectRun(tool, args...); err != nil {
			return left("%s: %v (%s); left as it is", shellJoin(append([]string{"authselect"}, args...)...), err, out)
		}
		fmt.Fprintf(stdout, "ran: %s\n", shellJoin(append([]string{"authselect"}, args...)...))
		if !slices.Equal(features, rec.Features) {
			fmt.Fprintf(stdout, "authselect: the features enabled since the migration are kept (%s; before it: %s)\n",
				strings.Join(features, " "), strings.Join(rec.Features, " "))
		}
		profile = rec.Profile
	case rec.Profile:
	default:
		fmt.Fprintf(stdout, "authselect: the profile in use is %s, neither %s nor %s: left selected\n", profile, rec.Profile, rec.Custom)
	}
	// Back to the very bytes of before (authselect 1.2 dates its files).
	if profile == rec.Profile && slices.Equal(features, rec.Features) {
		for _, k := range rec.Kept {
			if !st.restoreAuthselectFile(k, stdout, stderr) {
				return false
			}
		}
	}
	custom := filepath.Join(rec.ConfigDir, "custom", authselectName)
	if fi, err := os.Lstat(custom); err == nil {
		if !fi.IsDir() {
			return left("%s is not a directory: not removed", custom)
		}
		for _, t := range rec.Templates {
			if b, err := os.ReadFile(t.Path); err == nil && sha256Hex(b) != t.After && sha256Hex(b) != t.Before {
				return left("%s was edited after the migration: the profile %s is left; remove it once you have kept what you need of it, and run --revert again", t.Path, custom)
			}
		}
		step("authselect", "remove profile")
		if err := os.RemoveAll(custom); err != nil {
			return left("remove %s: %v", custom, err)
		}
		fmt.Fprintf(stdout, "%s: removed\n", custom)
	}
	for _, k := range rec.Kept {
		st.forget(k.Path)
	}
	return true
}

// restoreAuthselectFile puts back the bytes a file of authselect's had
// before the migration, when authselect now writes the same lines (it
// differs in comments: 1.2's date). Otherwise authselect's profile
// changed since, and its file is left as it wrote it, with one line.
func (st *state) restoreAuthselectFile(k manifestFile, stdout, stderr io.Writer) bool {
	cur, err := readNoFollow(k.Path)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stdout, "%s: authselect no longer writes it: left out\n", k.Path)
		return true
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyinit-go migrate: %v\n", err)
		return false
	}
	if sha256Hex(cur.data) == k.Before {
		return true
	}
	orig, err := os.ReadFile(keptFile(st.dir, k.Path, ".orig"))
	if err == nil && sha256Hex(orig) != k.Before {
		err = fmt.Errorf("the kept original does not match its checksum")
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyinit-go migrate: %s: cannot put back: %v\n", k.Path, err)
		return false
	}
	if !sameAuthselectText(cur.data, orig) {
		fmt.Fprintf(stdout, "%s: authselect now writes it otherwise than before the migration (its profile changed since): left as authselect wrote it\n", k.Path)
		return true
	}
	if err := replaceIfUnchanged(k.Path, cur, orig); err != nil {
		fmt.Fprintf(stderr, "keyinit-go migrate: %s: cannot put back: %v\n", k.Path, err)
		return false
	}
	return true
}

// settleAuthselect finishes or undoes the authselect part a killed --apply
// left: done once custom/keyinit-go is selected and authselect's files
// name no pam_keyinit.so; otherwise undone, and undone says so: the caller
// then plans it anew.
func (st *state) settleAuthselect(stdout io.Writer) (undone bool, err error) {
	rec := st.man.Authselect
	if rec == nil || !rec.Pending {
		return false, nil
	}
	if err := st.man.authselectScope(rec); err != nil {
		return false, err
	}
	if tool, err := exec.LookPath("authselect"); err == nil && authselectDone(tool, rec) == nil {
		rec.Pending = false
		if err := st.save(); err != nil {
			return false, err
		}
		fmt.Fprintf(stdout, "finished the authselect part a killed --apply left: %s is selected\n", rec.Custom)
		return false, nil
	}
	var log bytes.Buffer
	if !st.undoAuthselect(&log, &log) {
		return false, fmt.Errorf("%s", oneLineOf(log.String()))
	}
	st.man.Authselect = nil
	if err := st.save(); err != nil {
		return false, err
	}
	fmt.Fprintf(stdout, "undid the authselect part a killed --apply left (it had not selected %s)\n", rec.Custom)
	return true, nil
}

// replanAuthselect reads authselect's files again and plans anew, after
// settleAuthselect undid a killed run's part.
func replanAuthselect(a *authselectPlan, pamDir string) *authselectPlan {
	var owned []migration
	for _, m := range a.files {
		was, err := readNoFollow(m.path)
		if err != nil {
			return &authselectPlan{files: a.files, configDir: a.configDir, profile: a.profile, err: err}
		}
		after, notes := migrateText(m.name, was.data)
		if !bytes.Equal(after, was.data) {
			owned = append(owned, migration{name: m.name, path: m.path, was: was, before: was.data, after: after, notes: notes})
		}
	}
	if len(owned) == 0 {
		return nil
	}
	return newAuthselectPlan(owned, pamDir)
}
