package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"testing"

	"pam_keyinit_go/cmd/keyinit-go/internal/keyring"
	"pam_keyinit_go/test/harness"
)

// tryService runs "keyinit-go try --json" on a temporary service with body.
func tryService(t *testing.T, u harness.User, body string) (tryReport, int) {
	t.Helper()
	svc := harness.ConfDirService(t, body)
	var rep tryReport
	code := keyinitGoJSON(t, &rep, "try", "--conf-dir", svc.Dir, svc.Name, u.Name)
	return rep, code
}

// checkUsersKeyring asserts that the session keyring after open is a new
// "_ses" owned by u, linking u's user keyring.
func checkUsersKeyring(t *testing.T, rep tryReport, u harness.User) {
	t.Helper()
	a := rep.AfterOpen
	if a == nil || a.Type != "keyring" || a.Name != "_ses" || a.UID != u.UID || a.GID != u.GID || a.Perm != "3f030000" || a.Revoked {
		t.Fatalf("after open: %+v; want keyring _ses uid=%d gid=%d perm 3f030000 (open error %q)", a, u.UID, u.GID, rep.OpenError)
	}
	if a.Owner != u.Name {
		t.Errorf("after open: owner name %q; want %q", a.Owner, u.Name)
	}
	want := fmt.Sprintf("_uid.%d", u.UID)
	if len(a.Links) != 1 || a.Links[0].Name != want || a.Links[0].UID != u.UID {
		t.Errorf("after open: links %+v; want only %s owned by uid %d", a.Links, want, u.UID)
	}
	if rep.Before == nil || rep.Before.Serial == a.Serial {
		t.Errorf("before = %+v; want the keyring a child saw, not the new %d", rep.Before, a.Serial)
	}
	v := rep.Verdict
	if !v.OK || !v.Own || !v.New || !v.LinkedUserKeyring {
		t.Errorf("verdict %+v; want ok, own, new, linked", v)
	}
	if !strings.HasPrefix(v.Text, fmt.Sprintf("new session keyring _ses (serial %d) owned by %s, linked to %s's user keyring %s",
		a.Serial, u.Name, u.Name, want)) {
		t.Errorf("verdict text %q", v.Text)
	}
}

func TestTryRevokeBothModules(t *testing.T) {
	u := harness.TempUser(t)
	for name, module := range map[string]string{"go": harness.Module(t), "c": harness.CModule(t)} {
		t.Run(name, func(t *testing.T) {
			rep, code := tryService(t, u, fmt.Sprintf("session required %s force revoke\n", module))
			if code != 0 {
				t.Errorf("exit %d; want 0 (verdict %q)", code, rep.Verdict.Text)
			}
			checkUsersKeyring(t, rep, u)
			c := rep.AfterClose
			if c == nil || !c.Revoked || c.Serial != rep.AfterOpen.Serial {
				t.Errorf("after close: %+v; want keyring %d revoked", c, rep.AfterOpen.Serial)
			}
			if !rep.Verdict.RevokedAtClose || !strings.HasSuffix(rep.Verdict.Text, "; revoked at close") {
				t.Errorf("verdict %+v; want revoked at close", rep.Verdict)
			}
			// The report names where the before view comes from, and it
			// matches what a child of this test sees.
			inherited, err := harness.InheritedSessionKeyring()
			if err != nil || rep.Before.Name != inherited {
				t.Errorf("before: %q; a child of the test sees %q (%v)", rep.Before.Name, inherited, err)
			}
		})
	}
}

func TestTryWithoutRevokeKeepsKeyring(t *testing.T) {
	u := harness.TempUser(t)
	rep, code := tryService(t, u, fmt.Sprintf("session required %s force\n", harness.Module(t)))
	if code != 0 {
		t.Errorf("exit %d; want 0", code)
	}
	checkUsersKeyring(t, rep, u)
	c := rep.AfterClose
	if c == nil || c.Revoked || c.Serial != rep.AfterOpen.Serial || c.UID != u.UID {
		t.Errorf("after close without revoke: %+v; want keyring %d intact, owned by uid %d", c, rep.AfterOpen.Serial, u.UID)
	}
	if rep.Verdict.RevokedAtClose || !strings.Contains(rep.Verdict.Text, "; kept at close") {
		t.Errorf("verdict %+v; want kept at close", rep.Verdict)
	}
}

// Without force, the module makes a keyring only if the thread has none of
// its own: this fails if keyinit-go looked at its @s before the open
// (which would install root's user-session keyring in the thread).
func TestTryDoesNotTouchSessionKeyringBeforeOpen(t *testing.T) {
	u := harness.TempUser(t)
	if name, err := harness.InheritedSessionKeyring(); err != nil || !strings.HasPrefix(name, "_uid_ses.") {
		harness.Lacks(t, "a test process without a session keyring of its own (it has %q, %v); run it from a process without one, as CI does", name, err)
	}
	rep, code := tryService(t, u, fmt.Sprintf("session required %s revoke\n", harness.Module(t)))
	if code != 0 {
		t.Errorf("exit %d; want 0 (verdict %q)", code, rep.Verdict.Text)
	}
	checkUsersKeyring(t, rep, u)
}

func TestTryWithoutKeyinitFails(t *testing.T) {
	u := harness.TempUser(t)
	rep, code := tryService(t, u, "session required pam_permit.so\n")
	if code != 1 {
		t.Errorf("exit %d; want 1: the session keyring is not the user's", code)
	}
	a := rep.AfterOpen
	if a == nil || a.UID == u.UID || rep.Before == nil || a.Serial != rep.Before.Serial {
		t.Errorf("after open: %+v, before %+v; want the keyring the process had, not owned by uid %d", a, rep.Before, u.UID)
	}
	if v := rep.Verdict; v.OK || v.Own || v.New {
		t.Errorf("verdict %+v; want not ok, not own, not new", v)
	}
	if !strings.Contains(rep.Verdict.Text, "pam_keyinit_go.so force revoke") {
		t.Errorf("verdict %q does not say what to add", rep.Verdict.Text)
	}
}

func TestTryOpenFailure(t *testing.T) {
	u := harness.TempUser(t)
	rep, code := tryService(t, u, "session required pam_deny.so\n")
	if code != 1 || !strings.Contains(rep.OpenError, "PAM code") || rep.AfterClose != nil {
		t.Errorf("exit %d, open error %q, after close %+v; want 1, a PAM error, no close", code, rep.OpenError, rep.AfterClose)
	}
	if !strings.HasPrefix(rep.Verdict.Text, "open_session failed: ") {
		t.Errorf("verdict %q", rep.Verdict.Text)
	}
}

// The system service path (pam_start, /etc/pam.d) and the text output.
func TestTrySystemServiceText(t *testing.T) {
	u := harness.TempUser(t)
	svc := harness.SystemService(t, fmt.Sprintf("session optional %s force revoke\n", harness.Module(t)))
	out, stderr, code := keyinitGo(t, "try", svc.Name, u.Name)
	if code != 0 {
		t.Fatalf("exit %d; want 0\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("service %s (/etc/pam.d/%s), user %s (uid %d, gid %d)\n", svc.Name, svc.Name, u.Name, u.UID, u.GID),
		"\nbefore open, as a child process sees it:\n  ",
		"\nafter pam_open_session:\n  ",
		fmt.Sprintf(` keyring "_ses"  owner %s (uid %d) gid %d perm 3f030000 (possessor=alswrv user=----rv group=------ other=------)`, u.Name, u.UID, u.GID),
		fmt.Sprintf("\n  \\_ "),
		fmt.Sprintf(` keyring "_uid.%d"  owner %s (uid %d)`, u.UID, u.Name, u.UID),
		"\nafter pam_close_session:\n  ",
		" (revoked)\n",
		"\nverdict (OK): new session keyring _ses (serial ",
		fmt.Sprintf(") owned by %s, linked to %s's user keyring _uid.%d; revoked at close\n", u.Name, u.Name, u.UID),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTryUsageErrors(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"try"}, "want SERVICE and USER, got 0 arguments"},
		{[]string{"try", "sshd"}, "want SERVICE and USER, got 1 arguments"},
		{[]string{"try", "sshd", "kig-no-such-user"}, `no user "kig-no-such-user"`},
		{[]string{"try", "kig-no-such-service", me.Username}, `no PAM service "kig-no-such-service"`},
		{[]string{"try", "--conf-dir", t.TempDir(), "sshd", me.Username}, "pass --conf-dir DIR"},
		{[]string{"try", "../etc/sshd", me.Username}, "give a service name"},
		{[]string{"try", "--bogus", "sshd", me.Username}, "flag provided but not defined: -bogus"},
	} {
		out, stderr, code := keyinitGo(t, tc.args...)
		if code != 2 || out != "" || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, `Run "keyinit-go try --help"`) {
			t.Errorf("keyinit-go %q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, stderr, tc.want)
		}
	}
}

// A host that has a session keyring of its own, root's (systemd gives
// services one): with pam_keyinit.so and no force the user keeps the host's
// keyring, and try says so with exit 1; with force, or with our module
// (which keeps only a keyring of the user's own), the user gets their own.
func TestTryHostWithSessionKeyring(t *testing.T) {
	u := harness.TempUser(t)
	for _, tc := range []struct {
		name, module, options string
		wantOwn               bool
	}{
		{"pam_keyinit.so revoke", harness.CModule(t), "revoke", false},
		{"pam_keyinit.so force revoke", harness.CModule(t), "force revoke", true},
		{"pam_keyinit_go.so revoke", harness.Module(t), "revoke", true},
		{"pam_keyinit_go.so force revoke", harness.Module(t), "force revoke", true},
	} {
		wantOwn := tc.wantOwn
		t.Run(tc.name, func(t *testing.T) {
			svc := harness.ConfDirService(t, fmt.Sprintf("session required %s %s\n", tc.module, tc.options))
			// keyctl session - runs keyinit-go in a new anonymous session keyring.
			cmd := exec.Command("keyctl", "session", "-", harness.Built(t, "keyinit-go"),
				"try", "--json", "--conf-dir", svc.Dir, svc.Name, u.Name)
			out, err := cmd.Output()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("keyctl session - keyinit-go: %v", err)
			}
			var rep tryReport
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatalf("no JSON report (exit %d): %v: %s", code, err, out)
			}
			if b := rep.Before; b == nil || b.Name != "_ses" || b.UID != 0 {
				t.Fatalf("before = %+v; want the host's own _ses owned by root", b)
			}
			if wantOwn {
				if code != 0 {
					t.Errorf("exit %d; want 0 (verdict %q)", code, rep.Verdict.Text)
				}
				checkUsersKeyring(t, rep, u)
				return
			}
			if code != 1 || rep.Verdict.OK || rep.AfterOpen == nil || rep.AfterOpen.Serial != rep.Before.Serial || rep.AfterOpen.UID != 0 {
				t.Errorf("exit %d, verdict %+v, after open %+v; want 1 and the host's keyring %d kept", code, rep.Verdict, rep.AfterOpen, rep.Before.Serial)
			}
			if !strings.Contains(rep.Verdict.Text, "without force pam_keyinit leaves an existing session keyring alone (add force)") {
				t.Errorf("verdict %q does not say to add force", rep.Verdict.Text)
			}
		})
	}
}

// whoLoadsProbe runs from pam_exec in the helper's session stack and writes,
// for the process running the stack (its parent) and that one's parent, the
// executable and how many mappings of the module and of libpam it has.
const whoLoadsProbe = `#!/bin/sh
maps() { echo "$1 $(readlink /proc/$2/exe) $(grep -c pam_keyinit_go /proc/$2/maps) $(grep -c libpam.so /proc/$2/maps)"; }
grandparent=$(awk '{print $4}' /proc/$PPID/stat)
{ maps stack $PPID; maps caller $grandparent; } > "$1"
`

// The module is loaded by the C helper, never by the Go CLI: two Go
// runtimes in one process are not supported.
func TestTryLoadsModuleInHelperOnly(t *testing.T) {
	u := harness.TempUser(t)
	dir := t.TempDir()
	probe, out := dir+"/probe.sh", dir+"/probe.out"
	if err := os.WriteFile(probe, []byte(whoLoadsProbe), 0o755); err != nil {
		t.Fatal(err)
	}
	rep, code := tryService(t, u, fmt.Sprintf("session required %s force revoke\nsession required pam_exec.so quiet %s %s\n",
		harness.Module(t), probe, out))
	if code != 0 {
		t.Errorf("exit %d; want 0 (verdict %q)", code, rep.Verdict.Text)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the pam_exec probe left no output: %v", err)
	}
	want := fmt.Sprintf("stack %s 1+ 1+\ncaller %s 0 0\n", harness.Built(t, "keyinit-go-try"), harness.Built(t, "keyinit-go"))
	got := string(b)
	f := strings.Fields(got)
	if len(f) == 8 && f[2] != "0" && f[3] != "0" {
		f[2], f[3] = "1+", "1+"
		got = fmt.Sprintf("%s %s %s %s\n%s %s %s %s\n", f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7])
	}
	if got != want {
		t.Errorf("probe saw\n%s\nwant (executable, mappings of the module, of libpam)\n%s", b, want)
	}
}

// try shows names from the kernel escaped, in its trees and its verdict:
// a host keyring named with terminal escapes and a newline, kept by a
// stack without keyinit, draws no line of its own.
func TestTryEscapesNames(t *testing.T) {
	u := harness.TempUser(t)
	svc := harness.ConfDirService(t, "session required pam_permit.so\n")
	name := hostileName()
	out, code := inHostileSession(t, name, "try", "--conf-dir", svc.Dir, svc.Name, u.Name)
	if code != 1 {
		t.Errorf("exit %d; want 1 (the host's keyring kept)\n%s", code, out)
	}
	noControls(t, "try", out)
	esc := keyring.Escape(name)
	for _, want := range []string{
		` keyring "` + esc + `"  owner root (uid 0)`,
		"\nverdict (NOT OK): kept the session keyring the process already had, " + esc + " (serial ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\nkeyctl:"); n != 0 {
		t.Errorf("the name drew %d lines of its own:\n%s", n, out)
	}
}
