package pamconf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The stock trees: pam.d as the distributions ship it, untouched
// (testdata/stock/README, testdata/migrate/README).
var stockTrees = []string{"stock/fedora/pam.d", "stock/rhel9/pam.d", "migrate/debian12", "migrate/fedora"}

// Every directory of pam.d fixtures, stock or written for a rule.
var fixtureTrees = append([]string{"pam.d", "limits/pam.d", "migrate/krb5"}, stockTrees...)

// checkTree checks every file of dir as a service, as "keyinit-go check"
// with no arguments does, reading files with read and following symbolic
// links as the command does; it returns the findings and the services.
func checkTree(t *testing.T, dir string, read func(string) ([]byte, error)) ([]Finding, []Service) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := Loader{Dir: dir, ReadFile: read, RealPath: func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return p
	}}
	c := Checker{ModuleDir: filepath.Join(fixtures, "modules"), Exists: func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && !st.IsDir()
	}}
	var fs []Finding
	var svcs []Service
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			continue
		}
		svc, lf := l.Load(e.Name(), p)
		fs = append(fs, lf...)
		fs = append(fs, c.Check(svc)...)
		svcs = append(svcs, svc)
	}
	return Tidy(fs), svcs
}

// An untouched Fedora (authselect 1.7.1's sssd profile, its files linked
// into authselect's directory with its header), RHEL 9 (authselect 1.2.6)
// or Debian 12 tree has nothing an admin must act on: no finding at all.
// The lines the distributions ship twice in a stack (the service's own
// "force revoke", then system-auth's "revoke") are how layered files work.
func TestStockTreesQuiet(t *testing.T) {
	for _, tree := range stockTrees {
		t.Run(tree, func(t *testing.T) {
			fs, svcs := checkTree(t, filepath.Join(fixtures, tree), os.ReadFile)
			for _, f := range fs {
				t.Errorf("%s", f)
			}
			if !strings.HasPrefix(tree, "stock/") {
				return
			}
			// The files authselect writes are known as its, through the link.
			gen := map[string]Generator{}
			for _, s := range svcs {
				for f, g := range s.Generated {
					gen[filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f)] = g
				}
			}
			for _, f := range []string{"system-auth", "password-auth", "postlogin"} {
				if gen["authselect/"+f] != Authselect {
					t.Errorf("authselect/%s not known as authselect's: %v", f, gen)
				}
			}
		})
	}
}

// editedRead reads files as os.ReadFile does, except that in a file whose
// name ends in one of edits' keys each old string is replaced by the new.
func editedRead(edits map[string][2]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		b, err := os.ReadFile(p)
		for suffix, e := range edits {
			if err == nil && strings.HasSuffix(p, suffix) {
				b = []byte(strings.Replace(string(b), e[0], e[1], 1))
			}
		}
		return b, err
	}
}

// The same trees with a real problem still give it, and a finding about a
// line of authselect's files sends the admin to a custom profile.
func TestStockTreesRealProblems(t *testing.T) {
	for _, tr := range []struct {
		tree string
		pa   int // password-auth's keyinit line
		gdm  int // gdm-password's "session include password-auth", once its own keyinit line is gone
	}{{"stock/fedora/pam.d", 27, 16}, {"stock/rhel9/pam.d", 24, 17}} {
		tree := tr.tree
		dir := filepath.Join(fixtures, tree)
		authselect := filepath.Join(filepath.Dir(dir), "authselect")
		for _, tc := range []struct {
			name  string
			edits map[string][2]string
			want  []string // "file:line severity code service"
			says  []string // in the first finding's message
		}{
			{"sshd without force", map[string][2]string{"/sshd": {"pam_keyinit.so force revoke", "pam_keyinit.so revoke"}},
				[]string{"sshd:14 warning no-force sshd"}, []string{`service sshd: no "force"`, "(add force)"}},
			{"only sshd migrated", map[string][2]string{"/sshd": {"pam_keyinit.so", "pam_keyinit_go.so"}},
				[]string{fmt.Sprintf("password-auth:%d error c-and-go sshd", tr.pa)},
				[]string{"keep only pam_keyinit_go.so", "do not edit password-auth: authselect generated it",
					"keyinit-go migrate", "authselect create-profile NAME --base-on PROFILE", "edit " + authselect + "/custom/NAME/password-auth"}},
			{"gdm-password without its own line", map[string][2]string{"/gdm-password": {"session     optional      pam_keyinit.so force revoke\n", ""}},
				[]string{fmt.Sprintf("gdm-password:%d warning no-force gdm-password", tr.gdm)},
				[]string{fmt.Sprintf("its keyinit line is %s/password-auth:%d", authselect, tr.pa), `put "session optional pam_keyinit.so force revoke" in gdm-password before this line`}},
		} {
			t.Run(tree+"/"+tc.name, func(t *testing.T) {
				fs, _ := checkTree(t, dir, editedRead(tc.edits))
				var got []string
				for _, f := range fs {
					got = append(got, fmt.Sprintf("%s:%d %s %s %s", filepath.Base(f.Pos.File), f.Pos.Line, f.Severity, f.Code, f.Service))
				}
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
				for _, s := range tc.says {
					if !strings.Contains(fs[0].Message, s) {
						t.Errorf("message %q does not say %q", fs[0].Message, s)
					}
				}
				if strings.Contains(fs[0].Pos.File, "/authselect/") != strings.Contains(fs[0].Message, "do not edit") {
					t.Errorf("a finding at %s, the advice for authselect's files %s", fs[0].Pos, map[bool]string{true: "given", false: "not given"}[strings.Contains(fs[0].Message, "do not edit")])
				}
			})
		}
	}
}

// No two findings of a report contradict each other (Contradictions says
// what that means), over every fixture tree.
func TestNoContradictions(t *testing.T) {
	for _, tree := range fixtureTrees {
		fs, _ := checkTree(t, filepath.Join(fixtures, tree), os.ReadFile)
		for _, c := range Contradictions(fs) {
			t.Errorf("%s: %s", tree, c)
		}
	}
}
