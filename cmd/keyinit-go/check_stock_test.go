package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pam_keyinit_go/internal/pamconf"
	"pam_keyinit_go/test/harness"
)

// authselectTree copies a stock tree (testdata/stock/NAME: pam.d and
// authselect) to a temporary ETC, with pam.d's links made absolute, as
// authselect writes them (/etc/pam.d/system-auth -> /etc/authselect/system-auth);
// it returns ETC/pam.d.
func authselectTree(t *testing.T, name string) string {
	t.Helper()
	etc := t.TempDir()
	for _, sub := range []string{"pam.d", "authselect"} {
		src := filepath.Join("testdata/stock", name, sub)
		if err := os.Mkdir(filepath.Join(etc, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		ents, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			from, to := filepath.Join(src, e.Name()), filepath.Join(etc, sub, e.Name())
			if e.Type()&os.ModeSymlink == 0 {
				harness.CopyFile(t, from, to, 0o644)
				continue
			}
			link, err := os.Readlink(from)
			if err == nil && !filepath.IsAbs(link) {
				link = filepath.Join(etc, sub, link)
			}
			if err == nil {
				err = os.Symlink(link, to)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return filepath.Join(etc, "pam.d")
}

// checkStrict runs "check --strict --json" over every service of pamDir,
// with no limits file.
func checkStrict(t *testing.T, pamDir string, services ...string) (checkReport, int) {
	t.Helper()
	var rep checkReport
	args := append([]string{"check", "--strict", "--pam-dir", pamDir, "--module-dir", fixtureModules,
		"--limits", filepath.Join(t.TempDir(), "no-limits.conf")}, services...)
	return rep, keyinitGoJSON(t, &rep, args...)
}

// "check --strict" of an untouched Fedora, RHEL 9 or Debian 12 tree exits
// 0 with no finding: nothing there is the admin's to act on. Fedora's and
// RHEL's as committed (relative links) and as authselect writes them.
func TestCheckStockTrees(t *testing.T) {
	trees := map[string]string{
		"debian12":               "testdata/migrate/debian12",
		"fedora (plain files)":   "testdata/migrate/fedora",
		"fedora":                 "testdata/stock/fedora/pam.d",
		"rhel9":                  "testdata/stock/rhel9/pam.d",
		"fedora, absolute links": authselectTree(t, "fedora"),
		"rhel9, absolute links":  authselectTree(t, "rhel9"),
	}
	for name, dir := range trees {
		t.Run(name, func(t *testing.T) {
			rep, code := checkStrict(t, dir)
			if code != 0 || rep.Errors+rep.Warnings+rep.Infos != 0 || len(rep.Findings) != 0 {
				t.Errorf("exit %d, %d errors, %d warnings, %d infos; want 0 and none: %v", code, rep.Errors, rep.Warnings, rep.Infos, rep.Findings)
			}
			if len(rep.Lines) < 5 {
				t.Errorf("%d keyinit lines: the tree is not the stock one", len(rep.Lines))
			}
		})
	}
}

// A real problem in the same tree is still found, and a finding in
// authselect's files sends the admin to a custom profile, never to edit
// them: sshd switched alone leaves pam_keyinit.so in password-auth.
func TestCheckStockTreeProblems(t *testing.T) {
	dir := authselectTree(t, "fedora")
	sshd := filepath.Join(dir, "sshd")
	b, err := os.ReadFile(sshd)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(sshd, []byte(strings.Replace(string(b), "pam_keyinit.so force revoke", "pam_keyinit_go.so force revoke", 1)), 0o644)
	rep, code := checkStrict(t, dir, "sshd")
	pa := filepath.Join(filepath.Dir(dir), "authselect", "password-auth")
	if got := findingKeys(rep); code != 1 || len(got) != 1 || got[0] != pa+":27 error c-and-go" {
		t.Fatalf("sshd switched alone: exit %d, findings %q; want 1 and the c-and-go error at %s:27", code, got, pa)
	}
	for _, s := range []string{"do not edit password-auth", "keyinit-go migrate", "authselect create-profile NAME --base-on PROFILE", "authselect select custom/NAME"} {
		if !strings.Contains(rep.Findings[0].Message, s) {
			t.Errorf("message %q does not say %q", rep.Findings[0].Message, s)
		}
	}

	os.WriteFile(sshd, []byte(strings.Replace(string(b), "pam_keyinit.so force revoke", "pam_keyinit.so revoke", 1)), 0o644)
	rep, code = checkStrict(t, dir, "sshd")
	if got := findingKeys(rep); code != 1 || len(got) != 1 || got[0] != sshd+":14 warning no-force" || strings.Contains(rep.Findings[0].Message, "authselect") {
		t.Errorf("sshd without force: exit %d, findings %q (%v); want 1 and one no-force warning at sshd:14, about sshd's own line", code, got, rep.Findings)
	}
}

// No two findings of a report contradict each other (pamconf.Contradictions),
// over every fixture tree, as check reports them.
func TestCheckNoContradictions(t *testing.T) {
	for _, dir := range []string{"testdata/pam.d", "testdata/limits/pam.d", "testdata/migrate/debian12", "testdata/migrate/fedora",
		"testdata/migrate/krb5", "testdata/stock/fedora/pam.d", "testdata/stock/rhel9/pam.d"} {
		var rep checkReport
		keyinitGoJSON(t, &rep, "check", "--pam-dir", dir, "--module-dir", fixtureModules, "--limits", "testdata/limits/limits.conf")
		if len(rep.Services) == 0 {
			t.Errorf("%s: no service checked", dir)
		}
		for _, c := range pamconf.Contradictions(rep.Findings) {
			t.Errorf("%s: %s", dir, c)
		}
	}
}
