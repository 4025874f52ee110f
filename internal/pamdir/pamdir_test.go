package pamdir

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// On the machine that runs the tests (Debian or Fedora with libpam-modules)
// the directory is a candidate that holds Linux-PAM's own modules.
func TestModuleDirHoldsLinuxPAMsModules(t *testing.T) {
	d, err := ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(Candidates(), d) {
		t.Errorf("ModuleDir() = %s, not one of %v", d, Candidates())
	}
	for _, m := range []string{"pam_permit.so", "pam_keyinit.so", "pam_unix.so"} {
		if _, err := os.Stat(filepath.Join(d, m)); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
}
