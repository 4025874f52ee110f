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
var exampleServices = []string{"sshd", "login", "su-l", "runuser-l", "sudo", "systemd-user", "common-session", "su-l-krb5",
	"fedora-sshd", "fedora-su-l", "fedora-authselect-profile"}

// The examples that are a distribution's whole file with its keyinit line
// switched, and that file (cmd/keyinit-go/testdata/migrate/README says
// where each comes from).
var stockExamples = map[string]string{
	"fedora-sshd": "cmd/keyinit-go/testdata/migrate/fedora/sshd",
	"fedora-su-l": "cmd/keyinit-go/testdata/migrate/fedora/su-l",
}

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
// A whole distribution file (stockExamples) has the other lines of that
// file, as they are there, and no pam_keyinit.so line.
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
		stock, whole := stockExamples[name]
		if whole {
			sameAsStock(t, path, lines, filepath.Join(harness.RepoRoot(t), stock))
		}
		for _, l := range lines {
			if whole && !pamconf.IsKeyinit(l.Module) {
				continue
			}
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

// sameAsStock: the example's lines are the stock file's, with
// pam_keyinit.so switched to pam_keyinit_go.so and nothing else.
func sameAsStock(t *testing.T, path string, lines []pamconf.Line, stock string) {
	t.Helper()
	want := parsePamFile(t, stock)
	if len(lines) != len(want) {
		t.Errorf("%s has %d module lines, %s %d", path, len(lines), stock, len(want))
		return
	}
	for i, l := range lines {
		w := strings.Replace(want[i].Text(), " pam_keyinit.so ", " pam_keyinit_go.so ", 1)
		if l.Text() != w {
			t.Errorf("%s: %q where %s has %q", path, l.Text(), stock, want[i].Text())
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
				if !pamconf.IsKeyinit(l.Module) {
					continue // the rest of a whole distribution file
				}
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

// TestFedoraExamplesInATree: on a stock Fedora tree (authselect 1.7.1's
// files, linked as authselect links them), fedora-sshd and fedora-su-l in
// place of sshd and su-l, and authselect's files as the custom profile of
// fedora-authselect-profile makes them, "check" finds nothing in sshd, su-l
// and su: the lines a stack reaches twice are the same module, and the
// service's own line comes first. The profile example's line is the one
// authselect generates from the profile the recipe makes.
func TestFedoraExamplesInATree(t *testing.T) {
	root := harness.RepoRoot(t)
	dir := filepath.Join(root, "cmd", "keyinit-go", "testdata", "stock", "fedora", "pam.d")
	examples := filepath.Join(root, "examples", "pam.d")
	profileLine := parsePamFile(t, filepath.Join(examples, "fedora-authselect-profile"))[0].Text()
	read := func(p string) ([]byte, error) {
		switch filepath.Base(filepath.Dir(p)) + "/" + filepath.Base(p) {
		case "pam.d/sshd", "pam.d/su-l":
			return os.ReadFile(filepath.Join(examples, "fedora-"+filepath.Base(p)))
		}
		b, err := os.ReadFile(p)
		if err == nil && filepath.Base(filepath.Dir(p)) == "authselect" {
			// The recipe's sed, which authselect's generated files follow.
			b = []byte(strings.ReplaceAll(string(b), "pam_keyinit.so", "pam_keyinit_go.so"))
		}
		return b, err
	}
	l := pamconf.Loader{Dir: dir, ReadFile: read, RealPath: func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return p
	}}
	c := pamconf.Checker{ModuleDir: filepath.Join(root, "cmd", "keyinit-go", "testdata", "modules"), Exists: func(p string) bool {
		_, err := os.Stat(p)
		return err == nil
	}}
	for _, name := range []string{"sshd", "su-l", "su"} {
		svc, fs := l.Load(name, filepath.Join(dir, name))
		fs = append(fs, c.Check(svc)...)
		for _, f := range fs {
			t.Errorf("%s: %s", name, f)
		}
		var keyinit []string
		for _, e := range svc.Stack("session") {
			if pamconf.IsKeyinit(e.Module) {
				keyinit = append(keyinit, e.Text())
				if e.Module != pamconf.GoModule {
					t.Errorf("%s: %s still names %s", name, e.Pos, e.Module)
				}
			}
		}
		if want := map[string]int{"sshd": 2, "su-l": 2, "su": 1}[name]; len(keyinit) != want {
			t.Errorf("%s: session stack has keyinit lines %q; want %d", name, keyinit, want)
		}
		if last := keyinit[len(keyinit)-1]; last != profileLine {
			t.Errorf("%s: authselect's line is %q; fedora-authselect-profile has %q", name, last, profileLine)
		}
	}
}
