package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SessionProbe checks a real login from the inside: Command is the shell
// command to run in the user's session (through ssh, su -c, a login shell).
// It records the session keyring as the session's own command sees it, and
// leaves a process behind (setsid, like nohup jobs or tmux) that waits for
// the test to say the login is over, then watches @s until it is revoked.
type SessionProbe struct {
	Dir  string // owned by the user: the session writes its findings here
	user LoginUser
}

// NewSessionProbe makes the probe's directory in u's home.
func NewSessionProbe(t testing.TB, u LoginUser, name string) *SessionProbe {
	t.Helper()
	p := &SessionProbe{Dir: filepath.Join(u.Home, "probe-"+name), user: u}
	if err := os.Mkdir(p.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p.Dir, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	return p
}

// Command is one line of sh. The session waits until the left-behind
// process has read @s (and so has left the login's process group and
// terminal: a hangup at logout cannot reach it). That process waits at most
// 60 s for the test's go-ahead and then polls for at most 30 s, then writes
// what @s was at the end, so it never outlives a failed test for long.
func (p *SessionProbe) Command() string {
	d := p.Dir
	leftover := fmt.Sprintf(`keyctl rdescribe @s >%[1]s/before.tmp 2>&1; mv %[1]s/before.tmp %[1]s/before; `+
		`i=0; while [ ! -e %[1]s/go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; i=0; `+
		`while keyctl rdescribe @s >/dev/null 2>&1 && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; `+
		`keyctl rdescribe @s >%[1]s/after.tmp 2>&1; mv %[1]s/after.tmp %[1]s/after`, d)
	return fmt.Sprintf(`{ keyctl rdescribe @s; keyctl show @s; } >%[1]s/inside 2>&1; `+
		`setsid -f sh -c '%[2]s' </dev/null >/dev/null 2>&1; `+
		`i=0; while [ ! -e %[1]s/before ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; echo probe-started`, d, leftover)
}

// CheckInside (t.Errorf only: goroutines may call it) asserts that the session's command saw a session keyring
// "_ses" owned by the user, with pam_keyinit's permissions, linking the
// user's "_uid.N"; it returns the keyring's description line.
func (p *SessionProbe) CheckInside(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.Dir, "inside"))
	if err != nil {
		t.Errorf("the session's command wrote nothing: %v", err)
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := fmt.Sprintf("keyring;%d;%d;3f030000;_ses", p.user.UID, p.user.GID)
	if lines[0] != want {
		t.Errorf("in the session, keyctl rdescribe @s printed %q; want %q\nfull output:\n%s", lines[0], want, b)
	}
	uidKeyring := fmt.Sprintf("keyring: _uid.%d", p.user.UID)
	if !strings.Contains(string(b), uidKeyring) {
		t.Errorf("in the session, keyctl show @s does not link %q:\n%s", uidKeyring, b)
	}
	return lines[0]
}

// CheckRevokedAfterLogout tells the left-behind process that the login is
// over and asserts that it then found the session keyring revoked, after
// having seen the session's keyring (sessionLine) while the login was on.
func (p *SessionProbe) CheckRevokedAfterLogout(t testing.TB, sessionLine string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.Dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	after := filepath.Join(p.Dir, "after")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(after); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the process left behind by the session wrote no result in %s", p.Dir)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	before, _ := os.ReadFile(filepath.Join(p.Dir, "before"))
	if got := strings.TrimSpace(string(before)); sessionLine != "" && got != sessionLine {
		t.Errorf("the left-behind process first saw @s as %q; want the session's %q", got, sessionLine)
	}
	b, _ := os.ReadFile(after)
	if !strings.Contains(string(b), "revoked") {
		t.Errorf("after logout the left-behind process saw @s as %q; want it revoked", strings.TrimSpace(string(b)))
	}
}
