package udiff

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// The diffs apply: "patch" turns a into b with each of them.
func TestUnifiedAppliesWithPatch(t *testing.T) {
	if _, err := exec.LookPath("patch"); err != nil {
		harness.Lacks(t, "patch(1), to check the diffs with (Debian package patch)")
	}
	cases := []struct{ a, b string }{
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "1\n2\nX\n4\n5\n6\n7\n8\n9\n10\nY\n12\n"},
		{"a\nb\n", "a\nb\nc\n"},
		{"a\nb\nc\n", "b\n"},
		{"", "new\n"},
		{"x\n", "x"},
		{"a\nb\nc\nd\ne\nf\ng\nh\n", "a\nB\nc\nd\ne\nf\nG\nh\n"},
	}
	for i, c := range cases {
		dir := t.TempDir()
		f := filepath.Join(dir, "f")
		os.WriteFile(f, []byte(c.a), 0o644)
		d := Unified("f", []byte(c.a), []byte(c.b))
		cmd := exec.Command("patch", "-s", "-p0")
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(d)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("case %d: patch: %v\n%s\ndiff:\n%s", i, err, out, d)
			continue
		}
		if got, _ := os.ReadFile(f); string(got) != c.b {
			t.Errorf("case %d: patched to %q; want %q\ndiff:\n%s", i, got, c.b, d)
		}
	}
	if d := Unified("f", []byte("same\n"), []byte("same\n")); d != "" {
		t.Errorf("diff of equal texts: %q", d)
	}
}

func TestUnifiedHunks(t *testing.T) {
	got := Unified("p", []byte("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n"), []byte("1\n2\n3\n4\n5\nsix\n7\n8\n9\n10\n"))
	want := "--- p\n+++ p\n@@ -3,7 +3,7 @@\n 3\n 4\n 5\n-6\n+six\n 7\n 8\n 9\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
