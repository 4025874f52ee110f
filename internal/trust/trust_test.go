package trust

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pam_keyinit_go/internal/trust/trusttest"
)

func newLayout(t *testing.T) trusttest.Layout {
	return trusttest.New(t, []byte("front"), []byte("core"))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The rule of trust.c, case by case: what it refuses, and which name the
// refusal points at.
func TestCore(t *testing.T) {
	cases := append([]trusttest.Case{{
		Name: "core is a directory",
		Spoil: func(t testing.TB, l trusttest.Layout) {
			must(t, os.Remove(l.Core))
			must(t, os.Mkdir(l.Core, 0o755))
		},
		Bad:  func(l trusttest.Layout) string { return l.Core },
		What: "file",
	}}, trusttest.Cases...)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			l := newLayout(t)
			tc.Spoil(t, l)
			err := Core(l.Core)
			if tc.Bad == nil {
				if err != nil {
					t.Errorf("Core: %v; want trusted", err)
				}
				return
			}
			var r *Refusal
			if !errors.As(err, &r) || r.Bad != tc.Bad(l) || r.What != tc.What {
				t.Fatalf("Core: %#v (%v); want a refusal of the %s %s", err, err, tc.What, tc.Bad(l))
			}
			if want := tc.Bad(l) + " must be a root-owned " + tc.What + " that group and others cannot write"; err.Error() != want {
				t.Errorf("message %q; want %q", err, want)
			}
		})
	}
}

func TestMissing(t *testing.T) {
	l := newLayout(t)
	if err := Core(filepath.Join(l.CoreDir, "nope.so")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Core of a missing file: %v; want not exist", err)
	}
}

// keyinit-go's own state may also be the running uid's; Entry refuses
// symbolic links; Above checks what would hold a directory not made yet.
func TestStateRule(t *testing.T) {
	l := newLayout(t)
	r := Rule{Owners: []uint32{0, 1000}}
	trusttest.Chown(t, l.Core, 1000)
	if err := r.File(l.Core); err != nil {
		t.Errorf("File owned by uid 1000: %v", err)
	}
	trusttest.Chown(t, l.Core, 1001)
	if err := r.File(l.Core); err == nil || err.Error() != l.Core+" must be a file owned by root or uid 1000 that group and others cannot write" {
		t.Errorf("File owned by uid 1001: %v", err)
	}
	if err := r.Dir(l.CoreDir); err != nil {
		t.Errorf("Dir: %v", err)
	}
	trusttest.Chmod(t, l.CoreDir, 0o770)
	if err := r.Dir(l.CoreDir); err == nil || !strings.HasPrefix(err.Error(), l.CoreDir+" must be a directory") {
		t.Errorf("Dir of a group-writable directory: %v", err)
	}
	link := filepath.Join(l.Mods, "link")
	must(t, os.Symlink(l.Core, link))
	if err := r.Entry(link, false); err == nil {
		t.Error("Entry accepted a symbolic link")
	}
	if err := r.Entry(l.Mods, true); err != nil {
		t.Errorf("Entry of a directory: %v", err)
	}
	if err := r.Entry(l.Mods, false); err == nil {
		t.Error("Entry accepted a directory for a file")
	}
	if err := r.Above(filepath.Join(l.Mods, "new", "state")); err != nil {
		t.Errorf("Above under a trusted directory: %v", err)
	}
	trusttest.Chmod(t, l.Anc, 0o777)
	if err := r.Above(filepath.Join(l.Mods, "new", "state")); err == nil || !strings.HasPrefix(err.Error(), l.Anc+" must be a directory above it") {
		t.Errorf("Above under a directory writable by all: %v", err)
	}
}
