package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// LoginUser is a temporary user that can log in: it has a home directory
// of its own (sshd reads ~/.ssh/authorized_keys, login and su -l change
// into it).
type LoginUser struct {
	User
	Home string
}

// TempLoginUser is TempUser with a temporary home directory (mode 0755,
// owned by the user). At cleanup it waits for the user's last processes
// (sessions just closed, processes a test left behind) to end, since userdel
// refuses a user that still runs, then removes the home.
func TempLoginUser(t testing.TB) LoginUser {
	t.Helper()
	u := TempUser(t) // its userdel cleanup runs after the ones below
	home, err := os.MkdirTemp("", "kig-home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		WaitNoProcesses(t, u.UID, 30*time.Second)
		os.RemoveAll(home)
	})
	if err := os.Chmod(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("usermod", "--home", home, u.Name).CombinedOutput(); err != nil {
		t.Fatalf("usermod --home %s %s: %v: %s", home, u.Name, err, out)
	}
	return LoginUser{User: u, Home: home}
}

// WriteFileAs writes a file owned by the user (directories on the way are
// made 0700 and owned by the user too).
func (u LoginUser) WriteFileAs(t testing.TB, rel string, content []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(u.Home, rel)
	for d := filepath.Dir(p); d != u.Home && strings.HasPrefix(d, u.Home); d = filepath.Dir(d) {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, int(u.UID), int(u.GID)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(p, content, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	return p
}

// WaitNoProcesses waits until no process runs with real uid uid, or the
// timeout passes (then it reports which ones are left).
func WaitNoProcesses(t testing.TB, uid uint32, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := processesOf(uid)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes of uid %d still running after %v: %s", uid, timeout, strings.Join(left, ", "))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processesOf lists "pid (comm)" of the processes whose real uid is uid.
func processesOf(uid uint32) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	want := strconv.FormatUint(uint64(uid), 10)
	var out []string
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "status"))
		if err != nil {
			continue
		}
		var name, ruid string
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "Name:" {
				name = f[1]
			}
			if len(f) >= 2 && f[0] == "Uid:" {
				ruid = f[1]
			}
		}
		if ruid == want {
			out = append(out, filepath.Base(d)+" ("+name+")")
		}
	}
	return out
}
