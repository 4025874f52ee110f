package main

// migrate never loses an edit, never writes outside the PAM directory it
// migrated, believes only a state directory root (or the running user)
// alone could have written, and leaves every file old or new when killed
// at any step.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/internal/trust/trusttest"
	"pam_keyinit_go/test/harness"
)

// migrateIn runs keyinit-go in this process (stepHook reaches it there).
func migrateIn(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"migrate"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

func readManifest(t *testing.T, state string) manifest {
	t.Helper()
	var m manifest
	b, err := os.ReadFile(manifestPath(state))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func writeManifest(t *testing.T, state string, m manifest) {
	t.Helper()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifestPath(state), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// treeOf is every name below dir (relative) with its mode, owner and bytes.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		v := fmt.Sprintf("%o %d", st.Mode, st.Uid)
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += "\n" + string(b)
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// oneLine asserts that stderr has exactly one line with prefix, and that
// it says want.
func oneLine(t *testing.T, stderr, prefix, want string) {
	t.Helper()
	var got []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, prefix) {
			got = append(got, l)
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("lines %q; want one %q... that says %q\nstderr:\n%s", got, prefix, want, stderr)
	}
}

// An edit made between migrate's read of a file and its rename is kept and
// reported, whether made in place or by replacing the file with a new one
// (here with the very same bytes: the inode tells); the other files are
// migrated, and the manifest records only them. A second run migrates the
// edited file, and --revert gives back each file as it was before its
// own migration.
func TestMigrateKeepsEditDuringApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(path string) error
	}{
		{"in place", func(p string) error {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString("session optional pam_echo.so edited during migrate\n")
			return err
		}},
		{"replaced, same bytes", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tmp := p + ".editor"
			if err := os.WriteFile(tmp, b, 0o644); err != nil {
				return err
			}
			return os.Rename(tmp, p)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, "testdata/migrate/debian12")
			state := filepath.Join(t.TempDir(), "state")
			before := snapshot(t, dir)
			sshd := filepath.Join(dir, "sshd")
			edits := 0
			stepHook = func(step, path string) {
				if step == "compare" && path == sshd {
					edits++
					if err := tc.edit(path); err != nil {
						t.Error(err)
					}
				}
			}
			t.Cleanup(func() { stepHook = nil })
			args := append([]string{"--apply", "--pam-dir", dir, "--state-dir", state}, migrateModuleFlags...)
			out, errOut, code := migrateIn(t, args...)
			stepHook = nil
			if edits != 1 {
				t.Fatalf("the hook edited sshd %d times; want once", edits)
			}
			if code != 1 {
				t.Errorf("exit %d; want 1 (a file left)\n%s\n%s", code, out, errOut)
			}
			oneLine(t, errOut, "keyinit-go migrate: ", sshd+" changed while migrate ran: left as it is; run migrate again")
			if !strings.Contains(out, "migrated 4 of 5 file(s)") {
				t.Errorf("stdout does not say 4 of 5 were migrated:\n%s", out)
			}
			edited, _ := os.ReadFile(sshd)
			if !bytes.Contains(edited, []byte("pam_keyinit.so")) || tc.name == "in place" && !bytes.Contains(edited, []byte("edited during migrate")) {
				t.Errorf("sshd lost the edit or was migrated anyway:\n%s", edited)
			}
			after := snapshot(t, dir)
			for name := range before {
				if name != "sshd" && strings.Contains(after[name], "pam_keyinit.so") {
					t.Errorf("%s was not migrated", name)
				}
			}
			m := readManifest(t, state)
			for _, f := range m.Files {
				if f.Path == sshd || f.Pending {
					t.Errorf("manifest entry %+v; want only the replaced files, none pending", f)
				}
			}
			if len(m.Files) != 4 {
				t.Errorf("the manifest records %d files; want the 4 replaced", len(m.Files))
			}
			if _, err := os.Stat(keptFile(state, sshd, ".orig")); !os.IsNotExist(err) {
				t.Errorf("the original of the file left is still kept (%v)", err)
			}

			// Run again: sshd as edited is migrated too.
			out, errOut, code = keyinitGo(t, append([]string{"migrate"}, args...)...)
			if code != 0 {
				t.Fatalf("second --apply: exit %d\n%s\n%s", code, out, errOut)
			}
			if b, _ := os.ReadFile(sshd); bytes.Contains(b, []byte("pam_keyinit.so")) {
				t.Errorf("the second --apply did not migrate sshd")
			}
			if out, errOut, code = keyinitGo(t, "migrate", "--revert", "--state-dir", state); code != 0 {
				t.Fatalf("--revert: exit %d\n%s\n%s", code, out, errOut)
			}
			before["sshd"] = after["sshd"]
			sameSnapshot(t, "after --revert", snapshot(t, dir), before)
		})
	}
}

// killedMigrate runs "keyinit-go migrate ARGS" as a child killed with
// SIGKILL at its nth step; it says whether it was, and at which step.
func killedMigrate(t *testing.T, n int, args ...string) (killed bool, at string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"migrate"}, args...)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", killAtEnv, n))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true, strings.TrimSpace(stderr.String())
		}
	}
	if err != nil {
		t.Fatalf("migrate %q, to be killed at step %d: %v\n%s", args, n, err, stderr.String())
	}
	return false, ""
}

// Killed at each step of --apply in turn (every temporary file written,
// every rename, each compare): every stack file is byte for byte either the
// original or what --apply writes; --revert then gives back every
// original, and a second --apply instead completes the migration (which
// --revert undoes).
func TestMigrateKilledAtEachStep(t *testing.T) {
	const src = "testdata/migrate/debian12"
	original := snapshot(t, src)
	ref := copyDir(t, src)
	refState := filepath.Join(t.TempDir(), "state")
	if out, errOut, code := keyinitGo(t, append([]string{"migrate", "--apply", "--pam-dir", ref, "--state-dir", refState}, migrateModuleFlags...)...); code != 0 {
		t.Fatalf("migrate --apply: exit %d\n%s\n%s", code, out, errOut)
	}
	migrated := snapshot(t, ref)
	apply := func(dir, state string) []string {
		return append([]string{"--apply", "--pam-dir", dir, "--state-dir", state}, migrateModuleFlags...)
	}
	steps := 0
	for n := 1; ; n++ {
		dir, state := copyDir(t, src), filepath.Join(t.TempDir(), "state")
		killed, at := killedMigrate(t, n, apply(dir, state)...)
		if !killed {
			break
		}
		steps++
		now := snapshot(t, dir)
		for name, was := range original {
			if got := now[name]; got != was && got != migrated[name] {
				t.Errorf("%s: %s is neither the original nor the migrated file:\n%s", at, name, got)
			}
		}
		for name := range now {
			if _, ok := original[name]; !ok && !strings.Contains(name, tempMark) {
				t.Errorf("%s: %s appeared in the PAM directory", at, name)
			}
		}
		if out, errOut, code := keyinitGo(t, "migrate", "--revert", "--state-dir", state); code != 0 {
			t.Errorf("%s, then --revert: exit %d\n%s\n%s", at, code, out, errOut)
		}
		sameSnapshot(t, at+", then --revert", snapshot(t, dir), original)

		dir, state = copyDir(t, src), filepath.Join(t.TempDir(), "state")
		if killed, _ := killedMigrate(t, n, apply(dir, state)...); !killed {
			t.Fatalf("the second run was not killed at step %d", n)
		}
		if out, errOut, code := keyinitGo(t, append([]string{"migrate"}, apply(dir, state)...)...); code != 0 {
			t.Errorf("%s, then --apply: exit %d\n%s\n%s", at, code, out, errOut)
		}
		sameSnapshot(t, at+", then --apply", snapshot(t, dir), migrated)
		if m := readManifest(t, state); len(m.Files) != 5 {
			t.Errorf("%s, then --apply: the manifest records %d files; want 5", at, len(m.Files))
		} else {
			for _, f := range m.Files {
				if f.Pending {
					t.Errorf("%s, then --apply: %s is still pending", at, f.Path)
				}
			}
		}
		if out, errOut, code := keyinitGo(t, "migrate", "--revert", "--state-dir", state); code != 0 {
			t.Errorf("%s, then --apply and --revert: exit %d\n%s\n%s", at, code, out, errOut)
		}
		sameSnapshot(t, at+", then --apply and --revert", snapshot(t, dir), original)
	}
	// 5 files: each kept twice (2 writes of 2 steps), the manifest written
	// twice (2 steps each), each file compared and written (3 steps).
	if want := 5*2*2 + 2*2 + 5*3; steps != want {
		t.Errorf("killed at %d steps; want %d", steps, want)
	}
}

// A state directory, manifest or kept file that others could have written
// is not believed: --apply and --revert refuse with one line, exit 1, and
// change nothing, in the PAM directory or in the state directory.
func TestMigrateRefusesHostileState(t *testing.T) {
	harness.RequireRoot(t)
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, state string)
		want  string // in the refusal; STATE is the state directory
	}{
		{"state directory writable by its group", func(t *testing.T, s string) { trusttest.Chmod(t, s, 0o770) }, "STATE must be a root-owned directory that group and others cannot write"},
		{"state directory owned by nobody", func(t *testing.T, s string) { trusttest.Chown(t, s, trusttest.Nobody) }, "STATE must be a root-owned directory that"},
		{"directory above writable by all", func(t *testing.T, s string) { trusttest.Chmod(t, filepath.Dir(s), 0o777) }, "STATE/.. must be a root-owned directory above it"},
		{"manifest writable by others", func(t *testing.T, s string) { trusttest.Chmod(t, manifestPath(s), 0o602) }, "STATE/manifest.json must be a root-owned file"},
		{"manifest owned by nobody", func(t *testing.T, s string) { trusttest.Chown(t, manifestPath(s), trusttest.Nobody) }, "STATE/manifest.json must be a root-owned file"},
		{"manifest a symbolic link", func(t *testing.T, s string) {
			other := filepath.Join(t.TempDir(), "manifest.json")
			if err := os.Rename(manifestPath(s), other); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, manifestPath(s)); err != nil {
				t.Fatal(err)
			}
		}, "STATE/manifest.json must be a root-owned file"},
		{"files directory writable by its group", func(t *testing.T, s string) { trusttest.Chmod(t, filepath.Join(s, "files"), 0o770) }, "STATE/files must be a root-owned directory"},
		{"kept original writable by others", func(t *testing.T, s string) {
			origs, _ := filepath.Glob(filepath.Join(s, "files", "*.orig"))
			trusttest.Chmod(t, origs[0], 0o666)
		}, ".orig must be a root-owned file"},
		{"lock owned by nobody", func(t *testing.T, s string) { trusttest.Chown(t, filepath.Join(s, "lock"), trusttest.Nobody) }, "STATE/lock must be a root-owned file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, "testdata/migrate/debian12")
			state := filepath.Join(t.TempDir(), "state")
			if out, errOut, code := keyinitGo(t, append([]string{"migrate", "--apply", "--pam-dir", dir, "--state-dir", state, "login"}, migrateModuleFlags...)...); code != 0 {
				t.Fatalf("--apply: exit %d\n%s\n%s", code, out, errOut)
			}
			tc.spoil(t, state)
			pam, kept := snapshot(t, dir), treeOf(t, filepath.Dir(state))
			out, errOut, code := keyinitGo(t, "migrate", "--revert", "--state-dir", state)
			if code != 1 {
				t.Errorf("--revert: exit %d; want 1\n%s\n%s", code, out, errOut)
			}
			want := strings.ReplaceAll(strings.ReplaceAll(tc.want, "STATE/..", filepath.Dir(state)), "STATE", state)
			oneLine(t, errOut, "keyinit-go migrate: ", "keyinit-go migrate: refusing to revert: ")
			oneLine(t, errOut, "keyinit-go migrate: ", want)
			out, errOut, code = keyinitGo(t, append([]string{"migrate", "--apply", "--pam-dir", dir, "--state-dir", state}, migrateModuleFlags...)...)
			if code != 1 {
				t.Errorf("--apply: exit %d; want 1\n%s\n%s", code, out, errOut)
			}
			oneLine(t, errOut, "keyinit-go migrate: ", "keyinit-go migrate: refusing to apply: ")
			oneLine(t, errOut, "keyinit-go migrate: ", want)
			sameSnapshot(t, "the PAM directory after the refusals", snapshot(t, dir), pam)
			if got := treeOf(t, filepath.Dir(state)); fmt.Sprint(got) != fmt.Sprint(kept) {
				t.Errorf("the state directory changed:\n%v\nwant:\n%v", got, kept)
			}
		})
	}
}

// --revert writes only in the PAM directory recorded at apply time: an
// entry outside it, with "..", reached through a symbolic link that leads
// out, or naming as its link a file that is no link to it, is refused, one
// line each, and the file it names is not touched; the other entries are
// reverted. --apply then refuses that manifest as a whole.
func TestMigrateRevertStaysInPamDir(t *testing.T) {
	harness.RequireRoot(t)
	dir := copyDir(t, "testdata/migrate/debian12")
	state := filepath.Join(t.TempDir(), "state")
	before := snapshot(t, dir)
	args := append([]string{"migrate", "--apply", "--pam-dir", dir, "--state-dir", state}, migrateModuleFlags...)
	if out, errOut, code := keyinitGo(t, args...); code != 0 {
		t.Fatalf("--apply: exit %d\n%s\n%s", code, out, errOut)
	}
	m := readManifest(t, state)
	sshd := filepath.Join(dir, "sshd")
	i := m.find(sshd)
	if i < 0 {
		t.Fatalf("no entry for %s in %+v", sshd, m)
	}
	migrated, _ := os.ReadFile(sshd)
	outside := func() string { // a file elsewhere that --revert could write
		p := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(p, migrated, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// hostile adds an entry like sshd's (its kept bytes too) for path.
	hostile := func(path, link string) {
		f := m.Files[i]
		f.Path, f.Link = path, link
		for _, ext := range []string{".orig", ".new"} {
			b, err := os.ReadFile(keptFile(state, sshd, ext))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(keptFile(state, path, ext), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		m.Files = append(m.Files, f)
	}
	elsewhere := outside()
	hostile(elsewhere, "")
	dotdot := outside()
	hostile(dir+"/../"+filepath.Base(filepath.Dir(dotdot))+"/file", "")
	throughLink := outside()
	if err := os.Symlink(filepath.Dir(throughLink), filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	hostile(filepath.Join(dir, "escape", "file"), "")
	notALink := outside()
	hostile(notALink, sshd)
	// login, migrated, is now a link to a file elsewhere.
	login := filepath.Join(dir, "login")
	nowLink := outside()
	if err := os.Remove(login); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(nowLink, login); err != nil {
		t.Fatal(err)
	}
	writeManifest(t, state, m)

	out, errOut, code := keyinitGo(t, "migrate", "--revert", "--state-dir", state)
	if code != 1 {
		t.Errorf("--revert: exit %d; want 1 (entries left)\n%s\n%s", code, out, errOut)
	}
	for _, want := range []struct{ path, why string }{
		{elsewhere, "not in " + dir + ", the PAM directory recorded at apply time, nor named by a symbolic link there"},
		{dir + "/../" + filepath.Base(filepath.Dir(dotdot)) + "/file", `not an absolute path without ".."`},
		{filepath.Join(dir, "escape", "file"), "a symbolic link on the way now leads to " + throughLink},
		{notALink, "not in " + dir},
		{login, "a symbolic link on the way now leads to " + nowLink},
	} {
		oneLine(t, errOut, fmt.Sprintf("keyinit-go migrate: refusing to revert %q: ", want.path), want.why)
	}
	if n := strings.Count(errOut, "keyinit-go migrate: "); n != 5 {
		t.Errorf("%d lines on stderr; want one per refused entry, 5:\n%s", n, errOut)
	}
	for _, p := range []string{elsewhere, dotdot, throughLink, notALink, nowLink} {
		if b, _ := os.ReadFile(p); !bytes.Equal(b, migrated) {
			t.Errorf("%s was written by --revert", p)
		}
	}
	os.Remove(filepath.Join(dir, "escape"))
	os.Remove(login)
	now := snapshot(t, dir)
	delete(before, "login")
	sameSnapshot(t, "the other files after --revert", now, before)
	if left := readManifest(t, state); len(left.Files) != 5 {
		t.Errorf("the manifest keeps %d entries; want the 5 refused", len(left.Files))
	}

	out, errOut, code = keyinitGo(t, args...)
	if code != 1 {
		t.Errorf("--apply with that manifest: exit %d; want 1\n%s\n%s", code, out, errOut)
	}
	oneLine(t, errOut, "keyinit-go migrate: ", "keyinit-go migrate: refusing to apply: the manifest "+manifestPath(state)+" records ")
	sameSnapshot(t, "after the refused --apply", snapshot(t, dir), now)
}

// A file named through a symbolic link directly in the PAM directory
// (Fedora's system-auth, a link into /etc/authselect) is migrated where it
// is and reverted there; a file of another directory is refused: --revert
// could not put it back.
func TestMigrateLinkedFile(t *testing.T) {
	dir := copyDir(t, "testdata/migrate/fedora")
	authselect := filepath.Join(filepath.Dir(dir), "authselect")
	if err := os.Mkdir(authselect, 0o755); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(authselect, "system-auth")
	if err := os.Rename(filepath.Join(dir, "system-auth"), real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../authselect/system-auth", filepath.Join(dir, "system-auth")); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(real)
	state := filepath.Join(t.TempDir(), "state")
	if out, errOut, code := keyinitGo(t, append([]string{"migrate", "--apply", "--pam-dir", dir, "--state-dir", state}, migrateModuleFlags...)...); code != 0 {
		t.Fatalf("--apply: exit %d\n%s\n%s", code, out, errOut)
	}
	m := readManifest(t, state)
	if i := m.find(real); i < 0 || m.Files[i].Link != filepath.Join(dir, "system-auth") || m.PamDir != dir {
		t.Errorf("manifest %+v; want %s linked from %s/system-auth, PAM directory %s", m, real, dir, dir)
	}
	if b, _ := os.ReadFile(real); bytes.Contains(b, []byte("pam_keyinit.so")) {
		t.Errorf("%s was not migrated", real)
	}
	if out, errOut, code := keyinitGo(t, "migrate", "--revert", "--state-dir", state); code != 0 {
		t.Fatalf("--revert: exit %d\n%s\n%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(real); !bytes.Equal(b, orig) {
		t.Errorf("%s was not reverted", real)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "system-auth")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is no longer a link (%v)", err)
	}

	other := filepath.Join(t.TempDir(), "svc")
	if err := os.WriteFile(other, []byte("session optional pam_keyinit.so force revoke\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refusal(t, dir, other+" ("+other+"): not in "+dir+", the PAM directory recorded at apply time, nor named by a symbolic link there; "+
		"--revert puts back only files of the PAM directory", append(migrateModuleFlags, other)...)
	if b, _ := os.ReadFile(other); !bytes.Contains(b, []byte("pam_keyinit.so")) {
		t.Errorf("%s was migrated", other)
	}
}
