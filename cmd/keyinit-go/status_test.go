package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/cmd/keyinit-go/internal/keyring"
	"pam_keyinit_go/internal/keys"
	"pam_keyinit_go/test/harness"
)

func TestStatusJSON(t *testing.T) {
	var rep statusReport
	if code := keyinitGoJSON(t, &rep, "status"); code != 0 {
		t.Errorf("exit %d; want 0 on a kernel with keyrings", code)
	}
	if !rep.KeyringsSupported || rep.KeyctlError != "" {
		t.Errorf("keyrings_supported %t (%q); want true: the module tests need keyrings too", rep.KeyringsSupported, rep.KeyctlError)
	}

	// near_quota is every uid of /proc/key-users at 80% of a quota, worked
	// out here in integers. Other tests may add keys meanwhile, but none
	// comes near a quota.
	users, err := keys.ReadKeyUsers()
	if err != nil {
		t.Fatal(err)
	}
	near := map[uint32]bool{}
	for _, u := range users {
		if 5*u.QuotaKeys >= 4*u.MaxKeys || 5*u.QuotaBytes >= 4*u.MaxBytes {
			near[u.UID] = true
		}
	}
	for _, u := range rep.NearQuota {
		if !near[u.UID] || len(u.Raise) == 0 {
			t.Errorf("near_quota lists uid %d (%s, raise %q); /proc/key-users has it below 80%%", u.UID, u.Quota(), u.Raise)
		}
	}
	if len(rep.NearQuota) != len(near) {
		t.Errorf("near_quota has %d uids; /proc/key-users has %d at 80%% or more", len(rep.NearQuota), len(near))
	}

	// The caller's session keyring: what a child of this test sees, and
	// marked when it is only the user-session keyring.
	inherited, err := harness.InheritedSessionKeyring()
	if err != nil {
		harness.Lacks(t, "a readable inherited session keyring for the session part (%v)", err)
	}
	me := uint32(os.Getuid())
	if s := rep.Session; s == nil || s.Name != inherited || s.UID != me || s.Serial <= 0 ||
		s.UserSessionOnly != strings.HasPrefix(inherited, "_uid_ses.") {
		t.Errorf("session %+v; want %q owned by uid %d, user_session_only only for _uid_ses.N", s, inherited, me)
	}
}

// Under "keyctl session -" the caller has an anonymous session keyring of
// its own, whatever the test process has.
func TestStatusOwnSessionKeyring(t *testing.T) {
	if _, err := exec.LookPath("keyctl"); err != nil {
		harness.Lacks(t, "keyctl (keyutils) to start status in a session keyring of its own")
	}
	out, err := exec.Command("keyctl", "session", "-", harness.Built(t, "keyinit-go"), "status", "--json").Output()
	if err != nil {
		t.Fatalf("keyctl session - keyinit-go status --json: %v", err)
	}
	var rep statusReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("no JSON report: %v: %s", err, out)
	}
	if s := rep.Session; s == nil || s.Name != "_ses" || s.UserSessionOnly {
		t.Errorf("session %+v; want _ses, not user_session_only", s)
	}
}

func TestStatusText(t *testing.T) {
	out, stderr, code := keyinitGo(t, "status")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	inherited, err := harness.InheritedSessionKeyring()
	if err != nil {
		harness.Lacks(t, "a readable inherited session keyring (%v)", err)
	}
	meaning := "a session keyring of its own: without force pam_keyinit.so keeps it"
	if strings.HasPrefix(inherited, "_uid_ses.") {
		meaning = "only the user-session keyring (or none, which looking up installs)"
	}
	for _, want := range []string{
		"keyctl: works\n",
		"\nkey quotas: ",
		"\nsession keyring of the caller: " + inherited + " (serial ",
		meaning,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// What status says when keyctl fails and a uid is near its quota, which
// this machine cannot be made to show safely.
func TestStatusReportText(t *testing.T) {
	rep := statusReport{
		KeyctlError: "ENOSYS (function not implemented)",
		keyctlErrno: unix.ENOSYS,
		NearQuota: []quotaUse{{
			KeyUser: keys.KeyUser{UID: 1001, Owner: "alice", QuotaKeys: 170, MaxKeys: 200, QuotaBytes: 28, MaxBytes: 20000},
			Raise:   []string{"kernel.keys.maxkeys"},
		}},
	}
	var b bytes.Buffer
	rep.writeText(&b)
	for _, want := range []string{
		"keyctl: does NOT work here: ENOSYS (function not implemented); the kernel lacks CONFIG_KEYS",
		"\n  uid 1001 (alice): 170/200 keys and 28/20000 bytes; raise kernel.keys.maxkeys\n",
		"\nsession keyring of the caller: not looked up (keyctl does not work)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout for code 0, stderr otherwise
	}{
		{nil, 2, "Usage:\n  keyinit-go try"},
		{[]string{"--help"}, 0, "keyinit-go status [--json]"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"try", "--help"}, 0, "every prompt is answered with an\nerror (PAM_CONV_ERR)"},
		{[]string{"check", "-h"}, 0, "after-key-module"},
		{[]string{"status", "--help"}, 0, "EOPNOTSUPP means it works"},
		{[]string{"status", "extra"}, 2, `takes no arguments, got ["extra"]`},
	} {
		out, stderr, code := keyinitGo(t, tc.args...)
		where := out
		if tc.code != 0 {
			where = stderr
		}
		if code != tc.code || !strings.Contains(where, tc.out) {
			t.Errorf("keyinit-go %q: exit %d, stdout %q, stderr %q; want %d and %q", tc.args, code, out, stderr, tc.code, tc.out)
		}
	}
}

// Under a seccomp filter that makes keyctl fail, status says keyrings are
// not usable, why and what to do, and exits 1.
func TestStatusWithoutKeyctl(t *testing.T) {
	run := harness.Built(t, "test/seccomp_run")
	for errno, want := range map[string]struct{ json, text string }{
		"ENOSYS": {"ENOSYS (function not implemented)", "the kernel lacks CONFIG_KEYS"},
		"EPERM":  {"EPERM (operation not permitted)", "denies keyctl: allow it there"},
	} {
		out, err := exec.Command(run, errno, harness.Built(t, "keyinit-go"), "status", "--json").Output()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%s: exit %v; want 1", errno, err)
		}
		var rep statusReport
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("%s: no JSON report: %v: %s", errno, err, out)
		}
		if rep.KeyringsSupported || rep.KeyctlError != want.json || rep.Session != nil {
			t.Errorf("%s: supported %t, error %q, session %+v; want false, %q, none",
				errno, rep.KeyringsSupported, rep.KeyctlError, rep.Session, want.json)
		}
		text, _ := exec.Command(run, errno, harness.Built(t, "keyinit-go"), "status").Output()
		if !strings.Contains(string(text), want.text) {
			t.Errorf("%s: the text does not say %q:\n%s", errno, want.text, text)
		}
	}
}

// hostileName is a keyring name any process may choose: terminal escapes
// (clear the screen, colours, a C1 CSI in UTF-8 and as a lone byte), a bell
// and a newline followed by what would pass for a line of the report.
func hostileName() string {
	return harness.RandomName("kig-") + "\x1b[2J\x1b[31m\u009b\x9b\nkeyctl: does NOT work here\r\x07"
}

// inHostileSession runs the built keyinit-go with args in a new session
// keyring named name, joined on a thread of its own (which then ends), and
// returns its stdout and exit code.
func inHostileSession(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	var out []byte
	var err error
	bin := harness.Built(t, "keyinit-go")
	harness.OnNewThread(func() {
		if _, jerr := unix.KeyctlJoinSessionKeyring(name); jerr != nil {
			err = jerr
			return
		}
		out, err = exec.Command(bin, args...).Output()
	})
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("keyinit-go %q in session keyring %q: %v", args, name, err)
	}
	return string(out), 0
}

// noControls asserts that text has no control character but newlines, and
// no C1 control in UTF-8.
func noControls(t *testing.T, what, text string) {
	t.Helper()
	for i, r := range text {
		if r != '\n' && (r < 0x20 || r >= 0x7f && r < 0xa0) || r == '\ufffd' && text[i] != 0xef {
			t.Errorf("%s has the control character %q at %d:\n%q", what, r, i, text)
			return
		}
	}
}

// status shows the caller's keyring name escaped, as try does: it draws
// no line of its own and sends nothing to the terminal; --json keeps it as
// the kernel has it (JSON escapes control characters itself).
func TestStatusEscapesNames(t *testing.T) {
	name := hostileName()
	out, code := inHostileSession(t, name, "status")
	if code != 0 {
		t.Errorf("exit %d; want 0\n%s", code, out)
	}
	noControls(t, "status", out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || lines[0] != "keyctl: works" || strings.Count(out, "keyctl:") != 2 {
		t.Errorf("status printed %d lines, or a line that starts with keyctl: besides the first:\n%s", len(lines), out)
	}
	if want := "session keyring of the caller: " + keyring.Escape(name) + " (serial "; !strings.Contains(out, want) {
		t.Errorf("status lacks %q:\n%s", want, out)
	}
	if !strings.Contains(out, `\x1b[2J\x1b[31m\u009b\x9b\nkeyctl: does NOT work here\r\a (serial `) {
		t.Errorf("the name is not escaped as a Go string is:\n%s", out)
	}
	js, _ := inHostileSession(t, name, "status", "--json")
	var rep statusReport
	// JSON strings are UTF-8: encoding/json writes the lone byte as U+FFFD.
	if err := json.Unmarshal([]byte(js), &rep); err != nil || rep.Session == nil || rep.Session.Name != strings.ToValidUTF8(name, "\ufffd") {
		t.Errorf("--json: %v, session %+v; want the name as the kernel has it", err, rep.Session)
	}
}
