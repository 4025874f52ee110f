package pamconf

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseLines(t *testing.T) {
	src := strings.Join([]string{
		"# a comment line",
		"",
		"@include common-auth",
		"-Session [success=ok  default=ignore] /lib/x/pam_keyinit_go.so force [a b\\]c] # trailing",
		"session optional \\",
		"   pam_keyinit.so revoke",
		"auth SUBSTACK other-file",
		"session optional pam_keyinit.so \\",
	}, "\n")
	lines, bad := Parse("f", []byte(src))
	if len(bad) != 0 {
		t.Fatalf("findings %v; want none", bad)
	}
	want := []Line{
		{Pos: Pos{"f", 3}, Include: "common-auth"},
		{Pos: Pos{"f", 4}, Type: "session", Silent: true, Control: "[success=ok  default=ignore]",
			Module: "/lib/x/pam_keyinit_go.so", Args: []string{"force", "a b]c"}},
		{Pos: Pos{"f", 5}, Type: "session", Control: "optional", Module: "pam_keyinit.so", Args: []string{"revoke"}},
		{Pos: Pos{"f", 7}, Type: "auth", Control: "substack", Module: "other-file"},
		{Pos: Pos{"f", 8}, Type: "session", Control: "optional", Module: "pam_keyinit.so"},
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", lines, want)
	}
	if f, ok := lines[3].IncludesFile(); !ok || f != "other-file" {
		t.Errorf("substack line includes %q, %t; want other-file", f, ok)
	}
	if f, ok := lines[2].IncludesFile(); ok {
		t.Errorf("module line includes %q", f)
	}
	if got := lines[1].Text(); got != "-session [success=ok  default=ignore] /lib/x/pam_keyinit_go.so force a b]c" {
		t.Errorf("Text = %q", got)
	}
}

func TestParseBadLines(t *testing.T) {
	for _, src := range []string{
		"session optional pam_keyinit.so [force",
		"sessions optional pam_keyinit.so",
		"session optional",
		"session mandatory pam_keyinit.so",
		"@include",
		"@include a b",
	} {
		lines, bad := Parse("f", []byte(src))
		if len(lines) != 0 || len(bad) != 1 || bad[0].Code != CodeSyntax || bad[0].Severity != Error || bad[0].Pos != (Pos{"f", 1}) {
			t.Errorf("Parse(%q) = %v, %v; want one syntax error at f:1", src, lines, bad)
		}
	}
}

func TestFailsOn(t *testing.T) {
	for control, want := range map[string]bool{
		"required":                            true,
		"requisite":                           true,
		"optional":                            false,
		"sufficient":                          false,
		"[success=ok]":                        true, // unspecified values are "bad"
		"[default=ignore]":                    false,
		"[default=die]":                       true,
		"[module_unknown=ignore default=bad]": false,
		"[default=ignore module_unknown=BAD]": true,
		"[success=1 default=2]":               false,
		"[MODULE_UNKNOWN=bad default=ignore]": true,
	} {
		if got := failsOn(control, "module_unknown"); got != want {
			t.Errorf("failsOn(%q, module_unknown) = %t; want %t", control, got, want)
		}
	}
	if failsOn("[session_err=ignore default=bad]", "module_unknown") == failsOn("[session_err=ignore default=bad]", "session_err") {
		t.Errorf("failsOn does not tell return values apart")
	}
}

func TestIsSharedHost(t *testing.T) {
	for name, want := range map[string]bool{
		"sshd": true, "login": true, "gdm-password": true, "lightdm-greeter": true,
		"systemd-user": true, "su": false, "sshd2": false, "cron": false,
	} {
		if got := IsSharedHost(name); got != want {
			t.Errorf("IsSharedHost(%q) = %t; want %t", name, got, want)
		}
	}
}

func TestModuleFile(t *testing.T) {
	if got := ModuleFile("pam_keyinit.so", "/lib/sec"); got != "/lib/sec/pam_keyinit.so" {
		t.Errorf("relative: %q", got)
	}
	if got := ModuleFile("/opt/pam_keyinit_go.so", "/lib/sec"); got != "/opt/pam_keyinit_go.so" {
		t.Errorf("absolute: %q", got)
	}
}

// ParsePlaced finds each module field where it is written, also after
// blanks, brackets with blanks in them, comments and continuation lines.
func TestParsePlacedModuleOffsets(t *testing.T) {
	src := "# c\n\t session\t[a b\\]=c]  pam_keyinit.so force # x\n" +
		"session optional \\\n   /lib/security/pam_keyinit.so revoke\r\n@include common-session\n" +
		"  session \\\n \\\n optional pam_x.so\n"
	placed, bad := ParsePlaced("f", []byte(src))
	if len(bad) != 0 || len(placed) != 4 {
		t.Fatalf("ParsePlaced: %d lines, findings %v", len(placed), bad)
	}
	for _, p := range placed {
		if p.Include != "" {
			if p.ModuleAt != -1 {
				t.Errorf("include line: ModuleAt %d; want -1", p.ModuleAt)
			}
			continue
		}
		if got := src[p.ModuleAt : p.ModuleAt+len(p.Module)]; got != p.Module {
			t.Errorf("line %d: module at %d reads %q; want %q", p.Pos.Line, p.ModuleAt, got, p.Module)
		}
	}
}
