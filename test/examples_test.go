package test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/msteinert/pam/v2"

	"pam_keyinit_go/internal/pamconf"
	"pam_keyinit_go/keyinit"
	"pam_keyinit_go/test/harness"
)

// The configuration examples the README and the manual page point to.
var exampleServices = []string{"sshd", "login", "su-l", "runuser-l", "sudo", "systemd-user", "common-session", "su-l-krb5"}

// parsePamFile reads the module lines of a pam.d file with the parser
// keyinit-go uses, and reports each line libpam would reject.
func parsePamFile(t *testing.T, path string) []pamconf.Line {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines, bad := pamconf.Parse(path, b)
	for _, f := range bad {
		t.Errorf("%s", f)
	}
	return lines
}

// TestExamplesParse: every file of examples/pam.d is there, has module
// lines that parse, names pam_keyinit_go.so (the installed name, not a path)
// as a session module (or, in su-l-krb5, also an auth module first) with
// only options the module knows, and says in a comment where the line goes.
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
			if l.Module != "pam_keyinit_go.so" || l.Type != "session" && (l.Type != "auth" || name != "su-l-krb5") {
				t.Errorf("%s: line for %s %s; want only session lines for pam_keyinit_go.so", path, l.Type, l.Module)
			}
			if o := keyinit.ParseOptions(l.Args); len(o.Unknown) > 0 {
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
// place of the name, runs a session in-process: open succeeds and gives the
// thread the user's new keyring (with force, or without it, since the test
// thread has no keyring of the user's own to keep); close succeeds and, with
// revoke, revokes it. An example with an auth line (su-l-krb5) first
// calls pam_setcred(ESTABLISH_CRED), as su does, which makes the keyring,
// and open keeps it.
func TestExamplesLoad(t *testing.T) {
	harness.RequireRoot(t)
	u := harness.TempUser(t)
	for _, name := range exampleServices {
		t.Run(name, func(t *testing.T) {
			lines := parsePamFile(t, filepath.Join(harness.RepoRoot(t), "examples", "pam.d", name))
			var body strings.Builder
			var revoke, auth bool
			for _, l := range lines {
				auth = auth || l.Type == "auth"
				body.WriteString(strings.Join(append([]string{l.Type, l.Control, harness.Module(t)}, l.Args...), " ") + "\n")
				revoke = revoke || keyinit.ParseOptions(l.Args).Revoke
			}
			svc := harness.ConfDirService(t, body.String())
			transaction(t, svc, u.Name, func(tx *pam.Transaction) {
				var atSetcred harness.Key
				if auth {
					if err := tx.SetCred(pam.EstablishCred); err != nil {
						t.Errorf("setcred(ESTABLISH_CRED): %v", err)
						return
					}
					atSetcred = checkSessionKeyring(t, u)
				}
				if err := tx.OpenSession(0); err != nil {
					t.Errorf("open_session: %v", err)
					return
				}
				made := checkSessionKeyring(t, u)
				if auth && made.Serial != atSetcred.Serial {
					t.Errorf("open_session replaced the keyring setcred made (%d) with %d", atSetcred.Serial, made.Serial)
				}
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
