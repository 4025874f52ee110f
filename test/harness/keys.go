package harness

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Special keyring ids.
const (
	SessionKeyring     = unix.KEY_SPEC_SESSION_KEYRING
	UserKeyring        = unix.KEY_SPEC_USER_KEYRING
	UserSessionKeyring = unix.KEY_SPEC_USER_SESSION_KEYRING
)

// Key is what KEYCTL_DESCRIBE tells of a key, as seen by the calling thread.
type Key struct {
	Serial  int
	Type    string
	UID     uint32
	GID     uint32
	Perm    uint32
	Name    string
	Revoked bool  // the key exists but was revoked
	Err     error // any other failure
}

func (k Key) String() string {
	switch {
	case k.Revoked:
		return fmt.Sprintf("key %d revoked", k.Serial)
	case k.Err != nil:
		return fmt.Sprintf("key %d: %v", k.Serial, k.Err)
	}
	return fmt.Sprintf("%s %d %q uid=%d gid=%d perm=%08x", k.Type, k.Serial, k.Name, k.UID, k.GID, k.Perm)
}

// Describe describes a key by serial or special id. Describing
// SessionKeyring in a thread with none installs the user-session keyring:
// call it only after the operation under test.
func Describe(id int) Key {
	k := Key{Serial: id}
	if id < 0 {
		serial, err := unix.KeyctlGetKeyringID(id, false)
		if err != nil {
			k.Revoked, k.Err = errors.Is(err, unix.EKEYREVOKED), err
			if k.Revoked {
				k.Err = nil
			}
			return k
		}
		k.Serial = serial
	}
	d, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, k.Serial)
	if errors.Is(err, unix.EKEYREVOKED) {
		k.Revoked = true
		return k
	}
	if err != nil {
		k.Err = err
		return k
	}
	f := strings.SplitN(d, ";", 5)
	if len(f) != 5 {
		k.Err = fmt.Errorf("unexpected description %q", d)
		return k
	}
	uid, _ := strconv.ParseUint(f[1], 10, 32)
	gid, _ := strconv.ParseUint(f[2], 10, 32)
	perm, _ := strconv.ParseUint(f[3], 16, 32)
	k.Type, k.UID, k.GID, k.Perm, k.Name = f[0], uint32(uid), uint32(gid), uint32(perm), f[4]
	return k
}

// Links lists the keys a keyring links to (KEYCTL_READ).
func Links(keyring int) ([]Key, error) {
	buf := make([]byte, 4096)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, keyring, buf, 0)
	if err != nil {
		return nil, err
	}
	if n > len(buf) {
		return nil, fmt.Errorf("keyring %d links more than %d keys", keyring, len(buf)/4)
	}
	var keys []Key
	for i := 0; i+4 <= n; i += 4 {
		keys = append(keys, Describe(int(int32(binary.NativeEndian.Uint32(buf[i:])))))
	}
	return keys, nil
}

// ThreadIDs maps each thread of this process to its Uid, Gid and Groups
// lines of /proc/self/task/TID/status.
func ThreadIDs() (map[string]string, error) {
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		return nil, err
	}
	ids := make(map[string]string)
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread exited
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") || strings.HasPrefix(l, "Groups:") {
				lines = append(lines, strings.Join(strings.Fields(l), " "))
			}
		}
		sort.Strings(lines)
		ids[filepath.Base(filepath.Dir(p))] = strings.Join(lines, "; ")
	}
	return ids, nil
}

// KeyUsage is uid's "qnkeys/maxkeys qnbytes/maxbytes" from /proc/key-users,
// or "" if uid owns no keys.
func KeyUsage(uid uint32) string {
	b, err := os.ReadFile("/proc/key-users")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 5 && f[0] == strconv.FormatUint(uint64(uid), 10)+":" {
			return f[3] + " " + f[4]
		}
	}
	return ""
}

// InheritedSessionKeyring is the name of the session keyring a child of this
// process sees, without changing this process: "_uid_ses.N" when the process
// has none of its own (looking it up in the child installs that one there).
func InheritedSessionKeyring() (string, error) {
	out, err := exec.Command("keyctl", "rdescribe", "@s").Output()
	if err != nil {
		return "", fmt.Errorf("keyctl rdescribe @s: %v", err)
	}
	f := strings.SplitN(strings.TrimSpace(string(out)), ";", 5)
	if len(f) != 5 {
		return "", fmt.Errorf("keyctl rdescribe @s printed %q", out)
	}
	return f[4], nil
}

// RequireNoSessionKeyring stops a test (Lacks: a skip, a failure under CI)
// that needs its threads to start with no session keyring of their own
// (open without "force" then makes one).
// No process can drop the session keyring it inherited, so this state must
// come from how the tests were started: CI starts them without one.
func RequireNoSessionKeyring(t testing.TB) {
	t.Helper()
	name, err := InheritedSessionKeyring()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "_uid_ses.") {
		Lacks(t, "a test process without a session keyring of its own (it has %q, and no process can drop it); "+
			"run 'make test' from a process without one (not under 'keyctl session' or an ssh login with pam_keyinit)", name)
	}
}
