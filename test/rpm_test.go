package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// normalisePayload maps package paths to what they mean, so the .deb and
// the .rpm can be compared: the module dir, the doc dir and the licence.
// Debian-only files (pam-auth-update's profile) are dropped.
func normalisePayload(paths []string, moduleDir string) []string {
	var out []string
	for _, p := range paths {
		p = "/" + strings.TrimPrefix(strings.TrimPrefix(p, "."), "/")
		switch {
		case p == "/" || strings.HasSuffix(p, "/"):
			continue
		case strings.HasPrefix(p, "/usr/share/pam-configs/"):
			continue // pam-auth-update is Debian's
		case p == "/usr/share/doc/pam-keyinit-go/changelog.gz":
			continue // an RPM keeps its changelog in its header
		case p == "/usr/share/doc/pam-keyinit-go/copyright" || strings.HasPrefix(p, "/usr/share/licenses/pam-keyinit-go/"):
			p = "LICENCE"
		case strings.HasPrefix(p, moduleDir+"/"):
			p = "MODULEDIR/" + strings.TrimPrefix(p, moduleDir+"/")
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func lines(t *testing.T, name string, args ...string) []string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %q: %v", name, args, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestRPM: "make rpm" builds and rpmlint is clean (the make rule runs it
// and fails otherwise); the RPM holds the same files as the .deb; "rpm
// --root" installs them where "rpm -qlp" says.
func TestRPM(t *testing.T) {
	harness.RequireRoot(t)
	root := harness.RepoRoot(t)
	for _, target := range []string{"rpm", "deb"} {
		out, err := exec.Command("make", "-C", root, "--no-print-directory", target).CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
		if target == "rpm" && !strings.Contains(string(out), " 0 errors, 0 warnings") {
			t.Errorf("rpmlint is not clean:\n%s", out)
		}
	}
	rpms, _ := filepath.Glob(filepath.Join(root, "build/rpm/RPMS/*/pam-keyinit-go-*.rpm"))
	debs, _ := filepath.Glob(filepath.Join(root, "build/pam-keyinit-go_*.deb"))
	if len(rpms) != 1 || len(debs) != 1 {
		t.Fatalf("packages %q %q; want one of each", rpms, debs)
	}
	rpmFiles := lines(t, "rpm", "-qlp", rpms[0])
	var debFiles []string
	for _, l := range lines(t, "dpkg-deb", "-c", debs[0]) {
		if f := strings.Fields(l); len(f) >= 6 && !strings.HasPrefix(f[0], "d") {
			debFiles = append(debFiles, f[5])
		}
	}
	rpmModDir := strings.TrimSpace(string(must(exec.Command("rpm", "--eval", "%{?_pam_moduledir}%{!?_pam_moduledir:%{_libdir}/security}").Output())))
	debModDir := strings.TrimSpace(string(must(exec.Command("pkg-config", "--variable=libdir", "pam").Output()))) + "/security"
	// rpmlint's no-manual-page-for-binary is filtered (packaging/rpmlint.toml
	// says why): check here what it would.
	if !slices.Contains(rpmFiles, "/usr/share/man/man8/keyinit-go.8.gz") {
		t.Errorf("the RPM has no manual page for keyinit-go: %q", rpmFiles)
	}
	// rpm -qlvp lists like ls -l: the directories the package owns start with d.
	var rpmRegular []string
	for _, l := range lines(t, "rpm", "-qlvp", rpms[0]) {
		if f := strings.Fields(l); len(f) >= 9 && !strings.HasPrefix(f[0], "d") {
			rpmRegular = append(rpmRegular, f[len(f)-1])
		}
	}
	if r, d := normalisePayload(rpmRegular, rpmModDir), normalisePayload(debFiles, debModDir); !reflect.DeepEqual(r, d) {
		t.Errorf("payloads differ:\nrpm: %q\ndeb: %q", r, d)
	}

	scratch := t.TempDir()
	if out, err := exec.Command("rpm", "--root", scratch, "--nodeps", "-i", rpms[0]).CombinedOutput(); err != nil {
		t.Fatalf("rpm --root %s -i: %v\n%s", scratch, err, out)
	}
	for _, p := range rpmFiles {
		if _, err := os.Lstat(filepath.Join(scratch, p)); err != nil {
			t.Errorf("rpm -qlp lists %s, not installed under --root: %v", p, err)
		}
	}
	if st, err := os.Stat(filepath.Join(scratch, rpmModDir, "pam_keyinit_go.so")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("module in %s: %v", rpmModDir, err)
	}
	if _, err := os.Stat(filepath.Join(scratch, "etc/pam.d")); err == nil {
		ents, _ := os.ReadDir(filepath.Join(scratch, "etc/pam.d"))
		t.Errorf("the package placed files in /etc/pam.d: %v", ents)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
