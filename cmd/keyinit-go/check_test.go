package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

var fixtureFlags = []string{"--pam-dir", "testdata/pam.d", "--module-dir", "testdata/modules", "--limits", "testdata/limits/limits.conf"}

func checkJSON(t *testing.T, args ...string) (checkReport, int) {
	t.Helper()
	var rep checkReport
	code := keyinitGoJSON(t, &rep, append(append([]string{"check"}, fixtureFlags...), args...)...)
	return rep, code
}

func findingKeys(rep checkReport) []string {
	var out []string
	for _, f := range rep.Findings {
		out = append(out, fmt.Sprintf("%s %s %s", f.Pos, f.Severity, f.Code))
	}
	return out
}

// With no arguments, every fixture file is a service; each finding of the
// fixtures shows once (a line reached from several services stays one line
// unless the message names the service).
func TestCheckAllFixtures(t *testing.T) {
	rep, code := checkJSON(t)
	if code != 1 {
		t.Errorf("exit %d; want 1 (there are errors)", code)
	}
	want := []string{
		"testdata/pam.d/after-krb5:3 warning after-key-module",
		"testdata/pam.d/after-krb5:3 warning after-key-module",
		"testdata/pam.d/gdm-password:3 warning no-force",
		"testdata/pam.d/gdm-password:3 warning no-revoke",
		"testdata/pam.d/include-missing:1 error include",
		"testdata/pam.d/keyinit-go-session:1 error c-and-go",
		"testdata/pam.d/krb5-between:5 info duplicate",
		"testdata/pam.d/krb5-force-later:5 warning after-key-module",
		"testdata/pam.d/login:2 warning no-revoke",
		"testdata/pam.d/loop:2 error include",
		"testdata/pam.d/missing-required:1 error module-missing",
		"testdata/pam.d/missing-silent:1 warning module-missing",
		"testdata/pam.d/stacks:1 warning wrong-stack",
		"testdata/pam.d/stacks:2 error wrong-stack",
		"testdata/pam.d/stacks:3 warning wrong-stack",
		"testdata/pam.d/stacks:4 warning wrong-stack",
		"testdata/pam.d/stacks:5 error wrong-stack",
		"testdata/pam.d/syntax:1 error syntax",
		"testdata/pam.d/syntax:2 error syntax",
		"testdata/pam.d/syntax:3 error unknown-option",
		"testdata/pam.d/syntax:6 error syntax",
		"testdata/pam.d/typo:1 error unknown-option",
		"testdata/pam.d/xrdp-sesman:4 warning no-force",
	}
	if got := findingKeys(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep.Errors != 11 || rep.Warnings != 11 || rep.Infos != 1 {
		t.Errorf("%d errors, %d warnings, %d infos; want 11, 11, 1", rep.Errors, rep.Warnings, rep.Infos)
	}
	if len(rep.Services) != 23 {
		t.Errorf("services %q; want the 23 fixture files (symlinks too)", rep.Services)
	}
	// keyinit-go-session:1 is reached from both, dup and itself; typo:1
	// from typo and the symlink to it.
	services := map[string][]string{}
	for _, l := range rep.Lines {
		got := append([]string(nil), l.Services...)
		sort.Strings(got)
		services[l.Pos.String()] = got
	}
	if got := services["testdata/pam.d/keyinit-go-session:1"]; !reflect.DeepEqual(got, []string{"both", "dup", "keyinit-go-session"}) {
		t.Errorf("keyinit-go-session:1 services %q", got)
	}
	if got := services["testdata/pam.d/typo:1"]; !reflect.DeepEqual(got, []string{"linked-typo", "typo"}) {
		t.Errorf("typo:1 services %q", got)
	}
}

func TestCheckExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"sshd"}, 0},
		{[]string{"login"}, 0}, // a warning only
		{[]string{"login", "--strict"}, 1},
		{[]string{"typo"}, 1},
		{[]string{"sshd", "testdata/pam.d/typo"}, 1}, // a file path
	} {
		_, code := checkJSON(t, tc.args...)
		if code != tc.code {
			t.Errorf("check %q: exit %d; want %d", tc.args, code, tc.code)
		}
	}
}

func TestCheckText(t *testing.T) {
	out, _, code := keyinitGo(t, append(append([]string{"check"}, fixtureFlags...), "sshd", "typo", "only-session")...)
	if code != 1 {
		t.Errorf("exit %d; want 1", code)
	}
	want := `keyinit lines:
  testdata/pam.d/sshd:4: session optional pam_keyinit_go.so force revoke   (services: sshd)
  testdata/pam.d/stacks:6: session optional pam_keyinit_go.so force revoke   (services: only-session)
  testdata/pam.d/typo:1: session optional pam_keyinit_go.so force revoke=yes Debug   (services: typo)
findings:
testdata/pam.d/typo:1: error: unknown options "revoke=yes", "Debug" for pam_keyinit_go.so: the module ignores them (options match exactly); valid options are debug, force and revoke [unknown-option]
1 error(s), 0 warning(s) in 3 keyinit line(s) of 3 service(s)
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	// An info is printed and counted, and no exit status counts it.
	out, _, code = keyinitGo(t, append(append([]string{"check", "--strict"}, fixtureFlags...), "krb5-between")...)
	if code != 0 || !strings.Contains(out, "testdata/pam.d/krb5-between:5: info: service krb5-between: pam_keyinit_go.so is already in the session stack") ||
		!strings.HasSuffix(out, "\n0 error(s), 0 warning(s), 1 info(s) in 2 keyinit line(s) of 1 service(s)\n") {
		t.Errorf("check --strict krb5-between: exit %d; want 0, the info and its count:\n%s", code, out)
	}
	out, _, code = keyinitGo(t, append(append([]string{"check"}, fixtureFlags...), "common-session")...)
	if code != 0 || out != "no pam_keyinit.so or pam_keyinit_go.so line in 1 service(s) (common-session)\n0 error(s), 0 warning(s) in 0 keyinit line(s) of 1 service(s)\n" {
		t.Errorf("exit %d, output %q", code, out)
	}
}

func TestCheckUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"no-such-service"}, `testdata/pam.d/no-such-service is not a readable file (a name without "/" is a service in testdata/pam.d; write ./no-such-service for a file here)`},
		{[]string{"./no-such-file"}, "no-such-file is not a readable file\n"},
		{[]string{"--pam-dir", "/nonexistent"}, "read /nonexistent: "},
	} {
		out, stderr, code := keyinitGo(t, append(append([]string{"check"}, fixtureFlags...), tc.args...)...)
		if code != 2 || out != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("check %q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, stderr, tc.want)
		}
	}
}

// A service in the real /etc/pam.d, with the module directory found on
// this system: pam_keyinit.so resolves there, our module by absolute path.
func TestCheckSystemService(t *testing.T) {
	// A copy in /tmp: a core in a checkout of a user's would be untrusted-core.
	module := harness.WorldReadableModule(t, harness.Module(t))
	svc := harness.SystemService(t, fmt.Sprintf("session optional pam_keyinit.so force revoke\nsession optional %s force revoke\n-session optional pam_kig_nonexistent/pam_keyinit.so\n", module))
	var rep checkReport
	code := keyinitGoJSON(t, &rep, "check", svc.Name)
	if code != 1 {
		t.Errorf("exit %d; want 1 (both modules in one stack)", code)
	}
	p := svc.Path()
	want := []string{p + ":2 error c-and-go", p + ":3 info duplicate", p + ":3 warning module-missing"}
	if got := findingKeys(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("findings %q; want %q", got, want)
	}
	if !strings.HasSuffix(rep.ModuleDir, "/security") || !strings.Contains(rep.Findings[2].Message, rep.ModuleDir+"/pam_kig_nonexistent/pam_keyinit.so") {
		t.Errorf("module dir %q, message %q", rep.ModuleDir, rep.Findings[2].Message)
	}
}

// pam_limits.so before the keyinit line (login) and after it (sshd), with
// limits.conf and limits.d from --limits: one warning per low entry and
// service; cron has no pam_limits.
func TestCheckLimits(t *testing.T) {
	args := []string{"check", "--pam-dir", "testdata/limits/pam.d", "--module-dir", fixtureModules, "--limits", "testdata/limits/limits.conf"}
	var rep checkReport
	if code := keyinitGoJSON(t, &rep, args...); code != 0 {
		t.Errorf("exit %d; want 0 (warnings only)", code)
	}
	got := findingKeys(rep)
	for i, f := range rep.Findings {
		got[i] += " " + f.Service
	}
	want := []string{
		"testdata/limits/limits.conf:2 warning low-limit login",
		"testdata/limits/limits.conf:2 warning low-limit-after sshd",
		"testdata/limits/limits.d/20-staff.conf:1 warning low-limit login",
		"testdata/limits/limits.d/20-staff.conf:1 warning low-limit-after sshd",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep.LimitsFile != "testdata/limits/limits.conf" {
		t.Errorf("limits_file %q", rep.LimitsFile)
	}
	out, _, code := keyinitGo(t, append(args, "--strict", "login")...)
	if code != 1 || !strings.Contains(out, "testdata/limits/limits.conf:2: warning: service login: pam_limits.so (testdata/limits/pam.d/login:2) runs before pam_keyinit_go.so and sets the hard as limit of alice to 600000 KiB") {
		t.Errorf("check --strict login: exit %d; want 1 and the as warning for alice:\n%s", code, out)
	}
}
