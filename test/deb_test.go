package test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"pam_keyinit_go/internal/pamconf"
	"pam_keyinit_go/test/harness"
)

const debPackage = "pam-keyinit-go"

// debInstalled reports whether dpkg has the package installed (or half
// installed: anything but "not installed" counts).
func debInstalled(t *testing.T) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Abbrev}", debPackage).Output()
	return err == nil && len(out) > 1 && out[1] != 'n'
}

// dpkg runs dpkg with args and fails the test if it fails.
func dpkg(t *testing.T, args ...string) string {
	t.Helper()
	out, err := dpkgMayFail(args...)
	if err != nil {
		t.Fatalf("dpkg %v: %v\n%s", args, err, out)
	}
	return out
}

// dpkgMayFail runs dpkg with args and returns its output and error; it
// waits (up to 2 minutes) while another program (apt-get in 'make deps' of
// a concurrent run) holds dpkg's lock.
func dpkgMayFail(args ...string) (string, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cmd := exec.Command("dpkg", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "locked by another process") || time.Now().After(deadline) {
			return string(out), err
		}
		time.Sleep(time.Second)
	}
}

// builtDeb runs 'make deb' and returns the package it made.
func builtDeb(t *testing.T) string {
	t.Helper()
	makeIn(t, "deb")
	arch, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Fatal(err)
	}
	debs, _ := filepath.Glob(filepath.Join(harness.RepoRoot(t), "build", debPackage+"_*_"+strings.TrimSpace(string(arch))+".deb"))
	if len(debs) == 0 {
		t.Fatal("make deb made no build/pam-keyinit-go_<version>_<arch>.deb")
	}
	newest := debs[0]
	for _, d := range debs[1:] {
		a, _ := os.Stat(d)
		b, _ := os.Stat(newest)
		if a.ModTime().After(b.ModTime()) {
			newest = d
		}
	}
	return newest
}

// TestDebianPackage: the package built by 'make deb' installs the module,
// the manual page and the pam-auth-update profile; installing changes no
// PAM stack; "pam-auth-update --enable keyinit-go" puts the module line into
// common-session (not common-session-noninteractive), where pamtester loads
// it by name and the session gets the user's keyring, revoked at close;
// purging removes every file and leaves common-session byte for byte as it
// was.
//
// /etc/pam.d and /var/lib/pam (pam-auth-update's state) are private copies
// for this test (harness.PrivateCopyOfDir): the machine's common-session is
// never written, even while the profile is enabled. The package itself is
// really installed with dpkg, for the length of the test.
func TestDebianPackage(t *testing.T) {
	harness.RequirePrivateMounts(t)
	for _, tool := range []string{"dpkg", "dpkg-deb", "pam-auth-update", "pamtester"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing ('make test' installs what it needs): %v", tool, err)
		}
	}
	if debInstalled(t) {
		t.Fatalf("%s is already installed on this machine: the test will not touch a real installation; remove it with 'dpkg --purge %s'", debPackage, debPackage)
	}
	deb := builtDeb(t)
	checkLintian(t, deb)
	log := harness.Log(t)
	log.Collect()

	harness.PrivateCopyOfDir(t, "/etc/pam.d")
	harness.PrivateCopyOfDir(t, "/var/lib/pam")
	origSession, err := os.ReadFile("/etc/pam.d/common-session")
	if err != nil {
		t.Fatal(err)
	}
	origNonInteractive, err := os.ReadFile("/etc/pam.d/common-session-noninteractive")
	if err != nil {
		t.Fatal(err)
	}
	// Runs before the private copies are unmounted: the package's prerm
	// edits the copy of common-session.
	t.Cleanup(func() {
		if debInstalled(t) {
			dpkg(t, "--purge", debPackage)
		}
	})

	files := debInstall(t, deb, origSession)
	debEnable(t, origNonInteractive)
	svc, u := debLoadsByName(t, log)
	debInstalledCommand(t, svc, u)
	debPurge(t, files, origSession)
}

// debInstall installs the package: its files are in place with their modes
// and listed by dpkg, and no PAM stack changed.
func debInstall(t *testing.T, deb string, origSession []byte) []string {
	t.Helper()
	dpkg(t, "-i", deb)
	secureDir := filepath.Dir(harness.CModule(t))
	modes := map[string]os.FileMode{
		filepath.Join(secureDir, "pam_keyinit_go.so"):       0o644,
		filepath.Join(secureDir, "pam_keyinit_go/core.so"):  0o644,
		"/usr/share/man/man8/pam_keyinit_go.8.gz":           0o644,
		"/usr/share/man/man8/keyinit-go.8.gz":               0o644,
		"/usr/share/pam-configs/keyinit-go":                 0o644,
		"/usr/share/doc/pam-keyinit-go/copyright":           0o644,
		"/usr/share/doc/pam-keyinit-go/changelog.gz":        0o644,
		"/usr/share/doc/pam-keyinit-go/examples/pam.d/sshd": 0o644,
		"/usr/sbin/keyinit-go":                              0o755,
		"/usr/libexec/keyinit-go/keyinit-go-try":            0o755,
	}
	var files []string
	for f, mode := range modes {
		files = append(files, f)
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("after dpkg -i: %v", err)
			continue
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v; want %v", f, fi.Mode(), mode)
		}
	}
	listed := dpkg(t, "-L", debPackage)
	for _, f := range files {
		if !slices.Contains(strings.Split(listed, "\n"), f) {
			t.Errorf("dpkg -L %s does not list %s:\n%s", debPackage, f, listed)
		}
	}
	if b, _ := os.ReadFile("/etc/pam.d/common-session"); !bytes.Equal(b, origSession) {
		t.Errorf("installing the package changed common-session (the profile is Default: no):\n%s", b)
	}
	return files
}

// debEnable enables the profile: the line goes into common-session, before
// pam_unix, and nowhere else.
func debEnable(t *testing.T, origNonInteractive []byte) {
	t.Helper()
	enable := exec.Command("pam-auth-update", "--enable", "keyinit-go")
	enable.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := enable.CombinedOutput(); err != nil {
		t.Fatalf("pam-auth-update --enable keyinit-go: %v\n%s", err, out)
	}
	session, _ := os.ReadFile("/etc/pam.d/common-session")
	lines := parsePamFile(t, "/etc/pam.d/common-session")
	ours := slices.IndexFunc(lines, func(l pamconf.Line) bool { return l.Module == "pam_keyinit_go.so" })
	unix := slices.IndexFunc(lines, func(l pamconf.Line) bool { return l.Module == "pam_unix.so" })
	switch {
	case ours < 0:
		t.Fatalf("after pam-auth-update --enable keyinit-go, common-session has no pam_keyinit_go.so line:\n%s", session)
	case lines[ours].Type != "session" || lines[ours].Control != "optional" || strings.Join(lines[ours].Args, " ") != "force revoke":
		t.Errorf("common-session line %+v; want \"session optional pam_keyinit_go.so force revoke\"", lines[ours])
	case unix >= 0 && ours > unix:
		t.Errorf("pam_keyinit_go.so comes after pam_unix.so in common-session:\n%s", session)
	}
	if b, _ := os.ReadFile("/etc/pam.d/common-session-noninteractive"); !bytes.Equal(b, origNonInteractive) {
		t.Errorf("the profile is interactive-only, but common-session-noninteractive changed:\n%s", b)
	}
}

// debLoadsByName: the installed module loads by name through
// common-session and gives a pam_exec child the user's keyring, revoked at
// close, without an error line.
func debLoadsByName(t *testing.T, log *harness.Syslog) (harness.Service, harness.User) {
	t.Helper()
	svc, u := pamtesterProbe(t, "@include common-session")
	entries := log.Collect()
	tag := fmt.Sprintf("pam_keyinit_go(%s:session)", svc.Name)
	for _, e := range harness.Matching(entries, tag) {
		if e.Severity() <= logErr {
			t.Errorf("the module logged an error: %q", e.Text)
		}
	}
	return svc, u
}

// pamtesterProbe opens and closes a session with pamtester for a new user
// through a new service: session (its session stack, or an include of
// one), then a pam_exec probe. The probe must see the user's own _ses
// linking _uid.N at open, revoked at close.
func pamtesterProbe(t *testing.T, session string) (harness.Service, harness.User) {
	t.Helper()
	u := harness.TempUser(t)
	dir := t.TempDir()
	probe, out := filepath.Join(dir, "probe.sh"), filepath.Join(dir, "probe.out")
	if err := os.WriteFile(probe, []byte(probeScript), 0o755); err != nil {
		t.Fatal(err)
	}
	svc := harness.SystemService(t, fmt.Sprintf("auth required pam_permit.so\naccount required pam_permit.so\n"+
		"%s\nsession optional pam_exec.so quiet %s %s\n", session, probe, out))
	if b, err := exec.Command("pamtester", "-v", svc.Name, u.Name, "open_session", "close_session").CombinedOutput(); err != nil {
		t.Fatalf("pamtester through %q: %v\n%s", session, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the pam_exec probe left no output: %v", err)
	}
	probed := strings.Split(strings.TrimSpace(string(b)), "\n")
	wantOpen := fmt.Sprintf("open_session;keyring;%d;%d;3f030000;_ses;", u.UID, u.GID)
	if len(probed) != 2 || !strings.HasPrefix(probed[0], wantOpen) || !strings.HasSuffix(probed[0], fmt.Sprintf(";_uid.%d", u.UID)) ||
		!strings.HasPrefix(probed[1], "close_session;") || !strings.Contains(probed[1], "revoked") {
		t.Errorf("the session's child saw %q; want %q... linking _uid.%d, then revoked at close", probed, wantOpen, u.UID)
	}
	return svc, u
}

// debInstalledCommand: the installed keyinit-go checks the enabled
// common-session, and try runs a session through it with the installed
// helper (there is none next to /usr/sbin/keyinit-go).
func debInstalledCommand(t *testing.T, svc harness.Service, u harness.User) {
	t.Helper()
	if out, err := exec.Command("/usr/sbin/keyinit-go", "check", "common-session").CombinedOutput(); err != nil {
		t.Errorf("keyinit-go check common-session: %v\n%s", err, out)
	}
	tried, err := exec.Command("/usr/sbin/keyinit-go", "try", svc.Name, u.Name).CombinedOutput()
	wantVerdict := "verdict (OK): new session keyring _ses (serial "
	if err != nil || !strings.Contains(string(tried), wantVerdict) || !strings.Contains(string(tried), "; revoked at close\n") {
		t.Errorf("keyinit-go try %s %s: %v\n%s\nwant %q... revoked at close", svc.Name, u.Name, err, tried, wantVerdict)
	}
}

// debPurge purges the package: every file gone, common-session as it was.
func debPurge(t *testing.T, files []string, origSession []byte) {
	t.Helper()
	dpkg(t, "--purge", debPackage)
	if debInstalled(t) {
		t.Errorf("%s is still installed after dpkg --purge", debPackage)
	}
	for _, f := range append(files, "/usr/share/doc/pam-keyinit-go", "/usr/libexec/keyinit-go") {
		if _, err := os.Lstat(f); !os.IsNotExist(err) {
			t.Errorf("after dpkg --purge %s still exists (%v)", f, err)
		}
	}
	if b, _ := os.ReadFile("/etc/pam.d/common-session"); !bytes.Equal(b, origSession) {
		t.Errorf("after purge common-session differs from before:\n%s\nwas:\n%s", b, origSession)
	}
}

// checkLintian: lintian reports no error and no warning about the package.
func checkLintian(t *testing.T, deb string) {
	t.Helper()
	if _, err := exec.LookPath("lintian"); err != nil {
		t.Fatalf("lintian is missing ('make test' installs it): %v", err)
	}
	// --fail-on makes the exit status say it too; stderr has only
	// lintian's note about running as root.
	out, err := exec.Command("lintian", "--fail-on", "error,warning", deb).Output()
	if err != nil || len(out) != 0 {
		t.Errorf("lintian %s: %v\n%s", deb, err, out)
	}
}
