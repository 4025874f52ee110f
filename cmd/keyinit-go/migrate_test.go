package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/test/harness"
)

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v: %s", src, dst, err, out)
	}
	return dst
}

// snapshot is every file of dir: its bytes and mode.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		out[e.Name()] = st.Mode().String() + "\n" + string(b)
	}
	return out
}

func sameSnapshot(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %s differs from before (mode and bytes):\n%s\nwant:\n%s", what, name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d files; want %d", what, len(got), len(want))
	}
}

// golden compares got with testdata/migrate/NAME, or rewrites it when
// KEYINIT_GO_UPDATE_GOLDEN is set.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata/migrate", name)
	if os.Getenv("KEYINIT_GO_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n%s\nwant:\n%s", p, got, want)
	}
}

var migrateModuleFlags = []string{"--module-dir", "testdata/modules"}

// For the stock files of Debian 12 and of Fedora: the diff is what is
// expected, "check" finds no error in the result, and --revert gives back
// every file byte for byte (and mode).
func TestMigrateFixtureSets(t *testing.T) {
	for _, set := range []string{"debian12", "fedora"} {
		t.Run(set, func(t *testing.T) {
			fixtures := filepath.Join("testdata/migrate", set)
			out, errOut, code := keyinitGo(t, append([]string{"migrate", "--pam-dir", fixtures}, migrateModuleFlags...)...)
			if code != 0 {
				t.Errorf("migrate: exit %d; want 0\n%s", code, errOut)
			}
			golden(t, set+".diff", out)
			golden(t, set+".notes", errOut)

			dir := copyDir(t, fixtures)
			state := filepath.Join(t.TempDir(), "state")
			before := snapshot(t, dir)
			out, errOut, code = keyinitGo(t, append([]string{"migrate", "--apply", "--pam-dir", dir, "--state-dir", state}, migrateModuleFlags...)...)
			if code != 0 {
				t.Fatalf("migrate --apply: exit %d\n%s\n%s", code, out, errOut)
			}
			if n := strings.Count(out, "\n+++ "); n == 0 {
				t.Errorf("migrate --apply printed no diff:\n%s", out)
			}
			for name, b := range snapshot(t, dir) {
				if strings.Contains(b, "pam_keyinit.so") {
					t.Errorf("%s still names pam_keyinit.so after --apply", name)
				}
			}
			out, errOut, code = keyinitGo(t, "check", "--pam-dir", dir, "--module-dir", fixtureModules)
			if code != 0 || !strings.Contains(out, "\n0 error(s), ") {
				t.Errorf("check of the result: exit %d; want 0 and no error\n%s\n%s", code, out, errOut)
			}
			out, errOut, code = keyinitGo(t, "migrate", "--revert", "--state-dir", state)
			if code != 0 {
				t.Errorf("migrate --revert: exit %d\n%s\n%s", code, out, errOut)
			}
			sameSnapshot(t, "after --revert", snapshot(t, dir), before)
			if _, err := os.Stat(filepath.Join(state, "manifest.json")); !os.IsNotExist(err) {
				t.Errorf("the manifest is still there after a full revert (%v)", err)
			}
		})
	}
}

// A file edited after the migration is not reverted; the edit is shown as
// a diff; the other files are reverted; the file stays in the manifest.
func TestMigrateRevertLeavesEditedFile(t *testing.T) {
	dir := copyDir(t, "testdata/migrate/fedora")
	state := filepath.Join(t.TempDir(), "state")
	before := snapshot(t, dir)
	if out, errOut, code := keyinitGo(t, append([]string{"migrate", "--apply", "--pam-dir", dir, "--state-dir", state}, migrateModuleFlags...)...); code != 0 {
		t.Fatalf("migrate --apply: exit %d\n%s\n%s", code, out, errOut)
	}
	sshd := filepath.Join(dir, "sshd")
	migrated, _ := os.ReadFile(sshd)
	edited := append(append([]byte(nil), migrated...), "session    optional     pam_echo.so edited-later\n"...)
	if err := os.WriteFile(sshd, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := keyinitGo(t, "migrate", "--revert", "--state-dir", state)
	if code != 1 {
		t.Errorf("migrate --revert: exit %d; want 1 (a file left alone)", code)
	}
	if !strings.Contains(errOut, sshd+" changed after the migration: left alone") {
		t.Errorf("no report of the edited file:\n%s", errOut)
	}
	if !strings.Contains(out, "--- "+sshd+"\n+++ "+sshd+"\n") || !strings.Contains(out, "\n+session    optional     pam_echo.so edited-later\n") {
		t.Errorf("no diff of the edit:\n%s", out)
	}
	if now, _ := os.ReadFile(sshd); !bytes.Equal(now, edited) {
		t.Errorf("the edited file was changed by --revert")
	}
	after := snapshot(t, dir)
	delete(after, "sshd")
	delete(before, "sshd")
	sameSnapshot(t, "the other files after --revert", after, before)
	if m, _ := os.ReadFile(filepath.Join(state, "manifest.json")); !bytes.Contains(m, []byte(sshd)) {
		t.Errorf("the manifest no longer records %s:\n%s", sshd, m)
	}
}

// A switched file that names pam_keyinit_go.so no more is not kept in the
// manifest by --revert, which the package's removal runs: one the admin put
// pam_keyinit.so back in by hand, one whose line was deleted, and one
// removed since are left as they are and forgotten, the others reverted,
// and the manifest goes.
func TestMigrateRevertForgetsFilesWithoutTheModule(t *testing.T) {
	dir := copyDir(t, "testdata/migrate/fedora")
	state := filepath.Join(t.TempDir(), "state")
	before := snapshot(t, dir)
	if out, errOut, code := keyinitGo(t, append([]string{"migrate", "--apply", "--pam-dir", dir, "--state-dir", state}, migrateModuleFlags...)...); code != 0 {
		t.Fatalf("migrate --apply: exit %d\n%s\n%s", code, out, errOut)
	}
	edited := map[string]string{}
	for name, edit := range map[string]func(string) string{
		"sshd": func(s string) string { // pam_keyinit.so back by hand, and a comment
			return strings.Replace(s, "pam_keyinit_go.so", "pam_keyinit.so", 1) + "# back to pam_keyinit.so by hand\n"
		},
		"login": func(s string) string { // the line deleted
			var kept []string
			for _, l := range strings.SplitAfter(s, "\n") {
				if !strings.Contains(l, "pam_keyinit_go.so") {
					kept = append(kept, l)
				}
			}
			return strings.Join(kept, "")
		},
	} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		edited[name] = edit(string(b))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(edited[name]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(dir, "su-l")); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := keyinitGo(t, "migrate", "--revert", "--state-dir", state)
	if code != 0 || errOut != "" {
		t.Errorf("migrate --revert: exit %d; want 0, nothing on stderr\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		filepath.Join(dir, "sshd") + ": edited since the migration and names pam_keyinit_go.so no more: left as it is, forgotten\n",
		filepath.Join(dir, "login") + ": edited since the migration and names pam_keyinit_go.so no more: left as it is, forgotten\n",
		filepath.Join(dir, "su-l") + ": gone since the migration: forgotten\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--revert does not say %q:\n%s", want, out)
		}
	}
	after := snapshot(t, dir)
	for name, content := range edited {
		if got := after[name]; !strings.HasSuffix(got, "\n"+content) || strings.TrimSuffix(got, content) != strings.SplitAfter(before[name], "\n")[0] {
			t.Errorf("--revert changed the edited %s:\n%s\nwant:\n%s", name, got, content)
		}
		delete(after, name)
		delete(before, name)
	}
	delete(before, "su-l")
	sameSnapshot(t, "the other files after --revert", after, before)
	if _, err := os.Stat(filepath.Join(state, "manifest.json")); err == nil {
		t.Errorf("the manifest is still there: every file was reverted or forgotten")
	}
}

// refusal runs migrate --apply and asserts exit 1, one refusal line
// naming want, and nothing written.
func refusal(t *testing.T, dir, want string, extra ...string) {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	before := snapshot(t, dir)
	out, errOut, code := keyinitGo(t, append([]string{"migrate", "--apply", "--pam-dir", dir, "--state-dir", state}, extra...)...)
	if code != 1 {
		t.Errorf("exit %d; want 1\n%s\n%s", code, out, errOut)
	}
	var refusals []string
	for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
		if strings.HasPrefix(l, "keyinit-go migrate: refusing to apply: ") {
			refusals = append(refusals, l)
		}
	}
	if len(refusals) != 1 || !strings.Contains(refusals[0], want) {
		t.Errorf("refusal lines %q; want one that says %q\nstderr:\n%s", refusals, want, errOut)
	}
	sameSnapshot(t, "after a refused --apply", snapshot(t, dir), before)
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("a refused --apply made its state dir (%v)", err)
	}
}

// The module is two files, the front libpam loads and the Go core the front
// loads: --apply refuses unless the module directory has both, and its one
// line names exactly the missing ones.
func TestMigrateRefusesWithoutModule(t *testing.T) {
	for _, c := range []struct {
		name    string
		present []string
		missing string
	}{
		{"neither", nil, "pam_keyinit_go.so and MODS/pam_keyinit_go/core.so missing;"},
		{"front only", []string{"pam_keyinit_go.so"}, ": MODS/pam_keyinit_go/core.so missing;"},
		{"core only", []string{"pam_keyinit_go/core.so"}, ": MODS/pam_keyinit_go.so missing;"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mods := t.TempDir()
			for _, f := range c.present {
				p := filepath.Join(mods, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			dir := copyDir(t, "testdata/migrate/debian12")
			refusal(t, dir, "the module is not fully installed in "+mods+", where libpam loads modules from: ", "--module-dir", mods)
			refusal(t, dir, strings.ReplaceAll(c.missing, "MODS", mods), "--module-dir", mods)
		})
	}
}

// The sshd line can be migrated, but common-session keeps pam_keyinit.so
// in pam-auth-update's block: C and Go in one stack, which check rejects.
func TestMigrateRefusesWhenCheckFails(t *testing.T) {
	dir := copyDir(t, "testdata/migrate/debian12")
	cs := filepath.Join(dir, "common-session")
	b, _ := os.ReadFile(cs)
	b = bytes.Replace(b, []byte("# end of pam-auth-update config"), []byte("session\toptional\tpam_keyinit.so force revoke\n# end of pam-auth-update config"), 1)
	os.WriteFile(cs, b, 0o644)
	refusal(t, dir, "\"keyinit-go check\" of the result finds ", migrateModuleFlags...)
}

// A file that cannot be replaced (here a read-only bind mount of it, in the
// tests' private mount namespace) stops --apply before anything is written.
func TestMigrateRefusesUnwritableFile(t *testing.T) {
	harness.RequirePrivateMounts(t)
	dir := copyDir(t, "testdata/migrate/debian12")
	sshd := filepath.Join(dir, "sshd")
	if err := unix.Mount(sshd, sshd, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(sshd, unix.MNT_DETACH) })
	if err := unix.Mount("", sshd, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	refusal(t, dir, sshd+" is not writable", migrateModuleFlags...)
}

// Absolute paths keep their directory when the module is there and are
// reported otherwise; pam-auth-update's block is left; a module name on a
// continuation line is found.
func TestMigrateEdgeLines(t *testing.T) {
	mods, half := t.TempDir(), t.TempDir() // the module's two files; the front alone
	os.WriteFile(filepath.Join(mods, "pam_keyinit_go.so"), nil, 0o644)
	os.Mkdir(filepath.Join(mods, "pam_keyinit_go"), 0o755)
	os.WriteFile(filepath.Join(mods, "pam_keyinit_go", "core.so"), nil, 0o644)
	os.WriteFile(filepath.Join(half, "pam_keyinit_go.so"), nil, 0o644)
	dir := t.TempDir()
	src := "session optional " + mods + "/pam_keyinit.so force\n" +
		"session optional /nonexistent/security/pam_keyinit.so revoke\n" +
		"session\t[default=ignore]\t\\\n\tpam_keyinit.so\trevoke # keep\n" +
		"# here are the per-package modules (the \"Primary\" block)\n" +
		"session optional pam_keyinit.so\n" +
		"# end of pam-auth-update config\n" +
		"session optional " + half + "/pam_keyinit.so force\n"
	os.WriteFile(filepath.Join(dir, "svc"), []byte(src), 0o644)
	out, errOut, code := keyinitGo(t, append([]string{"migrate", "--pam-dir", dir}, migrateModuleFlags...)...)
	if code != 1 {
		t.Errorf("exit %d; want 1 (lines left)", code)
	}
	for _, want := range []string{
		"\n+session optional " + mods + "/pam_keyinit_go.so force\n",
		"\n+\tpam_keyinit_go.so\trevoke # keep\n",
		"\n session optional /nonexistent/security/pam_keyinit.so revoke\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{
		"svc:2: not migrated: the line names the module by absolute path and /nonexistent/security/pam_keyinit_go.so and /nonexistent/security/pam_keyinit_go/core.so is missing",
		"svc:8: not migrated: the line names the module by absolute path and " + half + "/pam_keyinit_go/core.so is missing",
		"svc:6: not migrated: the line is in pam-auth-update's managed block",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(out, "+session optional pam_keyinit_go.so\n") {
		t.Errorf("the managed block was edited:\n%s", out)
	}
}
