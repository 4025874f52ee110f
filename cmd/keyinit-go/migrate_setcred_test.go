package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check warns (keys-before-session) for services whose auth stack reaches
// pam_krb5 with no keyinit auth line first; not for sshd or a service that
// has the line, ours or pam_keyinit.so's (whose setcred makes the keyring
// too: test/krb5_su_test.go).
func TestCheckKeysBeforeSession(t *testing.T) {
	out, errOut, _ := keyinitGo(t, "check", "--pam-dir", "testdata/migrate/krb5", "--module-dir", fixtureModules, "--json")
	for _, svc := range []string{"su", "su-l", "login", "common-auth"} {
		if !strings.Contains(out, `"service": "`+svc+`"`) && !strings.Contains(out, `"service":"`+svc+`"`) {
			t.Errorf("no finding for service %s:\n%s\n%s", svc, out, errOut)
		}
	}
	// login-fixed with pam_keyinit.so's lines (kept out of the fixtures,
	// which migrate would convert).
	dir := copyDir(t, "testdata/migrate/krb5")
	b, err := os.ReadFile(filepath.Join(dir, "login-fixed"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "login-c-fixed"), []byte(strings.ReplaceAll(string(b), "pam_keyinit_go.so", "pam_keyinit.so")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"sshd", "login-fixed", "login-c-fixed"} {
		o, e, _ := keyinitGo(t, "check", "--pam-dir", dir, "--module-dir", fixtureModules, svc)
		if strings.Contains(o, "keys-before-session") || strings.Contains(o, "wrong-stack") {
			t.Errorf("check %s: want no keys-before-session or wrong-stack finding:\n%s\n%s", svc, o, e)
		}
	}
	o, _, _ := keyinitGo(t, "check", "--pam-dir", "testdata/migrate/krb5", "--module-dir", fixtureModules, "login")
	for _, part := range []string{"common-auth:2: warning: service login: pam_krb5 stores Kerberos tickets",
		"call pam_setcred before pam_open_session", `add "auth optional pam_keyinit_go.so force revoke" first in the auth stack`, "[keys-before-session]"} {
		if !strings.Contains(o, part) {
			t.Errorf("check login: no %q in:\n%s", part, o)
		}
	}
}

// migrate shows the auth line only with --setcred-line; --apply writes it,
// the result checks clean of keys-before-session, and --revert gives back
// every file byte for byte.
func TestMigrateSetcredLine(t *testing.T) {
	fixtures := "testdata/migrate/krb5"
	line := "+auth       optional     pam_keyinit_go.so force revoke"
	out, errOut, code := keyinitGo(t, append([]string{"migrate", "--pam-dir", fixtures}, migrateModuleFlags...)...)
	if code != 0 || strings.Contains(out, line) || !strings.Contains(out, "+session    optional     pam_keyinit_go.so force revoke") {
		t.Errorf("migrate without --setcred-line: exit %d, want 0, the session lines and no auth line:\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = keyinitGo(t, append([]string{"migrate", "--setcred-line", "--pam-dir", fixtures}, migrateModuleFlags...)...)
	if code != 0 {
		t.Errorf("migrate --setcred-line: exit %d; want 0\n%s", code, errOut)
	}
	// su (which su-l includes) and login get it; su-l, sshd, login-fixed and
	// the managed block of common-auth do not.
	if n := strings.Count(out, line); n != 2 {
		t.Errorf("migrate --setcred-line: %d added auth lines; want 2 (su, login):\n%s", n, out)
	}
	for _, want := range []string{"+++ " + fixtures + "/su\n", "+++ " + fixtures + "/login\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the diff:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "common-auth:2: not added here") {
		t.Errorf("no note about common-auth's managed block:\n%s", errOut)
	}

	dir := copyDir(t, fixtures)
	state := filepath.Join(t.TempDir(), "state")
	before := snapshot(t, dir)
	out, errOut, code = keyinitGo(t, append([]string{"migrate", "--apply", "--setcred-line", "--pam-dir", dir, "--state-dir", state}, migrateModuleFlags...)...)
	if code != 0 {
		t.Fatalf("migrate --apply --setcred-line: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, svc := range []string{"su", "su-l", "login", "sshd", "login-fixed"} {
		o, e, _ := keyinitGo(t, "check", "--pam-dir", dir, "--module-dir", fixtureModules, svc)
		if strings.Contains(o, "keys-before-session") || strings.Contains(o, "wrong-stack") || strings.Contains(o, "duplicate") {
			t.Errorf("check %s after --apply: want no keys-before-session, wrong-stack or duplicate:\n%s\n%s", svc, o, e)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "su"))
	if !strings.HasPrefix(string(b), "auth       optional     pam_keyinit_go.so force revoke\nauth       sufficient   pam_rootok.so\n") {
		t.Errorf("su after --apply:\n%s", b)
	}
	out, errOut, code = keyinitGo(t, "migrate", "--revert", "--state-dir", state)
	if code != 0 {
		t.Errorf("migrate --revert: exit %d\n%s\n%s", code, out, errOut)
	}
	sameSnapshot(t, "after --revert", snapshot(t, dir), before)
}
