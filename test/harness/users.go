package harness

import (
	"os/exec"
	"os/user"
	"strconv"
	"testing"
)

// User is a temporary local user.
type User struct {
	Name     string
	UID, GID uint32
}

// TempUser creates a local user with its own group and no home, removed when
// the test ends.
func TempUser(t testing.TB) User {
	t.Helper()
	RequireRoot(t)
	name := RandomName("kig")
	out, err := exec.Command("useradd", "--no-create-home", "--user-group",
		"--shell", "/bin/sh", "--home-dir", "/nonexistent", name).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("lookup %s: %v", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return User{Name: name, UID: uint32(uid), GID: uint32(gid)}
}
