package main

// migrate on Fedora and RHEL: the PAM files authselect(8) owns.
//
// /etc/pam.d/system-auth, password-auth, ... are symbolic links into
// /etc/authselect, whose files authselect writes from the templates of the
// profile in use, and writes again at each "authselect select",
// "apply-changes", "enable-feature" and "disable-feature". A change made
// to those files is lost there (1.7), or makes authselect refuse to work
// (1.2, whose check compares them with its copies in /var/lib/authselect).
// So migrate changes no file of authselect's: it makes a custom profile
// from the one in use, switches the pam_keyinit.so lines of that profile's
// templates, and selects it with the features in use:
//
//	authselect create-profile keyinit-go --base-on PROFILE
//	authselect select custom/keyinit-go FEATURES...
//
// --revert selects PROFILE with its features again, puts back the bytes
// authselect wrote before (1.2 dates its files), and removes the profile
// (migrate_authselect_apply.go).

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"pam_keyinit_go/cmd/keyinit-go/internal/udiff"
	"pam_keyinit_go/internal/pamconf"
)

// authselectCustom is the custom profile migrate makes, as "authselect
// select" names it; its directory is CONFIG/custom/keyinit-go.
const (
	authselectName   = "keyinit-go"
	authselectCustom = "custom/" + authselectName
)

// authselectPamFiles are the PAM files authselect writes into its
// directory (links in the PAM directory name them) from the profile's
// templates of the same names: 1.2 and 1.7 (switchable-auth is 1.7's).
var authselectPamFiles = []string{"system-auth", "password-auth", "smartcard-auth", "fingerprint-auth", "switchable-auth", "postlogin"}

// authselectCopies are the files authselect 1.2 also keeps a copy of in its
// state directory (/var/lib/authselect), which its check compares them with.
var authselectCopies = append([]string{"nsswitch.conf", "dconf-db", "dconf-locks"}, authselectPamFiles...)

// authselectDirOf returns authselect's directory when path (symbolic links
// resolved) is one of the PAM files authselect writes: a file of
// authselectPamFiles beside authselect.conf.
func authselectDirOf(path string) (string, bool) {
	dir := filepath.Dir(path)
	if !slices.Contains(authselectPamFiles, filepath.Base(path)) || !fileExists(filepath.Join(dir, "authselect.conf")) {
		return "", false
	}
	return dir, true
}

// authselectCopyDir is where authselect 1.2 keeps its copies for the
// directory configDir: /var/lib/authselect for /etc/authselect, and
// DIR/var/lib/authselect for an authselect built with --prefix=DIR.
func authselectCopyDir(configDir string) string {
	return filepath.Join(filepath.Dir(filepath.Dir(configDir)), "var", "lib", "authselect")
}

// authselectPlan is what --apply asks authselect to do.
type authselectPlan struct {
	tool      string   // authselect, from PATH
	configDir string   // authselect's directory (/etc/authselect), real path
	profile   string   // in use: "sssd", "local", "custom/NAME"
	features  []string // in use, in authselect.conf's order
	baseDir   string   // the profile's templates, "" if not found
	// files are authselect's files that name pam_keyinit.so, as they are
	// and as the select will write them (for "check" of the result).
	files []migration
	// templates are the PAM templates of the profile to make: the base
	// profile's bytes and the switched ones, named by their place in the
	// new profile (only when baseDir was found).
	templates []migration
	err       error // why --apply must refuse; nil when it can go on
}

// splitAuthselect takes authselect's files out of the plan (they are never
// written directly) and works out what to ask authselect instead; nil when
// no file of authselect's changes.
func splitAuthselect(plan []migration, pamDir string) ([]migration, *authselectPlan) {
	var plain, owned []migration
	for _, m := range plan {
		if _, ok := authselectDirOf(m.path); ok {
			if !bytes.Equal(m.before, m.after) {
				owned = append(owned, m)
			}
			continue
		}
		plain = append(plain, m)
	}
	if len(owned) == 0 {
		return plain, nil
	}
	return plain, newAuthselectPlan(owned, pamDir)
}

// newAuthselectPlan reads authselect's state and checks everything --apply
// needs: the authselect in PATH manages these files, its configuration is
// valid and as authselect wrote it, and no custom/keyinit-go exists yet.
func newAuthselectPlan(owned []migration, pamDir string) *authselectPlan {
	a := &authselectPlan{files: owned}
	a.configDir, _ = authselectDirOf(owned[0].path)
	for _, m := range owned[1:] {
		if d, _ := authselectDirOf(m.path); d != a.configDir {
			a.err = fmt.Errorf("the files are in two authselect directories, %s and %s", a.configDir, d)
			return a
		}
	}
	var err error
	if a.profile, a.features, err = readAuthselectConf(a.configDir); err != nil {
		a.err = err
		return a
	}
	if a.tool, err = exec.LookPath("authselect"); err != nil {
		a.err = fmt.Errorf("authselect manages these files, and there is no authselect in PATH to ask: %v", err)
		return a
	}
	if err := authselectManages(a.tool, a.configDir, a.profile, a.features); err != nil {
		a.err = err
		return a
	}
	a.baseDir = authselectProfileDir(a.tool, a.configDir, a.profile)
	if a.baseDir != "" {
		for _, name := range authselectPamFiles {
			b, err := os.ReadFile(filepath.Join(a.baseDir, name))
			if err != nil {
				continue
			}
			after, _ := migrateText(name, b)
			a.templates = append(a.templates, migration{name: filepath.Join(a.configDir, "custom", authselectName, name), before: b, after: after})
		}
	}
	if a.err = a.checkReady(pamDir); a.err != nil {
		return a
	}
	return a
}

// checkReady says why authselect cannot be asked to select the new
// profile without losing something, or nil.
func (a *authselectPlan) checkReady(pamDir string) error {
	custom := filepath.Join(a.configDir, "custom", authselectName)
	switch _, err := os.Lstat(custom); {
	case a.profile == authselectCustom:
		return fmt.Errorf("the profile in use, %s, names pam_keyinit.so: switch the pam_keyinit.so lines of its templates in %s to pam_keyinit_go.so and run \"authselect apply-changes\"",
			authselectCustom, custom)
	case err == nil:
		return existsError{fmt.Errorf("%s exists and is not the profile in use: remove it (or rename it) so that migrate can make %s from %s", custom, authselectCustom, a.profile)}
	}
	if out, err := authselectRun(a.tool, "check"); err != nil {
		return fmt.Errorf("\"authselect check\" fails (%s): authselect would refuse to select another profile; fix what it says first", out)
	}
	// Edited by hand (authselect 1.7's check does not look): selecting
	// another profile would drop the edit, and --revert could not give it
	// back. The test of what the profile makes, as 1.2's check compares.
	made, err := authselectTest(a.tool, a.profile, a.features)
	if err != nil {
		return err
	}
	absPamDir, _ := filepath.Abs(pamDir)
	realPamDir := realPath(absPamDir)
	for _, m := range a.files {
		name := filepath.Base(m.path)
		want, ok := made[filepath.Join(absPamDir, name)]
		if !ok {
			want, ok = made[filepath.Join(realPamDir, name)]
		}
		if !ok {
			return fmt.Errorf("the authselect in PATH (%s) does not write %s: it manages another PAM directory; put the one that manages %s first in PATH",
				a.tool, filepath.Join(pamDir, name), a.configDir)
		}
		if !sameAuthselectText(m.before, []byte(want)) {
			return fmt.Errorf("%s is not what authselect makes from profile %s: it was edited by hand, and selecting another profile would drop the edit; "+
				"run \"authselect apply-changes\" to drop it, or carry it into a custom profile of yours and select that, then migrate", m.path, a.profile)
		}
	}
	return nil
}

// readAuthselectConf reads CONFIG/authselect.conf as authselect does: the
// profile on the first line, a feature on each line after it.
func readAuthselectConf(configDir string) (profile string, features []string, err error) {
	b, err := os.ReadFile(filepath.Join(configDir, "authselect.conf"))
	if err != nil {
		return "", nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return "", nil, fmt.Errorf("%s names no profile", filepath.Join(configDir, "authselect.conf"))
	}
	for _, l := range lines {
		if !authselectWord(l) {
			return "", nil, fmt.Errorf("%s: %q is not a profile or feature name", filepath.Join(configDir, "authselect.conf"), l)
		}
	}
	return lines[0], lines[1:], nil
}

// authselectWord: a profile ("sssd", "custom/NAME") or feature name that
// can be passed to authselect as one argument, never an option.
var authselectWordRe = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.+/-]*$`)

func authselectWord(s string) bool {
	return authselectWordRe.MatchString(s) && !strings.Contains(s, "..")
}

// authselectManages says why the authselect at tool does not manage
// configDir (its "current" is not what configDir's authselect.conf says),
// or nil.
func authselectManages(tool, configDir, profile string, features []string) error {
	out, err := authselectRun(tool, "current", "--raw")
	if err != nil {
		return fmt.Errorf("\"authselect current\" fails (%s)", out)
	}
	want := strings.Join(append([]string{profile}, features...), " ")
	if got := strings.Join(strings.Fields(out), " "); got != want {
		return fmt.Errorf("the authselect in PATH (%s) says its profile is %q, and %s says %q: it manages another directory; put the one that manages %s first in PATH",
			tool, got, filepath.Join(configDir, "authselect.conf"), want, configDir)
	}
	return nil
}

// authselectProfileDir finds the templates of profile as authselect does
// (custom/NAME in CONFIG/custom, else vendor before default), in the share
// directory beside the authselect binary (/usr/bin → /usr/share/authselect,
// and PREFIX/bin for one built with --prefix) or in /usr/share/authselect.
func authselectProfileDir(tool, configDir, profile string) string {
	if name, ok := strings.CutPrefix(profile, "custom/"); ok {
		return filepath.Join(configDir, "custom", name)
	}
	shares := []string{filepath.Join(filepath.Dir(filepath.Dir(realPath(tool))), "share", "authselect"), "/usr/share/authselect"}
	for _, share := range shares {
		for _, kind := range []string{"vendor", "default"} {
			d := filepath.Join(share, kind, profile)
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return d
			}
		}
	}
	return ""
}

// authselectRun runs authselect with args (untranslated messages) and
// returns its output (stdout and stderr, trimmed), with an error if it
// failed.
func authselectRun(tool string, args ...string) (string, error) {
	cmd := exec.Command(tool, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil {
		if text == "" {
			text = err.Error()
		}
		return oneLineOf(text), fmt.Errorf("authselect %s: %v", strings.Join(args, " "), err)
	}
	return text, nil
}

// oneLineOf joins a command's output into one line, for messages.
func oneLineOf(s string) string { return strings.Join(strings.Fields(s), " ") }

// authselectTest is "authselect test -a PROFILE FEATURES": every file the
// profile makes, by the path authselect writes it at (the link in the PAM
// directory).
func authselectTest(tool, profile string, features []string) (map[string]string, error) {
	cmd := exec.Command(tool, append([]string{"test", "-a", profile}, features...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("\"authselect test -a %s\" fails (%s): %v", profile, oneLineOf(stderr.String()), err)
	}
	files := map[string]string{}
	var cur string
	var b strings.Builder
	for _, l := range strings.SplitAfter(string(out), "\n") {
		if p, ok := strings.CutPrefix(strings.TrimRight(l, "\n"), "File "); ok && strings.HasSuffix(p, ":") && filepath.IsAbs(p) {
			if cur != "" {
				files[cur] = b.String()
			}
			cur = strings.TrimSuffix(p, ":")
			b.Reset()
			continue
		}
		b.WriteString(l)
	}
	if cur != "" {
		files[cur] = b.String()
	}
	return files, nil
}

// sameAuthselectText compares two files as authselect 1.2's check does:
// comments, blank lines and blanks around lines do not count.
func sameAuthselectText(a, b []byte) bool {
	return slices.Equal(authselectLines(a), authselectLines(b))
}

func authselectLines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// commands are what --apply runs, as a shell would.
func (a *authselectPlan) commands() (create, sel string) {
	create = shellJoin("authselect", "create-profile", authselectName, "--base-on", a.profile)
	sel = shellJoin(append([]string{"authselect", "select", authselectCustom}, a.features...)...)
	return create, sel
}

// write prints what --apply will ask authselect to do: the commands as
// comment lines ("patch" skips them), then the diff of the templates;
// when --apply cannot, why, on stderr.
func (a *authselectPlan) write(stdout, stderr io.Writer) {
	names := authselectNames(a)
	if a.err != nil {
		fmt.Fprintf(stderr, "keyinit-go migrate: %s: not migrated: authselect writes %s from its profile %s: %v\n",
			names, plural(len(a.files), "it", "them"), a.profile, a.err)
		return
	}
	create, sel := a.commands()
	fmt.Fprintf(stdout, "# %s: written by authselect from its profile %s, which writes them again at each \"authselect select\",\n", names, a.profile)
	fmt.Fprintf(stdout, "# \"apply-changes\", \"enable-feature\" and \"disable-feature\". So --apply changes none of them; it runs\n")
	fmt.Fprintf(stdout, "#   %s\n", create)
	fmt.Fprintf(stdout, "# switches the pam_keyinit.so lines of the templates of that profile, in %s (below),\n", filepath.Join(a.configDir, "custom", authselectName))
	fmt.Fprintf(stdout, "# and runs\n#   %s\n", sel)
	fmt.Fprintf(stdout, "# which writes those files with pam_keyinit_go.so. --revert selects %s again.\n", shellJoin(append([]string{a.profile}, a.features...)...))
	if a.baseDir == "" {
		fmt.Fprintf(stdout, "# (The templates of %s were not found here: --apply shows their diff once create-profile made them.)\n", a.profile)
	}
	for _, t := range a.templates {
		fmt.Fprint(stdout, udiff.Unified(t.name, t.before, t.after))
	}
}

func plural(n int, one, more string) string {
	if n == 1 {
		return one
	}
	return more
}

// shellJoin quotes words as a POSIX shell reads them.
func shellJoin(words ...string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=+-:,@") == "" {
			out[i] = w
		} else {
			out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

// hasCModuleLine says whether a PAM file (or template) has a line that
// names pam_keyinit.so.
func hasCModuleLine(file string, data []byte) bool {
	placed, _ := pamconf.ParsePlaced(file, data)
	for _, p := range placed {
		if p.ModuleAt >= 0 && filepath.Base(p.Module) == pamconf.CModule {
			return true
		}
	}
	return false
}

// authselectNames are the names of authselect's files in the plan.
func authselectNames(a *authselectPlan) string {
	var names []string
	for _, m := range a.files {
		names = append(names, m.name)
	}
	return strings.Join(names, ", ")
}
