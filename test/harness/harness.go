// Package harness is what the integration tests share: root checks, the
// built module, temporary users and PAM services, syslog capture, and
// keyring and thread-id inspection. Everything it creates on the machine has
// a temporary name and is removed by t.Cleanup, even when the test fails.
package harness

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"pam_keyinit_go/internal/pamdir"
)

// RequireRoot stops the test (Lacks: a skip, a failure under CI) unless
// run as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Lacks(t, "root (a real user, /etc/pam.d and id switches); run 'make test' as root")
	}
}

// RepoRoot is the repository's top directory (the one with go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the harness source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Module is the absolute path of the built module; the test fails if it was
// not built ('make' builds it, 'make test' does so first).
func Module(t testing.TB) string {
	t.Helper()
	return Built(t, "pam_keyinit_go.so")
}

// Built is the absolute path of a file 'make' puts in build/.
func Built(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "build", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run 'make test' (it builds it first): %v", p, err)
	}
	return p
}

// CModule is Linux-PAM's installed pam_keyinit.so, for side-by-side tests.
func CModule(t testing.TB) string {
	t.Helper()
	d, err := pamdir.ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(d, "pam_keyinit.so")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("Linux-PAM's pam_keyinit.so is not installed (package libpam-modules): %v", err)
	}
	return p
}

// RandomName is prefix followed by 8 random hex digits.
func RandomName(prefix string) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b)
}
