package harness

import (
	"crypto/rand"
	"encoding/binary"
	"os/exec"
	"os/user"
	"strconv"
	"testing"
)

// Temporary users get uids in [testUIDBase, testUIDBase+testUIDRange).
const (
	testUIDBase  = 200000
	testUIDRange = 100000
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
	// A random uid from a range useradd never hands out: the kernel keeps a
	// uid's user keyrings and key quota use after userdel, and a reused uid
	// would start with what an earlier test left.
	var name string
	for try := 0; ; try++ {
		name = RandomName("kig")
		var n [4]byte
		rand.Read(n[:])
		uid := strconv.Itoa(testUIDBase + int(binary.BigEndian.Uint32(n[:])%testUIDRange))
		out, err := exec.Command("useradd", "--no-create-home", "--no-log-init", "--user-group", "--uid", uid,
			"--shell", "/bin/sh", "--home-dir", "/nonexistent", name).CombinedOutput()
		if err == nil {
			break
		}
		if try == 4 {
			t.Fatalf("useradd %s: %v: %s", name, err, out)
		}
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
