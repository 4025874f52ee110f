package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pam_keyinit_go/keyinit"
	"pam_keyinit_go/test/harness"
)

// renderMan runs man -l on a roff file with warnings on; it returns what man
// printed to stdout (the page) and to stderr (warnings).
func renderMan(t *testing.T, path string) (page, warnings string) {
	t.Helper()
	if _, err := exec.LookPath("man"); err != nil {
		t.Fatal("man is missing: install man-db and groff-base ('make test' does)")
	}
	var stdout, stderr strings.Builder
	cmd := exec.Command("man", "--warnings", "-l", path)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=", "MANPAGER=cat", "PAGER=cat", "LC_ALL=C.UTF-8")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("man -l %s: %v\n%s", path, err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// TestManPageRendersWithoutWarnings: doc/pam_keyinit_go.8 renders with no
// warning, has the sections of Linux-PAM's module pages, and documents
// exactly the options the module parses.
func TestManPageRendersWithoutWarnings(t *testing.T) {
	// The check itself: a page with an unknown macro must give a warning.
	bad := filepath.Join(t.TempDir(), "bad.8")
	if err := os.WriteFile(bad, []byte(".TH BAD 8\n.SH NAME\nbad \\- bad\n.XQ nonsense\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, w := renderMan(t, bad); w == "" {
		t.Fatal("man --warnings printed no warning for an unknown macro: the check below would prove nothing")
	}

	src := filepath.Join(harness.RepoRoot(t), "doc", "pam_keyinit_go.8")
	roff, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	page, warnings := renderMan(t, src)
	if warnings != "" {
		t.Errorf("man --warnings -l doc/pam_keyinit_go.8 warned:\n%s", warnings)
	}
	sections := []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "MODULE TYPES PROVIDED", "RETURN VALUES", "EXAMPLES", "SEE ALSO"}
	var got []string
	for _, l := range strings.Split(page, "\n") {
		if l != "" && l == strings.ToUpper(l) && !strings.HasPrefix(l, " ") && !strings.Contains(l, "(8)") {
			got = append(got, l)
		}
	}
	at := 0
	for _, s := range sections {
		for at < len(got) && got[at] != s {
			at++
		}
		if at == len(got) {
			t.Errorf("section %q missing or out of order; the page has %v", s, got)
			break
		}
	}
	if !strings.Contains(page, "pam_keyinit_go.so [debug] [force] [revoke]") {
		t.Errorf("SYNOPSIS does not read \"pam_keyinit_go.so [debug] [force] [revoke]\"")
	}
	// Each documented option is one the module knows, and each one it knows
	// is documented.
	opts := optionsSection(string(roff))
	if o := keyinit.ParseOptions(opts); len(o.Unknown) > 0 || !o.Debug || !o.Force || !o.Revoke {
		t.Errorf("OPTIONS documents %v; want exactly debug, force and revoke", opts)
	}
	for _, code := range []string{"PAM_SUCCESS", "PAM_IGNORE", "PAM_USER_UNKNOWN", "PAM_SESSION_ERR", "PAM_CRED_ERR", "PAM_BUF_ERR"} {
		if !strings.Contains(page, code) {
			t.Errorf("RETURN VALUES does not mention %s", code)
		}
	}
}

// optionsSection lists the option names of the roff source's OPTIONS
// section: the ".B name" tag after each ".TP".
func optionsSection(roff string) []string {
	var in, tag bool
	var opts []string
	for _, l := range strings.Split(roff, "\n") {
		switch {
		case strings.HasPrefix(l, ".SH "):
			in = strings.TrimSpace(strings.Trim(l[4:], `"`)) == "OPTIONS"
		case in && l == ".TP":
			tag = true
		case in && tag:
			if name, ok := strings.CutPrefix(l, ".B "); ok {
				opts = append(opts, name)
			}
			tag = false
		}
	}
	return opts
}

// TestCLIManPage: doc/keyinit-go.8 renders with no warning and its
// SYNOPSIS has every command line that "keyinit-go help" prints.
func TestCLIManPage(t *testing.T) {
	page, warnings := renderMan(t, filepath.Join(harness.RepoRoot(t), "doc", "keyinit-go.8"))
	if warnings != "" {
		t.Errorf("man --warnings -l doc/keyinit-go.8 warned:\n%s", warnings)
	}
	help, err := exec.Command(harness.Built(t, "keyinit-go"), "help").Output()
	if err != nil {
		t.Fatalf("keyinit-go help: %v", err)
	}
	flat := strings.Join(strings.Fields(page), " ")
	n := 0
	for _, l := range strings.Split(string(help), "\n") {
		if cmd, ok := strings.CutPrefix(l, "  keyinit-go "); ok {
			n++
			if want := "keyinit-go " + strings.Join(strings.Fields(cmd), " "); !strings.Contains(flat, want) {
				t.Errorf("the manual page does not have %q", want)
			}
		}
	}
	if n < 3 {
		t.Errorf("keyinit-go help lists %d commands; want try, check and status:\n%s", n, help)
	}
}
