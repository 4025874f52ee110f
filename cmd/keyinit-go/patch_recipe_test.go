package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// What keyinit-go(8) and "migrate --help" say of applying migrate's diff
// by hand with GNU patch, on a pam.d with a file that is a symbolic link
// (as Fedora's system-auth is, into /etc/authselect):
//   - the diff names each file as given, absolute with an absolute
//     --pam-dir, and "patch -p0" ignores absolute names;
//   - "patch -p1" run in / applies it to the regular files, and refuses the
//     link ("not a regular file"), leaving the link and its file alone;
//   - with --follow-symlinks patch replaces the link with a plain file;
//   - "patch -p0" in the directory a relative --pam-dir starts from applies
//     it too, and refuses the link the same way.
//
// "migrate --apply" writes the file a link names and keeps the link
// (TestMigrateLinkedFile).
func TestMigrateDiffWithPatch(t *testing.T) {
	if _, err := exec.LookPath("patch"); err != nil {
		harness.Lacks(t, "patch(1), to apply migrate's diff with (Debian package patch)")
	}
	const line = "session    optional     pam_keyinit.so force revoke\n"
	root := t.TempDir()
	pamDir, vendor := filepath.Join(root, "etc", "pam.d"), filepath.Join(root, "etc", "vendor")
	sshd, login, target := filepath.Join(pamDir, "sshd"), filepath.Join(pamDir, "login"), filepath.Join(vendor, "login")
	reset := func() {
		t.Helper()
		for _, d := range []string{pamDir, vendor} {
			os.RemoveAll(d)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(sshd, []byte("#%PAM-1.0\n"+line), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, login); err != nil { // absolute, as authselect's
			t.Fatal(err)
		}
	}
	run := func(dir string, stdin string, name string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Stdin = dir, strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s %q: %v", name, args, err)
		}
		return string(out), code
	}
	migrated := func(p string) bool {
		b, err := os.ReadFile(p)
		return err == nil && strings.Contains(string(b), "pam_keyinit_go.so force revoke")
	}
	linkKept := func() bool {
		l, err := os.Readlink(login)
		return err == nil && l == target && !migrated(target)
	}
	tool := harness.Built(t, "keyinit-go")
	mods, err := filepath.Abs(fixtureModules)
	if err != nil {
		t.Fatal(err)
	}

	reset()
	diff, code := run(root, "", tool, "migrate", "--pam-dir", pamDir, "--module-dir", mods)
	if code != 0 || !strings.Contains(diff, "--- "+sshd+"\n") || !strings.Contains(diff, "--- "+login+"\n") {
		t.Fatalf("migrate: exit %d; want 0 and a diff naming %s and %s as given:\n%s", code, sshd, login, diff)
	}

	out, code := run(root, diff, "patch", "-p0", "--dry-run", "--batch")
	if code == 0 || !strings.Contains(out, "Ignoring potentially dangerous file name "+sshd) {
		t.Errorf("patch -p0 of absolute names: exit %d; want a failure that ignores them:\n%s", code, out)
	}

	out, code = run("/", diff, "patch", "-p1", "--batch", "--no-backup-if-mismatch")
	if code != 1 || !migrated(sshd) || !strings.Contains(out, "etc/pam.d/login is not a regular file -- refusing to patch") || !linkKept() {
		t.Errorf("patch -p1 in /: exit %d, sshd migrated %t, link kept and its file untouched %t; want 1, true, true:\n%s", code, migrated(sshd), linkKept(), out)
	}

	reset()
	out, code = run("/", diff, "patch", "-p1", "--batch", "--follow-symlinks")
	if fi, err := os.Lstat(login); code != 0 || err != nil || fi.Mode()&os.ModeSymlink != 0 || !fi.Mode().IsRegular() || !migrated(login) || migrated(target) {
		t.Errorf("patch -p1 --follow-symlinks: exit %d, %s is %v (%v), its old target migrated %t; want 0 and a plain file in place of the link, the target untouched:\n%s",
			code, login, fi, err, migrated(target), out)
	}

	reset()
	rel, code := run(root, "", tool, "migrate", "--pam-dir", "etc/pam.d", "--module-dir", mods)
	if code != 0 || !strings.Contains(rel, "--- etc/pam.d/sshd\n") {
		t.Fatalf("migrate --pam-dir etc/pam.d: exit %d; want 0 and relative names:\n%s", code, rel)
	}
	out, code = run(root, rel, "patch", "-p0", "--batch", "--no-backup-if-mismatch")
	if code != 1 || !migrated(sshd) || !strings.Contains(out, "etc/pam.d/login is not a regular file -- refusing to patch") || !linkKept() {
		t.Errorf("patch -p0 of relative names: exit %d, sshd migrated %t, link kept %t; want 1, true, true:\n%s", code, migrated(sshd), linkKept(), out)
	}
}
