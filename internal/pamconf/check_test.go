package pamconf

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const fixtures = "../../cmd/keyinit-go/testdata"

// fixtureFindings loads and checks one fixture service; findings come back
// as "base:line severity code".
func fixtureFindings(t *testing.T, service string) ([]string, []Finding) {
	t.Helper()
	dir := filepath.Join(fixtures, "pam.d")
	l := Loader{Dir: dir, ReadFile: os.ReadFile}
	svc, fs := l.Load(service, filepath.Join(dir, service))
	c := Checker{ModuleDir: filepath.Join(fixtures, "modules"), Exists: func(p string) bool {
		_, err := os.Stat(p)
		return err == nil
	}}
	fs = Tidy(append(fs, c.Check(svc)...))
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%s:%d %s %s", filepath.Base(f.Pos.File), f.Pos.Line, f.Severity, f.Code))
	}
	return got, fs
}

func TestFixtures(t *testing.T) {
	for service, want := range map[string][]string{
		"sshd":         nil,
		"only-session": nil,
		"login":        {"login:2 warning no-revoke"},
		"gdm-password": {"gdm-password:3 warning no-force", "gdm-password:3 warning no-revoke"},
		"typo":         {"typo:1 error unknown-option"},
		"stacks": {
			"stacks:1 warning wrong-stack",
			"stacks:2 error wrong-stack",
			"stacks:3 warning wrong-stack",
			"stacks:4 warning wrong-stack",
			"stacks:5 error wrong-stack",
		},
		"missing-required": {"missing-required:1 error module-missing"},
		"missing-silent":   {"missing-silent:1 warning module-missing"},
		"after-krb5":       {"after-krb5:3 warning after-key-module", "after-krb5:3 warning after-key-module"},
		"both":             {"keyinit-go-session:1 error c-and-go"},
		// The second line is another file's (through substack), as
		// Fedora's system-auth after a service's own line: no finding.
		"dup":              nil,
		"krb5-between":     {"krb5-between:5 info duplicate"},
		"krb5-force-later": {"krb5-force-later:5 warning after-key-module"},
		"xrdp-sesman":      {"xrdp-sesman:4 warning no-force"},
		"syntax": {
			"syntax:1 error syntax",
			"syntax:2 error syntax",
			"syntax:3 error unknown-option",
			"syntax:6 error syntax",
		},
		"loop":            {"loop:2 error include"},
		"include-missing": {"include-missing:1 error include"},
	} {
		t.Run(service, func(t *testing.T) {
			got, _ := fixtureFindings(t, service)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("findings = %q; want %q", got, want)
			}
		})
	}
}

// TestFindingMessages checks that messages name what is wrong and what to do.
func TestFindingMessages(t *testing.T) {
	for _, tc := range []struct {
		service string
		parts   []string
	}{
		{"typo", []string{`unknown options "revoke=yes", "Debug"`, "ignores them", "pam_keyinit_go.so", "valid options are debug, force and revoke"}},
		{"stacks", []string{"pam_sm_acct_mgmt", `control "required" fails every account call`}},
		{"missing-required", []string{"/nonexistent/security/pam_keyinit_go.so does not exist", `under control "required" every session call`}},
		{"missing-silent", []string{"skips this \"-session\" line quietly"}},
		{"after-krb5", []string{"service after-krb5: pam_keyinit_go.so comes after pam_krb5.so (" + fixtures + "/pam.d/after-krb5:1)"}},
		{"after-krb5", []string{"after pam_fscrypt.so (" + fixtures + "/pam.d/krb5-session:2)"}},
		{"both", []string{"service both", "(the other at " + fixtures + "/pam.d/both:1)", "keep only pam_keyinit_go.so"}},
		{"login", []string{"service login", `no "revoke"`, "(add revoke, as Debian does"}},
		{"xrdp-sesman", []string{`service xrdp-sesman: no "force"`, "its keyinit line is " + fixtures + "/pam.d/shared-session:2 (session optional pam_keyinit.so revoke)",
			`put "session optional pam_keyinit.so force revoke" in xrdp-sesman before this line`}},
		{"krb5-between", []string{"already in the session stack at " + fixtures + "/pam.d/krb5-between:3, in the same file", "makes no keyring of its own"}},
		{"loop", []string{"includes itself"}},
		{"include-missing", []string{"no-such-file", "create it or remove the line"}},
		{"syntax", []string{`unknown control "maybe"`}},
		{"syntax", []string{`unknown option "bogus"`}},
	} {
		_, fs := fixtureFindings(t, tc.service)
		found := false
		for _, f := range fs {
			ok := true
			for _, p := range tc.parts {
				ok = ok && strings.Contains(f.Message, p)
			}
			found = found || ok
		}
		if !found {
			t.Errorf("%s: no finding says all of %q; got %v", tc.service, tc.parts, fs)
		}
	}
}

func TestIncludeTypes(t *testing.T) {
	dir := filepath.Join(fixtures, "pam.d")
	svc, fs := Loader{Dir: dir, ReadFile: os.ReadFile}.Load("sshd", filepath.Join(dir, "sshd"))
	if len(fs) != 0 {
		t.Fatalf("findings %v", fs)
	}
	// @include takes every type: 3 auth lines, then session lines in order.
	if n := len(svc.Stack("auth")); n != 3 {
		t.Errorf("auth stack has %d lines; want the 3 of common-auth", n)
	}
	var mods []string
	for _, e := range svc.Stack("session") {
		mods = append(mods, e.Module)
	}
	want := []string{"pam_loginuid.so", "pam_keyinit_go.so", "pam_permit.so", "pam_deny.so", "pam_permit.so", "pam_unix.so"}
	if !reflect.DeepEqual(mods, want) {
		t.Errorf("session stack = %q; want %q", mods, want)
	}
	last := svc.Stack("session")[5]
	if len(last.Via) != 1 || last.Via[0].Line != 5 || last.Pos.Line != 4 {
		t.Errorf("common-session:4 reached via %v; want sshd:5", last.Via)
	}
	// "session include" keeps only session lines.
	svc, _ = Loader{Dir: dir, ReadFile: os.ReadFile}.Load("only-session", filepath.Join(dir, "only-session"))
	if len(svc.Entries) != 1 || svc.Entries[0].Pos.Line != 6 {
		t.Errorf("only-session entries = %+v; want stacks:6 only", svc.Entries)
	}
}

func TestTidyAndCount(t *testing.T) {
	a := Finding{Pos: Pos{"b", 2}, Severity: Warning, Code: "x", Message: "m"}
	b := Finding{Pos: Pos{"a", 9}, Severity: Error, Code: "y", Message: "m"}
	got := Tidy([]Finding{a, b, a})
	if !reflect.DeepEqual(got, []Finding{b, a}) {
		t.Errorf("Tidy = %v", got)
	}
	if e, w := Count(got); e != 1 || w != 1 {
		t.Errorf("Count = %d, %d", e, w)
	}
	i := Finding{Pos: Pos{"c", 1}, Severity: Info, Code: "z", Message: "m"}
	if e, w := Count(append(got, i)); e != 1 || w != 1 || Infos(append(got, i)) != 1 {
		t.Errorf("with an info: Count = %d, %d, Infos = %d; want 1, 1, 1", e, w, Infos(append(got, i)))
	}
	if s := b.String(); s != "a:9: error: m [y]" {
		t.Errorf("String = %q", s)
	}
}

// The module is two files: a front whose Go core is missing beside it gives
// no session a keyring, and check says so.
func TestCoreMissingBesideTheModule(t *testing.T) {
	lines, bad := Parse("svc", []byte("session optional pam_keyinit_go.so force revoke\n"))
	if len(bad) != 0 || len(lines) != 1 {
		t.Fatalf("parse: %v %v", lines, bad)
	}
	e := Entry{Line: lines[0]}
	for _, tc := range []struct {
		exists map[string]bool
		want   string
	}{
		{map[string]bool{"/sec/pam_keyinit_go.so": true, "/sec/pam_keyinit_go/core.so": true}, ""},
		{map[string]bool{"/sec/pam_keyinit_go.so": true}, "the Go core /sec/pam_keyinit_go/core.so does not exist beside /sec/pam_keyinit_go.so"},
		{map[string]bool{}, "module file /sec/pam_keyinit_go.so does not exist"},
	} {
		c := Checker{ModuleDir: "/sec", Exists: func(p string) bool { return tc.exists[p] }}
		fs := c.moduleMissing(e)
		switch {
		case tc.want == "" && len(fs) != 0:
			t.Errorf("with %v: findings %v; want none", tc.exists, fs)
		case tc.want != "" && (len(fs) != 1 || fs[0].Severity != Error || !strings.Contains(fs[0].Message, tc.want)):
			t.Errorf("with %v: findings %v; want one error saying %q", tc.exists, fs, tc.want)
		}
	}
}

// A Go core a root host would refuse (Checker.Trust says why) is an error
// at the line; a C module line, a missing core and a trusted one are not.
func TestUntrustedCore(t *testing.T) {
	lines, bad := Parse("svc", []byte("session optional pam_keyinit_go.so force revoke\nsession optional pam_keyinit.so\n"))
	if len(bad) != 0 || len(lines) != 2 {
		t.Fatalf("parse: %v %v", lines, bad)
	}
	refusal := fmt.Errorf("/sec/pam_keyinit_go must be a root-owned directory that group and others cannot write")
	for _, tc := range []struct {
		name   string
		exists map[string]bool
		trust  func(string) error
		want   string
	}{
		{"trusted", map[string]bool{"/sec/pam_keyinit_go.so": true, "/sec/pam_keyinit_go/core.so": true}, func(string) error { return nil }, ""},
		{"untrusted", map[string]bool{"/sec/pam_keyinit_go.so": true, "/sec/pam_keyinit_go/core.so": true},
			func(core string) error {
				if core != "/sec/pam_keyinit_go/core.so" {
					t.Errorf("Trust asked about %s", core)
				}
				return refusal
			}, "a root host refuses to load the Go core /sec/pam_keyinit_go/core.so: " + refusal.Error()},
		{"core missing", map[string]bool{"/sec/pam_keyinit_go.so": true}, func(string) error { return refusal }, ""},
		{"no rule", map[string]bool{"/sec/pam_keyinit_go.so": true, "/sec/pam_keyinit_go/core.so": true}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Checker{ModuleDir: "/sec", Exists: func(p string) bool { return tc.exists[p] }, Trust: tc.trust}
			fs := c.untrustedCore(Entry{Line: lines[0]})
			switch {
			case tc.want == "" && len(fs) != 0:
				t.Errorf("findings %v; want none", fs)
			case tc.want != "" && (len(fs) != 1 || fs[0].Severity != Error || fs[0].Code != CodeUntrusted || !strings.Contains(fs[0].Message, tc.want)):
				t.Errorf("findings %v; want one untrusted-core error saying %q", fs, tc.want)
			}
			if fs := c.untrustedCore(Entry{Line: lines[1]}); len(fs) != 0 {
				t.Errorf("pam_keyinit.so: findings %v; want none", fs)
			}
		})
	}
}
