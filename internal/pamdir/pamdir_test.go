package pamdir

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
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

// A cross build gets the target's directory in this machine's layout, and
// never an empty path or this machine's own architecture's.
func TestModuleDirForAnotherArchitecture(t *testing.T) {
	native, err := ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, goarch := range []string{"arm64", "ppc64le", "s390x", "riscv64"} {
		d, err := ModuleDirFor(goarch)
		if err != nil {
			t.Fatalf("%s: %v", goarch, err)
		}
		if !slices.Contains(candidates(goarch), d) {
			t.Errorf("ModuleDirFor(%s) = %q, not one of %v", goarch, d, candidates(goarch))
		}
		if own := multiarch[runtime.GOARCH]; strings.Contains(native, own) && goarch != runtime.GOARCH &&
			d != "/lib/"+multiarch[goarch]+"/security" && d != "/usr/lib/"+multiarch[goarch]+"/security" {
			t.Errorf("ModuleDirFor(%s) = %q on a multiarch machine (%s); want the %s triplet's", goarch, d, native, multiarch[goarch])
		}
	}
	if d, err := ModuleDirFor(runtime.GOARCH); err != nil || d != native {
		t.Errorf("ModuleDirFor(%s) = %q, %v; want ModuleDir's %q", runtime.GOARCH, d, err, native)
	}
	if _, err := ModuleDirFor("sparc64"); err == nil {
		t.Errorf("ModuleDirFor(sparc64) found a directory; want an error that says to pass SECUREDIR")
	}
}
