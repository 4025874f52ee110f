package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// TestMigrateOnTheHost: the admin's path on this machine's own PAM files.
// "keyinit-go migrate --apply" switches the stock Debian lines (options
// kept: "force revoke", no debug), a real sshd public-key login and a real
// "su -l" then get a session keyring of the user's own from pam_keyinit_go,
// and "keyinit-go migrate --revert" gives every file back byte for byte.
//
// /etc/pam.d and the module directory are private copies bind-mounted over
// the real ones in harness.Main's mount namespace; the real ones are checked
// unchanged at the end. The copy of the module directory has the built
// module installed as "make install" does, and has no pam_keyinit.so: the
// module logs nothing on success without debug, and pam_keyinit.so makes
// the same keyring, so its absence is what proves which module made it. A
// line left on pam_keyinit.so then makes no keyring (and libpam logs the
// failed dlopen), and a broken pam_keyinit_go makes none either.
func TestMigrateOnTheHost(t *testing.T) {
	harness.RequirePrivateMounts(t)
	log := harness.Log(t)
	tool := harness.Built(t, "keyinit-go")
	moduleDir := filepath.Dir(harness.CModule(t))

	keepsRealTree(t, "/etc/pam.d")
	keepsRealTree(t, moduleDir)
	harness.PrivateCopyOfDir(t, "/etc/pam.d")
	harness.PrivateCopyOfDir(t, moduleDir)
	installModule(t, moduleDir)
	if err := os.Remove(filepath.Join(moduleDir, "pam_keyinit.so")); err != nil {
		t.Fatal(err)
	}
	before := treeState(t, "/etc/pam.d")
	state := filepath.Join(t.TempDir(), "state")

	out, err := exec.Command(tool, "migrate", "--apply", "--state-dir", state).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\nmigrated ") {
		t.Fatalf("keyinit-go migrate --apply: %v\n%s", err, out)
	}
	for _, svc := range []string{"sshd", "su-l"} {
		if !strings.Contains(string(out), "+++ /etc/pam.d/"+svc+"\n") {
			t.Errorf("migrate --apply did not change /etc/pam.d/%s:\n%s", svc, out)
		}
	}
	checkMigratedTree(t, tool)

	log.Collect()
	u := harness.TempLoginUser(t)
	s := harness.StartSshd(t)
	s.Authorize(t, u)
	p := harness.NewSessionProbe(t, u, "migrated-sshd")
	if line := sshLogin(t, s, u, p); line != "" {
		p.CheckRevokedAfterLogout(t, line)
	}
	p = harness.NewSessionProbe(t, u, "migrated-su")
	if out, err := exec.Command("su", "-l", u.Name, "-c", p.Command()).CombinedOutput(); err != nil || !strings.Contains(string(out), "probe-started") {
		t.Errorf("su -l %s -c ...: %v\n%s", u.Name, err, out)
	} else if line := p.CheckInside(t); line != "" {
		p.CheckRevokedAfterLogout(t, line)
	}
	s.Alive(t)
	checkMigratedLog(t, log.Collect(), u.Name)

	out, err = exec.Command(tool, "migrate", "--revert", "--state-dir", state).CombinedOutput()
	if err != nil {
		t.Errorf("keyinit-go migrate --revert: %v\n%s", err, out)
	}
	sameTree(t, "/etc/pam.d after migrate --revert", treeState(t, "/etc/pam.d"), before)
}

// installModule puts the built module into dir as "make install" does:
// both files root-owned 0644, the core's directory 0755.
func installModule(t *testing.T, dir string) {
	t.Helper()
	for _, args := range [][]string{
		{"-d", "-m", "0755", "-o", "root", "-g", "root", filepath.Join(dir, "pam_keyinit_go")},
		{"-m", "0644", "-o", "root", "-g", "root", harness.Module(t), filepath.Join(dir, "pam_keyinit_go.so")},
		{"-m", "0644", "-o", "root", "-g", "root", harness.Built(t, "pam_keyinit_go/core.so"), filepath.Join(dir, "pam_keyinit_go", "core.so")},
	} {
		if out, err := exec.Command("install", args...).CombinedOutput(); err != nil {
			t.Fatalf("install %q: %v\n%s", args, err, out)
		}
	}
}

// checkMigratedTree asserts that "keyinit-go check" of the migrated
// /etc/pam.d finds no error and no pam_keyinit.so line, and that sshd and
// su-l reach a pam_keyinit_go.so line.
func checkMigratedTree(t *testing.T, tool string) {
	t.Helper()
	out, err := exec.Command(tool, "check", "--json").Output()
	var rep struct {
		Errors int `json:"errors"`
		Lines  []struct {
			Text     string   `json:"text"`
			Services []string `json:"services"`
		} `json:"lines"`
	}
	if jerr := json.Unmarshal(out, &rep); err != nil || jerr != nil || rep.Errors != 0 {
		t.Fatalf("keyinit-go check of the migrated /etc/pam.d: %v, %v, %d error(s)\n%s", err, jerr, rep.Errors, out)
	}
	served := map[string]bool{}
	for _, l := range rep.Lines {
		if strings.Contains(l.Text, "pam_keyinit.so") {
			t.Errorf("after migrate --apply, check still finds a pam_keyinit.so line: %q", l.Text)
		}
		for _, svc := range l.Services {
			served[svc] = served[svc] || strings.Contains(l.Text, "pam_keyinit_go.so force revoke")
		}
	}
	for _, svc := range []string{"sshd", "su-l"} {
		if !served[svc] {
			t.Errorf("after migrate --apply, %s has no \"pam_keyinit_go.so force revoke\" line:\n%s", svc, out)
		}
	}
}

// checkMigratedLog asserts that both logins went through their own PAM
// service (sshd's accepted key, pam_unix's su-l session) and that nothing
// logged of pam_keyinit.so (libpam's failed dlopen of a line left behind,
// or the module itself) or an error of pam_keyinit_go.
func checkMigratedLog(t *testing.T, entries []harness.Entry, user string) {
	t.Helper()
	defer dumpLog(t, entries)
	for _, want := range []string{"Accepted publickey for " + user + " ", "pam_unix(su-l:session): session opened for user " + user} {
		if len(harness.Matching(entries, want)) != 1 {
			t.Errorf("the log has not one %q", want)
		}
	}
	for _, e := range entries {
		if strings.Contains(e.Text, "pam_keyinit.so") || strings.Contains(e.Text, "pam_keyinit(") {
			t.Errorf("logged about pam_keyinit.so after the migration: %q", e.Text)
		}
		if strings.Contains(e.Text, "pam_keyinit_go(") && e.Severity() <= logErr {
			t.Errorf("the module logged an error: %q", e.Text)
		}
	}
}
