package test

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// treeState is every entry under root (root itself included, as "."): its
// type and permission bits, owner and, for a regular file, the sha256 of its
// bytes; for a symbolic link, its target. Two equal states are the same tree
// byte for byte, as far as a PAM reader or an admin can tell.
func treeState(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" sha256:%x", sha256.Sum256(b))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("read the tree %s: %v", root, err)
	}
	return out
}

// sameTree reports (t.Errorf) every entry that differs between two states.
func sameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s: %s is gone (was %s)", what, name, w)
		} else if g != w {
			t.Errorf("%s: %s is %s; was %s", what, name, g, w)
		}
	}
	for name, g := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: %s is new (%s)", what, name, g)
		}
	}
}

// keepsRealTree fails the test, at its end, if root differs from now.
// Call it before bind-mounting a copy over root: cleanups run in reverse
// order, so the check sees the real tree again, after the unmount.
func keepsRealTree(t *testing.T, root string) {
	t.Helper()
	before := treeState(t, root)
	t.Cleanup(func() { sameTree(t, "the real "+root+" after the test", treeState(t, root), before) })
}
