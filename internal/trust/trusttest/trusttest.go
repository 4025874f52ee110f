// Package trusttest is what the trust rule is tested on: a module's
// directories, and the ways to spoil them, each with what the rule says.
// internal/trust's tests hold trust.Core to it, and cmd/keyinit-go's hold
// the real front (pam/front/trust.c) and "keyinit-go check" to the same
// cases, so that the two halves of the rule are tested alike.
package trusttest

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/test/harness"
)

// Layout is Base/anc/mods/pam_keyinit_go.so (the front) and
// Base/anc/mods/pam_keyinit_go/core.so, all root's, directories 0755 and
// files 0644, below a temporary directory in /tmp (root's, sticky).
type Layout struct{ Base, Anc, Mods, Front, CoreDir, Core string }

// New makes a Layout with these bytes in the front and the core.
func New(t testing.TB, front, core []byte) Layout {
	t.Helper()
	harness.RequireRoot(t)
	l := Layout{Base: t.TempDir()}
	l.Anc = filepath.Join(l.Base, "anc")
	l.Mods = filepath.Join(l.Anc, "mods")
	l.Front = filepath.Join(l.Mods, "pam_keyinit_go.so")
	l.CoreDir = filepath.Join(l.Mods, "pam_keyinit_go")
	l.Core = filepath.Join(l.CoreDir, "core.so")
	for _, d := range []string{l.Base, l.Anc, l.Mods, l.CoreDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		Chmod(t, d, 0o755)
	}
	for p, b := range map[string][]byte{l.Front: front, l.Core: core} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		Chmod(t, p, 0o644)
	}
	return l
}

// Chmod sets mode bits as chmod(2) takes them (sticky 0o1000 too).
func Chmod(t testing.TB, p string, mode uint32) {
	t.Helper()
	if err := unix.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// Chown gives p (not what a link names) to uid and its group.
func Chown(t testing.TB, p string, uid int) {
	t.Helper()
	if err := os.Lchown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// Nobody is the uid that owns what must not be trusted.
const Nobody = 65534

// Case is one way to set up a Layout, and what the rule makes of it.
type Case struct {
	Name  string
	Spoil func(t testing.TB, l Layout)
	// Bad is the name a refusal points at (nil: the core is trusted), and
	// What how the message calls it: "file", "directory" or "directory
	// above it".
	Bad  func(l Layout) string
	What string
}

// Cases are what pam/front/trust.c refuses and allows.
var Cases = []Case{
	{"as installed", func(testing.TB, Layout) {}, nil, ""},
	{"core owned by nobody", func(t testing.TB, l Layout) { Chown(t, l.Core, Nobody) },
		func(l Layout) string { return l.Core }, "file"},
	{"core writable by its group", func(t testing.TB, l Layout) { Chmod(t, l.Core, 0o664) },
		func(l Layout) string { return l.Core }, "file"},
	{"core writable by others", func(t testing.TB, l Layout) { Chmod(t, l.Core, 0o646) },
		func(l Layout) string { return l.Core }, "file"},
	{"core directory writable by its group", func(t testing.TB, l Layout) { Chmod(t, l.CoreDir, 0o775) },
		func(l Layout) string { return l.CoreDir }, "directory"},
	{"core directory sticky and writable by all", func(t testing.TB, l Layout) { Chmod(t, l.CoreDir, 0o1777) },
		func(l Layout) string { return l.CoreDir }, "directory"},
	{"core directory owned by nobody", func(t testing.TB, l Layout) { Chown(t, l.CoreDir, Nobody) },
		func(l Layout) string { return l.CoreDir }, "directory"},
	{"ancestor writable by its group", func(t testing.TB, l Layout) { Chmod(t, l.Anc, 0o775) },
		func(l Layout) string { return l.Anc }, "directory above it"},
	{"ancestor owned by nobody", func(t testing.TB, l Layout) { Chown(t, l.Anc, Nobody) },
		func(l Layout) string { return l.Anc }, "directory above it"},
	{"module directory writable by others", func(t testing.TB, l Layout) { Chmod(t, l.Mods, 0o757) },
		func(l Layout) string { return l.Mods }, "directory above it"},
	{"root-owned sticky ancestor writable by all", func(t testing.TB, l Layout) { Chmod(t, l.Anc, 0o1777) }, nil, ""},
	{"sticky ancestor owned by nobody", func(t testing.TB, l Layout) { Chmod(t, l.Anc, 0o1777); Chown(t, l.Anc, Nobody) },
		func(l Layout) string { return l.Anc }, "directory above it"},
	{"core a link into a group-writable directory", func(t testing.TB, l Layout) {
		bad := filepath.Join(l.Base, "bad")
		mkdir(t, bad, 0o775)
		if err := os.Rename(l.Core, filepath.Join(bad, "core.so")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(bad, "core.so"), l.Core); err != nil {
			t.Fatal(err)
		}
	}, func(l Layout) string { return filepath.Join(l.Base, "bad") }, "directory"},
	{"core directory a link from a group-writable directory", func(t testing.TB, l Layout) {
		// The real path is what counts, as for realpath(3).
		good := filepath.Join(l.Base, "good")
		if err := os.Rename(l.CoreDir, good); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(good, l.CoreDir); err != nil {
			t.Fatal(err)
		}
		Chmod(t, l.Mods, 0o775)
	}, nil, ""},
}

func mkdir(t testing.TB, p string, mode uint32) {
	t.Helper()
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	Chmod(t, p, mode)
}
