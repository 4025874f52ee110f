package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// authselectCase is a profile with features, on one authselect version,
// and a feature to enable and disable once migrated. 1.7 has sssd and
// local, 1.2 (RHEL 9) sssd and minimal; with-faillock, with-mkhomedir and
// with-pwhistory are in all four.
//
// With base, profile is a custom profile of the admin's ("custom/site"),
// made first from base with its PAM templates as links to base's
// (--symlink-pam): migrate bases its profile on it.
type authselectCase struct {
	version, profile string
	features         []string
	toggle           string
	base             string
}

var authselectCases = []authselectCase{
	{"1.7.1", "sssd", []string{"with-faillock", "with-mkhomedir"}, "with-pwhistory", ""},
	{"1.7.1", "local", []string{"with-mkhomedir"}, "with-faillock", ""},
	{"1.2.6", "sssd", []string{"with-faillock", "with-mkhomedir"}, "with-pwhistory", ""},
	{"1.2.6", "minimal", []string{"with-pwhistory"}, "with-faillock", ""},
	{"1.7.1", "custom/site", []string{"with-faillock"}, "with-mkhomedir", "local"},
	{"1.2.6", "custom/site", []string{"with-mkhomedir"}, "with-faillock", "sssd"},
}

// authselectTree is a stock Fedora/RHEL PAM directory managed by a real
// authselect built into a prefix (harness.BuildAuthselect): the service
// files of testdata/migrate/fedora (authselect's own left out: it writes
// them), PROFILE selected with FEATURES, and a module directory with the
// system's modules and pam_keyinit_go.
type authselectTree struct {
	a         *harness.Authselect
	c         authselectCase
	tool      string // build/keyinit-go
	moduleDir string
}

func newAuthselectTree(t *testing.T, c authselectCase) *authselectTree {
	t.Helper()
	harness.RequireRoot(t)
	a := harness.BuildAuthselect(t, c.version)
	fixtures := filepath.Join(harness.RepoRoot(t), "cmd", "keyinit-go", "testdata", "migrate", "fedora")
	ents, err := os.ReadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !slices.Contains([]string{"system-auth", "password-auth", "postlogin"}, e.Name()) {
			harness.CopyFile(t, filepath.Join(fixtures, e.Name()), filepath.Join(a.PamDir(), e.Name()), 0o644)
		}
	}
	if c.base != "" {
		a.MustRun(t, "create-profile", strings.TrimPrefix(c.profile, "custom/"), "--base-on", c.base, "--symlink-pam")
	}
	a.MustRun(t, append([]string{"select", c.profile, "--force", "--nobackup", "--quiet"}, c.features...)...)

	// Every module of the system's directory (check finds them), and ours
	// as "make install" puts it.
	moduleDir := filepath.Join(t.TempDir(), "security")
	sys := filepath.Dir(harness.CModule(t))
	if err := os.MkdirAll(moduleDir, 0o755); err != nil {
		t.Fatal(err)
	}
	mods, _ := filepath.Glob(filepath.Join(sys, "pam_*.so"))
	for _, m := range mods {
		harness.CopyFile(t, m, filepath.Join(moduleDir, filepath.Base(m)), 0o644)
	}
	installModule(t, moduleDir)
	return &authselectTree{a: a, c: c, tool: harness.Built(t, "keyinit-go"), moduleDir: moduleDir}
}

// keyinitGo runs build/keyinit-go with this authselect first in PATH.
func (tr *authselectTree) keyinitGo(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(tr.tool, args...)
	cmd.Env = tr.a.Env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("keyinit-go %q: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// state is the whole prefix's etc and var: every file's mode, owner and
// bytes, every link's target.
func (tr *authselectTree) state(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range []string{"etc", "var"} {
		for k, v := range treeState(t, filepath.Join(tr.a.Prefix, d)) {
			out[d+"/"+k] = v
		}
	}
	return out
}

// current is "authselect current --raw": the profile and its features.
func (tr *authselectTree) current(t *testing.T) string {
	t.Helper()
	return strings.Join(strings.Fields(tr.a.MustRun(t, "current", "--raw")), " ")
}

type checkJSON struct {
	Errors int `json:"errors"`
	Lines  []struct {
		Text     string   `json:"text"`
		Services []string `json:"services"`
	} `json:"lines"`
	Findings []checkFinding `json:"findings"`
}

type checkFinding struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// has says whether the report has a finding with code.
func (rep checkJSON) has(code string) bool {
	return slices.ContainsFunc(rep.Findings, func(f checkFinding) bool { return f.Code == code })
}

// check runs "keyinit-go check --json" on the tree.
func (tr *authselectTree) check(t *testing.T, extra ...string) (checkJSON, int) {
	t.Helper()
	out, errOut, code := tr.keyinitGo(t, append([]string{"check", "--json", "--pam-dir", tr.a.PamDir(), "--module-dir", tr.moduleDir}, extra...)...)
	var rep checkJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("keyinit-go check: %v\n%s\n%s", err, out, errOut)
	}
	return rep, code
}

// modules returns, for each service, the keyinit modules of the lines
// check lists for it.
func (rep checkJSON) modules() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, l := range rep.Lines {
		for _, svc := range l.Services {
			if out[svc] == nil {
				out[svc] = map[string]bool{}
			}
			for _, m := range []string{"pam_keyinit.so", "pam_keyinit_go.so"} {
				if strings.Contains(l.Text, " "+m) {
					out[svc][m] = true
				}
			}
		}
	}
	return out
}

// switched asserts that check of the tree finds no error and no
// pam_keyinit.so line, that su and crond (whose only line comes through
// system-auth and password-auth) reach pam_keyinit_go.so, and that
// authselect's own check passes.
func (tr *authselectTree) switched(t *testing.T, when string) {
	t.Helper()
	rep, code := tr.check(t)
	if code != 0 || rep.Errors != 0 {
		t.Errorf("%s: keyinit-go check: exit %d, %d error(s): %+v", when, code, rep.Errors, rep.Findings)
	}
	for _, l := range rep.Lines {
		if strings.Contains(l.Text, "pam_keyinit.so") {
			t.Errorf("%s: keyinit-go check finds a pam_keyinit.so line: %q (services %v)", when, l.Text, l.Services)
		}
	}
	mods := rep.modules()
	for _, svc := range []string{"su", "crond", "sshd", "sudo"} {
		if !mods[svc]["pam_keyinit_go.so"] {
			t.Errorf("%s: %s reaches no pam_keyinit_go.so line: %v", when, svc, mods[svc])
		}
	}
	if out, code := tr.a.Run(t, "check"); code != 0 {
		t.Errorf("%s: authselect check: exit %d\n%s", when, code, out)
	}
}

// The admin's path on Fedora (authselect 1.7) and RHEL 9 (1.2), with two
// profiles each: check of the stock tree, migrate (the diff: authselect's
// commands, the templates, the services whose users get a keyring of
// their own), --apply, authselect's check and keyinit-go's, then
// authselect apply-changes, enable-feature and disable-feature keep the
// switch, and --revert gives back the prefix's etc and var byte for byte
// (files, modes, owners, link targets: authselect 1.2 dates its files).
func TestMigrateAuthselect(t *testing.T) {
	for _, c := range authselectCases {
		t.Run(c.version+"/"+c.profile, func(t *testing.T) {
			tr := newAuthselectTree(t, c)
			before := tr.state(t)
			selected := strings.Join(append([]string{c.profile}, c.features...), " ")
			custom := strings.Join(append([]string{"custom/keyinit-go"}, c.features...), " ")

			rep, code := tr.check(t)
			if code != 0 {
				t.Errorf("keyinit-go check of the stock tree: exit %d: %+v", code, rep.Findings)
			}
			for _, svc := range []string{"su", "crond"} {
				if !rep.modules()[svc]["pam_keyinit.so"] {
					t.Errorf("stock tree: %s reaches no pam_keyinit.so line through authselect's files: %+v", svc, rep.Lines)
				}
			}

			state := filepath.Join(t.TempDir(), "state")
			migrate := []string{"migrate", "--pam-dir", tr.a.PamDir(), "--module-dir", tr.moduleDir, "--state-dir", state}
			out, errOut, code := tr.keyinitGo(t, migrate...)
			if code != 0 {
				t.Errorf("migrate: exit %d\n%s", code, errOut)
			}
			for _, want := range []string{
				"\n#   authselect create-profile keyinit-go --base-on " + c.profile + "\n",
				"\n#   authselect select " + custom + "\n",
				"\n+++ " + filepath.Join(tr.a.ConfigDir(), "custom", "keyinit-go", "system-auth") + "\n",
				"\n+session     optional                                     pam_keyinit_go.so revoke\n",
				"\n+++ " + filepath.Join(tr.a.PamDir(), "sshd") + "\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("migrate's diff has no %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "+++ "+filepath.Join(tr.a.ConfigDir(), "system-auth")) || strings.Contains(out, "+++ "+filepath.Join(tr.a.PamDir(), "system-auth")) {
				t.Errorf("migrate's diff changes authselect's system-auth directly:\n%s", out)
			}
			if !strings.Contains(errOut, "for users: crond, runuser, su, sudo have no \"force\"") {
				t.Errorf("migrate's notes do not name the services without force:\n%s", errOut)
			}
			sameTree(t, "after migrate without --apply", tr.state(t), before)

			out, errOut, code = tr.keyinitGo(t, append(migrate[:1:1], append([]string{"--apply"}, migrate[1:]...)...)...)
			if code != 0 {
				t.Fatalf("migrate --apply: exit %d\n%s\n%s", code, out, errOut)
			}
			if got := tr.current(t); got != custom {
				t.Errorf("authselect current after --apply: %q; want %q", got, custom)
			}
			tr.switched(t, "after --apply")

			tr.a.MustRun(t, "apply-changes")
			tr.switched(t, "after authselect apply-changes")
			tr.a.MustRun(t, "enable-feature", c.toggle)
			if got, want := tr.current(t), custom+" "+c.toggle; got != want {
				t.Errorf("authselect current after enable-feature: %q; want %q", got, want)
			}
			tr.switched(t, "after authselect enable-feature "+c.toggle)
			tr.a.MustRun(t, "disable-feature", c.toggle)
			if got := tr.current(t); got != custom {
				t.Errorf("authselect current after disable-feature: %q; want %q", got, custom)
			}
			tr.switched(t, "after authselect disable-feature "+c.toggle)

			out, errOut, code = tr.keyinitGo(t, "migrate", "--revert", "--state-dir", state)
			if code != 0 {
				t.Errorf("migrate --revert: exit %d\n%s\n%s", code, out, errOut)
			}
			if got := tr.current(t); got != selected {
				t.Errorf("authselect current after --revert: %q; want %q", got, selected)
			}
			sameTree(t, "after migrate --revert", tr.state(t), before)
			if _, err := os.Stat(filepath.Join(state, "manifest.json")); !os.IsNotExist(err) {
				t.Errorf("the manifest is still there after --revert (%v)", err)
			}
		})
	}
}

// authselect undoes the switch (the admin selects the original profile by
// hand): keyinit-go check says so, with authselect-undone and the command
// that selects the profile again; --apply refuses until --revert, which
// still gives back every byte.
func TestMigrateAuthselectUndone(t *testing.T) {
	for _, c := range []authselectCase{authselectCases[0], authselectCases[2]} {
		t.Run(c.version+"/"+c.profile, func(t *testing.T) {
			tr := newAuthselectTree(t, c)
			before := tr.state(t)
			state := filepath.Join(t.TempDir(), "state")
			apply := []string{"migrate", "--apply", "--pam-dir", tr.a.PamDir(), "--module-dir", tr.moduleDir, "--state-dir", state}
			if out, errOut, code := tr.keyinitGo(t, apply...); code != 0 {
				t.Fatalf("migrate --apply: exit %d\n%s\n%s", code, out, errOut)
			}
			if rep, code := tr.check(t, "--state-dir", state); code != 0 || rep.has("authselect-undone") {
				t.Errorf("check after --apply: exit %d: %+v", code, rep.Findings)
			}

			tr.a.MustRun(t, append([]string{"select", c.profile, "--quiet"}, c.features...)...)
			rep, code := tr.check(t, "--state-dir", state)
			var undone []string
			for _, f := range rep.Findings {
				if f.Code == "authselect-undone" {
					undone = append(undone, f.Message)
				}
			}
			want := `run "authselect select ` + strings.Join(append([]string{"custom/keyinit-go"}, c.features...), " ") + `"`
			if code != 1 || len(undone) != 1 || !strings.Contains(undone[0], "the profile in use is "+c.profile+", not custom/keyinit-go") || !strings.Contains(undone[0], want) {
				t.Errorf("check after authselect select %s: exit %d, authselect-undone findings %q; want exit 1 and one that says %q", c.profile, code, undone, want)
			}

			if out, errOut, code := tr.keyinitGo(t, apply...); code != 1 || !strings.Contains(errOut, "authselect has undone the switch") {
				t.Errorf("migrate --apply again: exit %d; want 1 and a refusal\n%s\n%s", code, out, errOut)
			}
			if out, errOut, code := tr.keyinitGo(t, "migrate", "--revert", "--state-dir", state); code != 0 {
				t.Errorf("migrate --revert: exit %d\n%s\n%s", code, out, errOut)
			}
			sameTree(t, "after authselect undid it and migrate --revert", tr.state(t), before)
		})
	}
}
