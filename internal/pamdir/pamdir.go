// Package pamdir knows one fact: the directory from which libpam loads
// modules named without a path. The Makefile (through pam-module-dir), the
// keyinit-go command, the tests and the benchmark all ask it, so that they
// cannot disagree.
package pamdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// multiarch is Debian's multiarch triplet of each GOARCH.
var multiarch = map[string]string{
	"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "386": "i386-linux-gnu",
	"arm": "arm-linux-gnueabihf", "ppc64le": "powerpc64le-linux-gnu", "s390x": "s390x-linux-gnu",
	"riscv64": "riscv64-linux-gnu", "mips64le": "mips64el-linux-gnuabi64", "loong64": "loongarch64-linux-gnu",
}

// Triplet is Debian's multiarch triplet of goarch ("aarch64-linux-gnu" for
// arm64), which also names its cross compiler (aarch64-linux-gnu-gcc).
func Triplet(goarch string) (string, bool) {
	t, ok := multiarch[goarch]
	return t, ok
}

// Candidates are the places libpam builds put their modules, the most
// specific first: Debian's multiarch directories, then Fedora's and the
// generic ones.
func Candidates() []string {
	return candidates(runtime.GOARCH)
}

func candidates(goarch string) []string {
	var dirs []string
	if t, ok := multiarch[goarch]; ok {
		dirs = append(dirs, "/lib/"+t+"/security", "/usr/lib/"+t+"/security")
	}
	return append(dirs, "/lib64/security", "/usr/lib64/security", "/lib/security", "/usr/lib/security")
}

// ErrNotFound says what to do when no candidate holds Linux-PAM's modules.
var ErrNotFound = errors.New("cannot find the PAM module directory (no pam_permit.so in the usual places; install libpam-modules or pass the directory)")

// ModuleDir is the first candidate that holds pam_permit.so, which every
// Linux-PAM installation has.
func ModuleDir() (string, error) {
	for _, d := range Candidates() {
		if _, err := os.Stat(filepath.Join(d, "pam_permit.so")); err == nil {
			return d, nil
		}
	}
	return "", ErrNotFound
}

// ModuleDirFor is the module directory of a build for goarch on this
// machine. For this machine's own architecture it is ModuleDir. For another
// (a cross build) the target's modules are rarely installed here, so it is
// this machine's directory in the target's terms: Debian's multiarch
// directory of the target's triplet where this machine uses its own
// triplet's, else the same directory (Fedora's /usr/lib64/security is the
// same on every 64-bit architecture).
func ModuleDirFor(goarch string) (string, error) {
	native, err := ModuleDir()
	if err != nil || goarch == runtime.GOARCH {
		return native, err
	}
	target, ok := multiarch[goarch]
	if !ok {
		return "", fmt.Errorf("no Debian multiarch triplet is known for GOARCH=%s: pass SECUREDIR", goarch)
	}
	if own := multiarch[runtime.GOARCH]; own != "" && strings.Contains(native, "/"+own+"/") {
		return strings.Replace(native, "/"+own+"/", "/"+target+"/", 1), nil
	}
	return native, nil
}
