package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/internal/keys"
)

// Special keyring ids.
const (
	SessionKeyring     = keys.Session
	UserKeyring        = keys.User
	UserSessionKeyring = keys.UserSession
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
	d, err := keys.Describe(k.Serial)
	if errors.Is(err, unix.EKEYREVOKED) {
		k.Revoked = true
		return k
	}
	if err != nil {
		k.Err = err
		return k
	}
	k.Type, k.UID, k.GID, k.Perm, k.Name = d.Type, d.UID, d.GID, d.Perm, d.Name
	return k
}

// Links lists the keys a keyring links to (KEYCTL_READ).
func Links(keyring int) ([]Key, error) {
	serials, err := keys.Links(keyring)
	if err != nil {
		return nil, err
	}
	var out []Key
	for _, s := range serials {
		out = append(out, Describe(s))
	}
	return out, nil
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

// KeyUsage is uid's quota use from /proc/key-users ("N/MAX keys and
// B/MAX bytes"), or "" if uid owns no keys.
func KeyUsage(uid uint32) string {
	if u, found := keys.UserOf(uid); found {
		return u.Quota()
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
