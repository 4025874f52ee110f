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
	CopyFile(t, module, copy, 0o644)
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
			CopyFile(t, filepath.Join(core, e.Name()), filepath.Join(dir, "pam_keyinit_go", e.Name()), 0o644)
		}
	}
	return copy
}

// CopyFile copies a regular file to a new file with mode (whatever the
// umask). Tests that install copies of the module use it.
func CopyFile(t testing.TB, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
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
	if err := os.Chmod(to, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}
