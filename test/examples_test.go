package test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/msteinert/pam/v2"

	"pam_keyinit_go/keyinit"
	"pam_keyinit_go/test/harness"
)

// The configuration examples the README and the manual page point to.
var exampleServices = []string{"sshd", "login", "su-l", "runuser-l", "sudo", "systemd-user", "common-session"}

// pamLine is one module line of a pam.d file.
type pamLine struct {
	typ, control, module string
	args                 []string
}

// A control is a keyword or a bracketed list of value=action pairs.
var controlRE = regexp.MustCompile(`^(required|requisite|sufficient|optional|include|substack|\[([a-z_]+=[a-z0-9_]+ ?)+\])$`)

// parsePamFile reads the module lines of a pam.d file (comments and blank
// lines skipped) and reports each line that is not "type control module
// [args]" with a known type and a well-formed control.
func parsePamFile(t *testing.T, path string) []pamLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []pamLine
	for i, l := range strings.Split(string(b), "\n") {
		if j := strings.IndexByte(l, '#'); j >= 0 {
			l = l[:j]
		}
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		var control string
		rest := f[2:]
		if strings.HasPrefix(f[1], "[") { // "[a=b c=d]" spans fields
			end := slices.IndexFunc(f[1:], func(s string) bool { return strings.HasSuffix(s, "]") })
			if end < 0 {
				t.Errorf("%s:%d: unterminated [control]", path, i+1)
				continue
			}
			control, rest = strings.Join(f[1:end+2], " "), f[end+2:]
		} else {
			control = f[1]
		}
		if len(f) < 3 || len(rest) == 0 {
			t.Errorf("%s:%d: %q is not \"type control module [options]\"", path, i+1, l)
			continue
		}
		typ := strings.TrimPrefix(f[0], "-")
		if !slices.Contains([]string{"auth", "account", "session", "password"}, typ) {
			t.Errorf("%s:%d: unknown type %q", path, i+1, f[0])
		}
		if !controlRE.MatchString(control) {
			t.Errorf("%s:%d: bad control %q", path, i+1, control)
		}
		lines = append(lines, pamLine{typ: typ, control: control, module: rest[0], args: rest[1:]})
	}
	return lines
}

// TestExamplesParse: every file of examples/pam.d is there, has module
// lines that parse, names pam_keyinit_go.so (the installed name, not a path)
// as a session module with only options the module knows, and says in a
// comment where the line goes.
func TestExamplesParse(t *testing.T) {
	dir := filepath.Join(harness.RepoRoot(t), "examples", "pam.d")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		found = append(found, e.Name())
	}
	for _, name := range exampleServices {
		if !slices.Contains(found, name) {
			t.Errorf("examples/pam.d/%s is missing", name)
		}
	}
	for _, name := range found {
		path := filepath.Join(dir, name)
		lines := parsePamFile(t, path)
		if len(lines) == 0 {
			t.Errorf("%s has no module line", path)
		}
		for _, l := range lines {
			if l.module != "pam_keyinit_go.so" || l.typ != "session" {
				t.Errorf("%s: line for %s %s; want only session lines for pam_keyinit_go.so", path, l.typ, l.module)
			}
			if o := keyinit.ParseOptions(l.args); len(o.Unknown) > 0 {
				t.Errorf("%s: options %v the module does not know", path, o.Unknown)
			}
		}
		b, _ := os.ReadFile(path)
		if !strings.Contains(string(b), "# Where:") {
			t.Errorf("%s does not say where the line goes", path)
		}
	}
}

// TestExamplesLoad: each example's line, with the built module's path in
// place of the name, runs a session in-process: open succeeds and, when the
// line has force, gives the thread the user's new keyring; close succeeds
// and, with revoke, revokes it.
func TestExamplesLoad(t *testing.T) {
	harness.RequireRoot(t)
	u := harness.TempUser(t)
	for _, name := range exampleServices {
		t.Run(name, func(t *testing.T) {
			lines := parsePamFile(t, filepath.Join(harness.RepoRoot(t), "examples", "pam.d", name))
			var body strings.Builder
			var force, revoke bool
			for _, l := range lines {
				body.WriteString(strings.Join(append([]string{l.typ, l.control, harness.Module(t)}, l.args...), " ") + "\n")
				o := keyinit.ParseOptions(l.args)
				force, revoke = force || o.Force, revoke || o.Revoke
			}
			svc := harness.ConfDirService(t, body.String())
			transaction(t, svc, u.Name, func(tx *pam.Transaction) {
				if err := tx.OpenSession(0); err != nil {
					t.Errorf("open_session: %v", err)
					return
				}
				if !force {
					return // the outcome depends on the test's own keyring: covered elsewhere
				}
				made := checkSessionKeyring(t, u)
				if err := tx.CloseSession(0); err != nil {
					t.Errorf("close_session: %v", err)
				}
				if k := harness.Describe(made.Serial); k.Revoked != revoke {
					t.Errorf("after close: keyring %d is %v; want revoked=%t", made.Serial, k, revoke)
				}
			})
		})
	}
}
