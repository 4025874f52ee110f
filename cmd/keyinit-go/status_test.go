package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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

	// Every kernel.keys.* file, with its value.
	files, _ := filepath.Glob("/proc/sys/kernel/keys/*")
	if len(rep.Sysctls) != len(files) || len(files) == 0 {
		t.Errorf("%d sysctls; want the %d files of /proc/sys/kernel/keys", len(rep.Sysctls), len(files))
	}
	sysctl := map[string]string{}
	for _, s := range rep.Sysctls {
		b, err := os.ReadFile("/proc/sys/kernel/keys/" + strings.TrimPrefix(s.Name, "kernel.keys."))
		if err != nil || strings.TrimSpace(string(b)) != s.Value {
			t.Errorf("%s = %q; the file says %q (%v)", s.Name, s.Value, b, err)
		}
		sysctl[s.Name] = s.Value
	}

	// /proc/key-users: every uid's limits are the sysctls (root's own ones),
	// and the caller's uid is there (it owns at least its user keyrings).
	me := uint32(os.Getuid())
	found := false
	for _, u := range rep.KeyUsers {
		maxKeys, maxBytes := sysctl["kernel.keys.maxkeys"], sysctl["kernel.keys.maxbytes"]
		if u.UID == 0 {
			maxKeys, maxBytes = sysctl["kernel.keys.root_maxkeys"], sysctl["kernel.keys.root_maxbytes"]
		}
		if strconv.Itoa(u.MaxKeys) != maxKeys || strconv.Itoa(u.MaxBytes) != maxBytes {
			t.Errorf("uid %d: limits %d keys %d bytes; want the sysctls %s and %s", u.UID, u.MaxKeys, u.MaxBytes, maxKeys, maxBytes)
		}
		if u.QuotaKeys > u.MaxKeys || u.Keys < 0 {
			t.Errorf("uid %d: %+v is not a parsed key-users line", u.UID, u)
		}
		if u.UID == me {
			found = true
			if u.Keys < 1 {
				t.Errorf("uid %d owns %d keys; it has at least its session keyring", me, u.Keys)
			}
		}
	}
	if !found {
		t.Errorf("key_users lacks the caller's uid %d: %+v", me, rep.KeyUsers)
	}

	// The caller's session keyring: what a child of this test sees, and
	// noted when it is only the user-session keyring.
	inherited, err := harness.InheritedSessionKeyring()
	if err != nil {
		harness.Lacks(t, "a readable inherited session keyring for the session part (%v)", err)
	}
	if rep.Session == nil || rep.Session.Name != inherited || rep.Session.UID != me {
		t.Errorf("session %+v; want %q owned by uid %d", rep.Session, inherited, me)
	}
	if want := strings.HasPrefix(inherited, "_uid_ses."); rep.UserSessionOnly != want {
		t.Errorf("user_session_only %t; want %t for %q", rep.UserSessionOnly, want, inherited)
	}
}

func TestStatusText(t *testing.T) {
	out, stderr, code := keyinitGo(t, "status")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile("/proc/sys/kernel/keys/maxkeys")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"kernel keyrings: supported\n",
		"\nsettings:\n  kernel.keys.gc_delay = ",
		"\n  kernel.keys.maxkeys = " + strings.TrimSpace(string(b)) + "\n",
		"\nkey use per uid (/proc/key-users):\n  uid ",
		"\nsession keyring of the caller:\n  ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if inherited, err := harness.InheritedSessionKeyring(); err == nil && strings.HasPrefix(inherited, "_uid_ses.") &&
		!strings.Contains(out, "note: the caller has no session keyring of its own") {
		t.Errorf("output does not note the user-session keyring:\n%s", out)
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
		{[]string{"status", "--help"}, 0, "EOPNOTSUPP means\n    yes"},
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
// not usable, and why, and exits 1.
func TestStatusWithoutKeyctl(t *testing.T) {
	run := harness.Built(t, "test/seccomp_run")
	for errno, text := range map[string]string{"ENOSYS": "ENOSYS (function not implemented)", "EPERM": "EPERM (operation not permitted)"} {
		cmd := exec.Command(run, errno, harness.Built(t, "keyinit-go"), "status", "--json")
		out, err := cmd.Output()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%s: exit %v; want 1", errno, err)
		}
		var rep statusReport
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("%s: no JSON report: %v: %s", errno, err, out)
		}
		if rep.KeyringsSupported || rep.KeyctlError != text || rep.Session != nil || len(rep.Sysctls) == 0 {
			t.Errorf("%s: supported %t, error %q, session %+v, %d sysctls; want false, %q, none, the sysctls still",
				errno, rep.KeyringsSupported, rep.KeyctlError, rep.Session, len(rep.Sysctls), text)
		}
	}
}
