package test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"pam_keyinit_go/test/harness"
)

// makeIn runs make with args in the repository and fails the test on error.
func makeIn(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-C", harness.RepoRoot(t)}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %v: %v\n%s", args, err, out)
	}
}

// treeFiles lists the regular files under root, relative to it.
func treeFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, "/"+rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// TestMakeInstallUninstall: "make install DESTDIR=tmp" puts the module in
// the directory where the system's libpam keeps its own modules (the one of
// pam_keyinit.so), mode 0644 and owned by root, and under PREFIX the manual
// pages (0644), keyinit-go in sbin and its helper in libexec/keyinit-go
// (0755); nothing else. "make uninstall DESTDIR=tmp" removes them all.
func TestMakeInstallUninstall(t *testing.T) {
	harness.RequireRoot(t) // the owner check: as root, install sets root:root
	secureDir := filepath.Dir(harness.CModule(t))
	for _, prefix := range []string{"/usr", "/opt/kig"} {
		t.Run(prefix, func(t *testing.T) {
			dest := t.TempDir()
			makeIn(t, "install", "DESTDIR="+dest, "PREFIX="+prefix)

			wantModule := filepath.Join(secureDir, "pam_keyinit_go.so")
			modes := map[string]os.FileMode{
				wantModule: 0o644,
				filepath.Join(secureDir, "pam_keyinit_go/core.so"):         0o644,
				filepath.Join(prefix, "share/man/man8/pam_keyinit_go.8"):   0o644,
				filepath.Join(prefix, "share/man/man8/keyinit-go.8"):       0o644,
				filepath.Join(prefix, "sbin/keyinit-go"):                   0o755,
				filepath.Join(prefix, "libexec/keyinit-go/keyinit-go-try"): 0o755,
			}
			var want []string
			for f := range modes {
				want = append(want, f)
			}
			slices.Sort(want)
			if got := treeFiles(t, dest); !slices.Equal(got, want) {
				t.Fatalf("make install DESTDIR=%s PREFIX=%s installed %v; want %v", dest, prefix, got, want)
			}
			for _, f := range want {
				fi, err := os.Stat(filepath.Join(dest, f))
				if err != nil {
					t.Fatal(err)
				}
				st := fi.Sys().(*syscall.Stat_t)
				if fi.Mode() != modes[f] || st.Uid != 0 || st.Gid != 0 {
					t.Errorf("%s: mode %v owner %d:%d; want %v root:root", f, fi.Mode(), st.Uid, st.Gid, modes[f])
				}
			}
			// The installed command looks for its helper where it was installed.
			tool, err := os.ReadFile(filepath.Join(dest, prefix, "sbin/keyinit-go"))
			if err != nil || !bytes.Contains(tool, []byte(filepath.Join(prefix, "libexec/keyinit-go/keyinit-go-try"))) {
				t.Errorf("the installed keyinit-go does not name its helper's path under PREFIX %s (%v)", prefix, err)
			}
			// Read after make install, which rebuilds the module if its sources changed.
			module, err := os.ReadFile(harness.Module(t))
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(dest, wantModule)); !bytes.Equal(b, module) {
				t.Errorf("the installed module differs from build/pam_keyinit_go.so")
			}

			makeIn(t, "uninstall", "DESTDIR="+dest, "PREFIX="+prefix)
			if got := treeFiles(t, dest); len(got) != 0 {
				t.Errorf("make uninstall left %v", got)
			}
		})
	}
}
