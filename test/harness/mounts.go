package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The end-to-end tests change system PAM files (/etc/pam.d/sshd, su-l,
// common-session, ...) only as seen from the private mount namespace that
// Main runs the tests in: a changed copy is bind-mounted over the real file.
// The real file is never written, so programs outside the tests (other test
// runs on this machine, real logins) never see the change, and nothing needs
// restoring even if the test binary is killed: the mount dies with the
// namespace. The test's children (sshd, su, login, dpkg) inherit the
// namespace and see the copy.

// RequirePrivateMounts fails the test unless it runs in Main's private mount
// namespace, where a bind mount cannot leak to the rest of the machine.
func RequirePrivateMounts(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	if os.Getenv(nsEnv) == "" {
		t.Fatal("not in the private mount namespace of harness.Main: refusing to change system files; call harness.Main from TestMain")
	}
}

// OverlayFile shows content at path, for this test only, in the private
// mount namespace (the file's mode is kept). At cleanup the mount goes away
// and the test fails if the real file's bytes differ from before.
func OverlayFile(t testing.TB, path string, content []byte) {
	t.Helper()
	RequirePrivateMounts(t)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(copyPath, content, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(copyPath, fi.Mode().Perm()); err != nil { // WriteFile's mode passes through umask
		t.Fatal(err)
	}
	// Registered first so that it runs last, after the unmount.
	t.Cleanup(func() {
		if now, err := os.ReadFile(path); err != nil || !bytes.Equal(now, orig) {
			t.Errorf("%s differs from its content before the test (read error %v)", path, err)
		}
	})
	bindOver(t, copyPath, path)
}

// PrivateCopyOfDir bind-mounts a copy of dir (with modes, links and owners)
// over dir, so that programs the test runs (pam-auth-update, dpkg scripts)
// can create, rename and replace files in it without touching the real one.
// It returns the copy's path, which stays readable after cleanup unmounts it.
func PrivateCopyOfDir(t testing.TB, dir string) string {
	t.Helper()
	RequirePrivateMounts(t)
	copyDir := filepath.Join(t.TempDir(), filepath.Base(dir))
	if out, err := exec.Command("cp", "-a", dir, copyDir).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v: %s", dir, copyDir, err, out)
	}
	bindOver(t, copyDir, dir)
	return copyDir
}

func bindOver(t testing.TB, src, target string) {
	t.Helper()
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s over %s: %v", src, target, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(target, 0); err != nil {
			// Still busy (a process the test left has it open): detach it.
			if err2 := unix.Unmount(target, unix.MNT_DETACH); err2 != nil {
				t.Errorf("unmount %s: %v, %v", target, err, err2)
			}
		}
	})
}

// ReplaceKeyinitLine shows /etc/pam.d/SERVICE, for this test only, with its
// pam_keyinit.so line(s) replaced by "session optional MODULE OPTIONS". The
// test fails if the service has no pam_keyinit.so line. It returns the new
// content.
func ReplaceKeyinitLine(t testing.TB, service, module, options string) string {
	t.Helper()
	path := filepath.Join("/etc/pam.d", service)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	replaced := 0
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 3 && !strings.HasPrefix(f[0], "#") && strings.TrimPrefix(f[0], "-") == "session" &&
			filepath.Base(f[2]) == "pam_keyinit.so" {
			lines[i] = fmt.Sprintf("session optional %s %s\n", module, options)
			replaced++
		}
	}
	if replaced == 0 {
		t.Fatalf("%s has no session pam_keyinit.so line to replace", path)
	}
	content := strings.Join(lines, "")
	OverlayFile(t, path, []byte(content))
	return content
}
