package harness

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// WorldReadableModule copies module and, if there is one, the
// pam_keyinit_go/ directory next to it (the Go core the front loads) into a
// fresh temporary directory that every user can traverse, and returns the
// copy of module. Tests that run PAM as another user need it: the checkout
// may sit under a directory only its owner can enter (/root, mktemp -d).
// The copy is removed when the test ends.
func WorldReadableModule(t testing.TB, module string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kig-module-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copy := filepath.Join(dir, filepath.Base(module))
	copyFile(t, module, copy)
	core := filepath.Join(filepath.Dir(module), "pam_keyinit_go")
	entries, err := os.ReadDir(core)
	if os.IsNotExist(err) {
		return copy
	} else if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "pam_keyinit_go"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			copyFile(t, filepath.Join(core, e.Name()), filepath.Join(dir, "pam_keyinit_go", e.Name()))
		}
	}
	return copy
}

// copyFile copies a regular file, readable by all (0644).
func copyFile(t testing.TB, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
