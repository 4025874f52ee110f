package test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"pam_keyinit_go/internal/pamconf"
	"pam_keyinit_go/internal/pamdir"
	"pam_keyinit_go/test/harness"
)

// Issue 25, item 4: removing the package leaves no pam.d line that names a
// missing module. Its scripts (packaging/prerm, postrm, the spec's %preun)
// run "keyinit-go migrate --revert" before the module goes.

// migrateState is where "keyinit-go migrate --apply" keeps the originals by
// default, and where the packages' scripts look.
const migrateState = "/var/lib/keyinit-go"

// pamModuleLines reads every file of root/etc/pam.d (a symbolic link with
// an absolute target is read inside root, as Fedora's system-auth, a link
// into /etc/authselect, is) with the parser keyinit-go uses, and returns
// the lines that name a module (not includes), by file name.
func pamModuleLines(t *testing.T, root string) map[string][]pamconf.Line {
	t.Helper()
	dir := filepath.Join(root, "etc/pam.d")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]pamconf.Line{}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if target, err := os.Readlink(p); err == nil && filepath.IsAbs(target) {
			p = filepath.Join(root, target)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			if fi, serr := os.Stat(p); serr == nil && fi.IsDir() {
				continue
			}
			t.Fatalf("read %s: %v", p, err)
		}
		lines, _ := pamconf.Parse(e.Name(), b)
		for _, l := range lines {
			if _, inc := l.IncludesFile(); !inc && l.Module != "" {
				out[e.Name()] = append(out[e.Name()], l)
			}
		}
	}
	return out
}

// missingModules lists, as "FILE:LINE MODULE", each line of root/etc/pam.d
// that names a module file that does not exist in root (a name without a
// path is looked up in moduleDir, as libpam does).
func missingModules(t *testing.T, root, moduleDir string) []string {
	t.Helper()
	var missing []string
	for file, lines := range pamModuleLines(t, root) {
		for _, l := range lines {
			if _, err := os.Stat(filepath.Join(root, pamconf.ModuleFile(l.Module, moduleDir))); err != nil {
				missing = append(missing, fmt.Sprintf("%s:%d %s", file, l.Pos.Line, l.Module))
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// filesNaming lists the files of root/etc/pam.d with a line that names
// module (by name or path).
func filesNaming(t *testing.T, root, module string) []string {
	t.Helper()
	var files []string
	for file, lines := range pamModuleLines(t, root) {
		if slices.ContainsFunc(lines, func(l pamconf.Line) bool { return filepath.Base(l.Module) == module }) {
			files = append(files, file)
		}
	}
	sort.Strings(files)
	return files
}

// sameMissing fails the test unless the lines naming a missing module are
// the ones there were before the package came (none, on a sound machine).
func sameMissing(t *testing.T, what string, got, baseline []string) {
	t.Helper()
	if !slices.Equal(got, baseline) {
		t.Errorf("%s: pam.d lines naming a missing module: %q; before the package: %q", what, got, baseline)
	}
}

// TestDebianRemoveRevertsMigration: after "keyinit-go migrate --apply" on
// this machine's pam.d, the .deb's removal puts back every switched file,
// so that no line names the module it takes away:
//   - reinstalling it (dpkg's upgrade path: prerm upgrade) keeps the switch;
//   - with a switched file edited since, "dpkg -r" fails, names the file and
//     says what to do, and the package stays installed with its module, so
//     that every line still finds its module; the other files are put back;
//   - with the edit undone, "dpkg -r" puts back every file byte for byte, a
//     session through the stock su-l stack gets its _ses from pam_keyinit.so
//     again, and "dpkg --purge" removes /var/lib/keyinit-go;
//   - "dpkg --purge" of the installed package does all of it at once.
//
// /etc/pam.d and /var/lib/pam are private copies (as in TestDebianPackage);
// the package, /var/lib/keyinit-go and dpkg's database are the machine's,
// for the length of the test: it refuses to start if either is there, and
// its cleanup purges both, whatever happened.
func TestDebianRemoveRevertsMigration(t *testing.T) {
	harness.RequirePrivateMounts(t)
	for _, tool := range []string{"dpkg", "pamtester", "keyctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing ('make test' installs what it needs): %v", tool, err)
		}
	}
	if debInstalled(t) {
		t.Fatalf("%s is already installed on this machine: the test will not touch a real installation; remove it with 'dpkg --purge %s'", debPackage, debPackage)
	}
	if _, err := os.Lstat(migrateState); err == nil {
		t.Fatalf("%s exists: this machine's pam.d may be migrated; the test will not touch it", migrateState)
	}
	moduleDir, err := pamdir.ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	deb := builtDeb(t)
	harness.PrivateCopyOfDir(t, "/etc/pam.d")
	harness.PrivateCopyOfDir(t, "/var/lib/pam")
	// The services of test runs (kig-*) and developers' probes (kig*) are
	// no stacks of the machine: some name a module by a path that is gone.
	leftovers, _ := filepath.Glob("/etc/pam.d/kig*")
	for _, p := range leftovers {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	// Runs before the private copies are unmounted. The state goes first:
	// what it records is in the private copy, which goes anyway, and prerm
	// then has nothing to revert.
	t.Cleanup(func() {
		os.RemoveAll(migrateState)
		if debInstalled(t) {
			dpkg(t, "--purge", debPackage)
		}
		os.RemoveAll(migrateState)
	})
	keyinitFiles := filesNaming(t, "/", pamconf.CModule)
	if len(keyinitFiles) == 0 {
		t.Fatalf("no file of /etc/pam.d names %s: nothing to migrate", pamconf.CModule)
	}
	before := treeState(t, "/etc/pam.d")
	baseline := missingModules(t, "/", moduleDir)

	switched := debInstallAndMigrate(t, deb, keyinitFiles)
	dpkg(t, "-i", deb)
	sameTree(t, "/etc/pam.d after reinstalling the package (an upgrade)", treeState(t, "/etc/pam.d"), switched)
	if _, err := os.Stat(filepath.Join(migrateState, "manifest.json")); err != nil {
		t.Errorf("after reinstalling the package: %v", err)
	}

	debRemoveRefused(t, moduleDir, before, baseline)
	out := dpkg(t, "-r", debPackage)
	sameTree(t, "/etc/pam.d after dpkg -r", treeState(t, "/etc/pam.d"), before)
	sameMissing(t, "after dpkg -r", missingModules(t, "/", moduleDir), baseline)
	if _, err := os.Lstat(filepath.Join(migrateState, "manifest.json")); err == nil {
		t.Errorf("after dpkg -r the manifest is still there:\n%s", out)
	}
	t.Run("login after removal", func(t *testing.T) { debStockSession(t) })
	dpkg(t, "--purge", debPackage)
	if _, err := os.Lstat(migrateState); err == nil {
		t.Errorf("after dpkg --purge %s is still there", migrateState)
	}

	// Purge straight from installed: prerm remove, then postrm purge.
	debInstallAndMigrate(t, deb, keyinitFiles)
	dpkg(t, "--purge", debPackage)
	if debInstalled(t) {
		t.Errorf("%s is still installed after dpkg --purge", debPackage)
	}
	sameTree(t, "/etc/pam.d after dpkg --purge", treeState(t, "/etc/pam.d"), before)
	sameMissing(t, "after dpkg --purge", missingModules(t, "/", moduleDir), baseline)
	if _, err := os.Lstat(migrateState); err == nil {
		t.Errorf("after dpkg --purge %s is still there", migrateState)
	}
}

// debInstallAndMigrate installs the package and runs the installed
// "keyinit-go migrate --apply": it must switch every file that names
// pam_keyinit.so. It returns the state of /etc/pam.d then.
func debInstallAndMigrate(t *testing.T, deb string, keyinitFiles []string) map[string]string {
	t.Helper()
	dpkg(t, "-i", deb)
	out, err := exec.Command("/usr/sbin/keyinit-go", "migrate", "--apply").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\nmigrated ") {
		t.Fatalf("keyinit-go migrate --apply: %v\n%s", err, out)
	}
	if left := filesNaming(t, "/", pamconf.CModule); len(left) > 0 {
		t.Fatalf("after migrate --apply %q still name %s:\n%s", left, pamconf.CModule, out)
	}
	if got := filesNaming(t, "/", pamconf.GoModule); !slices.Equal(got, keyinitFiles) {
		t.Fatalf("after migrate --apply the files naming %s are %q; want %q", pamconf.GoModule, got, keyinitFiles)
	}
	return treeState(t, "/etc/pam.d")
}

// debRemoveRefused: with sshd edited after the migration, "dpkg -r" fails
// with the message of packaging/prerm, which names sshd; the package stays
// installed and working (its module and command are there, no line names
// a missing module); every other file is put back. The edit is then
// undone, so the file is again what --apply wrote.
func debRemoveRefused(t *testing.T, moduleDir string, before map[string]string, baseline []string) {
	t.Helper()
	const sshd = "/etc/pam.d/sshd"
	migrated, err := os.ReadFile(sshd)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sshd, append(slices.Clip(migrated), "# edited by the admin after the migration\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := dpkgMayFail("-r", debPackage)
	if err == nil {
		t.Fatalf("dpkg -r with %s edited after the migration succeeded; want it refused:\n%s", sshd, out)
	}
	for _, want := range []string{
		sshd + " changed after the migration: left alone",
		"pam-keyinit-go: not removed: \"keyinit-go migrate --revert\" did not put back",
		"put pam_keyinit.so back",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dpkg -r does not say %q:\n%s", want, out)
		}
	}
	// dpkg -r set the selection to deinstall; the package itself is as it was.
	status, _ := exec.Command("dpkg-query", "-W", "-f=${db:Status-Eflag} ${db:Status-Status}", debPackage).Output()
	if string(status) != "ok installed" {
		t.Errorf("after the refused dpkg -r the package is %q; want \"ok installed\"", status)
	}
	for _, f := range []string{filepath.Join(moduleDir, pamconf.GoModule), filepath.Join(moduleDir, pamconf.GoCore), "/usr/sbin/keyinit-go"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after the refused dpkg -r: %v", err)
		}
	}
	if got := filesNaming(t, "/", pamconf.GoModule); !slices.Equal(got, []string{"sshd"}) {
		t.Errorf("after the refused dpkg -r the files naming %s are %q; want only the edited sshd", pamconf.GoModule, got)
	}
	sameMissing(t, "after the refused dpkg -r", missingModules(t, "/", moduleDir), baseline)
	now := treeState(t, "/etc/pam.d")
	delete(now, "sshd")
	others := maps.Clone(before)
	delete(others, "sshd")
	sameTree(t, "/etc/pam.d but sshd after the refused dpkg -r", now, others)
	if err := os.WriteFile(sshd, migrated, 0o644); err != nil {
		t.Fatal(err)
	}
}

// debStockSession: a session through the machine's su-l session stack, as
// the removal left it, gives a pam_exec child of pamtester the user's own
// _ses linking _uid.N (pam_keyinit.so's, "force revoke"), revoked at close,
// and libpam logs no module it could not load.
func debStockSession(t *testing.T) {
	log := harness.Log(t)
	log.Collect()
	pamtesterProbe(t, "session include su-l")
	entries := log.Collect()
	for _, e := range entries {
		if strings.Contains(e.Text, "dlopen") || strings.Contains(e.Text, "faulty module") || strings.Contains(e.Text, pamconf.GoModule) {
			t.Errorf("logged after the removal: %q", e.Text)
		}
	}
	dumpLog(t, entries)
}

// TestRPMEraseRevertsMigration: the RPM, installed with "rpm --root" into a
// Fedora-like root (Fedora's stock pam.d, system-auth and password-auth as
// links into /etc/authselect), and "keyinit-go migrate --apply" run in that
// root: "rpm -e" puts back every switched file, so that no line names the
// module it takes away, and the state directory the package owns goes.
//   - erased with nothing migrated, the package leaves nothing behind;
//   - "rpm --reinstall" (%preun with $1 = 1) keeps the switch;
//   - with a switched file edited since, "rpm -e" fails in %preun, names the
//     file, and the package stays installed with its module;
//   - with pam_keyinit.so put back in it by hand, as the message says,
//     "rpm -e" goes through: that file stays as the admin left it, the
//     others are byte for byte as before.
//
// rpm runs %preun chrooted into the root, so the root has /bin/sh, rm and
// cat, and the C library they and keyinit-go link. The other modules the
// stacks name are empty files: only their presence is looked at, nothing
// loads them.
func TestRPMEraseRevertsMigration(t *testing.T) {
	harness.RequireRoot(t)
	for _, tool := range []string{"rpm", "rpmbuild", "ldd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing ('make test' installs what it needs): %v", tool, err)
		}
	}
	makeIn(t, "rpm")
	rpms, _ := filepath.Glob(filepath.Join(harness.RepoRoot(t), "build/rpm/RPMS/*/pam-keyinit-go-*.rpm"))
	if len(rpms) != 1 {
		t.Fatalf("make rpm made %q; want one package", rpms)
	}
	moduleDir := strings.TrimSpace(string(must(exec.Command("rpm", "--eval", "%{?_pam_moduledir}%{!?_pam_moduledir:%{_libdir}/security}").Output())))
	root := rpmRoot(t, moduleDir)
	rpmIn := func(args ...string) (string, error) {
		out, err := exec.Command("rpm", append([]string{"--root", root, "--nodeps"}, args...)...).CombinedOutput()
		return string(out), err
	}
	mustRPM := func(args ...string) string {
		t.Helper()
		out, err := rpmIn(args...)
		if err != nil {
			t.Fatalf("rpm --root %s %q: %v\n%s", root, args, err, out)
		}
		return out
	}
	installed := func() bool { return exec.Command("rpm", "--root", root, "-q", "pam-keyinit-go").Run() == nil }
	state := filepath.Join(root, migrateState)
	baseline := missingModules(t, root, moduleDir)
	if len(baseline) > 0 {
		t.Fatalf("the root's stacks name missing modules before the package: %q", baseline)
	}

	// Nothing migrated: erase as before, and the directory goes.
	mustRPM("-i", rpms[0])
	if fi, err := os.Stat(state); err != nil || fi.Mode() != os.ModeDir|0o700 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("after rpm -i %s: %v, want a directory of root's, mode 0700", migrateState, err)
	}
	mustRPM("-e", "pam-keyinit-go")
	if _, err := os.Lstat(state); err == nil || installed() {
		t.Errorf("after rpm -e with nothing migrated, %s is still there (%v) or the package is installed (%v)", migrateState, err, installed())
	}

	mustRPM("-i", rpms[0])
	before := treeState(t, filepath.Join(root, "etc"))
	keyinitFiles := filesNaming(t, root, pamconf.CModule)
	out, err := inRoot(root, "/usr/sbin/keyinit-go", "migrate", "--apply", "--module-dir", moduleDir)
	if err != nil || !strings.Contains(out, fmt.Sprintf("\nmigrated %d file(s)", len(keyinitFiles))) {
		t.Fatalf("keyinit-go migrate --apply in the root: %v; want %d files (%q) migrated\n%s", err, len(keyinitFiles), keyinitFiles, out)
	}
	switched := treeState(t, filepath.Join(root, "etc"))
	if got := filesNaming(t, root, pamconf.GoModule); !slices.Equal(got, keyinitFiles) {
		t.Fatalf("after migrate --apply the files naming %s are %q; want %q", pamconf.GoModule, got, keyinitFiles)
	}
	sameMissing(t, "after migrate --apply", missingModules(t, root, moduleDir), baseline)

	mustRPM("--reinstall", rpms[0])
	sameTree(t, "the root's /etc after rpm --reinstall", treeState(t, filepath.Join(root, "etc")), switched)

	sshd := filepath.Join(root, "etc/pam.d/sshd")
	migrated, _ := os.ReadFile(sshd)
	edited := string(migrated) + "# edited by the admin after the migration\n"
	if err := os.WriteFile(sshd, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = rpmIn("-e", "pam-keyinit-go")
	if err == nil || !installed() {
		t.Fatalf("rpm -e with sshd edited after the migration: %v, installed %v; want it refused and the package kept\n%s", err, installed(), out)
	}
	for _, want := range []string{
		"/etc/pam.d/sshd changed after the migration: left alone",
		"pam-keyinit-go: not erased: \"keyinit-go migrate --revert\" did not put back",
		"put pam_keyinit.so back",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rpm -e does not say %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(root, moduleDir, pamconf.GoModule)); err != nil {
		t.Errorf("after the refused rpm -e: %v", err)
	}
	sameMissing(t, "after the refused rpm -e", missingModules(t, root, moduleDir), baseline)

	byHand := strings.Replace(edited, pamconf.GoModule, pamconf.CModule, 1)
	if err := os.WriteFile(sshd, []byte(byHand), 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustRPM("-e", "pam-keyinit-go")
	if installed() {
		t.Errorf("the package is still installed after rpm -e:\n%s", out)
	}
	if b, _ := os.ReadFile(sshd); string(b) != byHand {
		t.Errorf("rpm -e changed sshd, which the admin had put back by hand:\n%s", b)
	}
	now := treeState(t, filepath.Join(root, "etc"))
	delete(now, "pam.d/sshd")
	delete(before, "pam.d/sshd")
	sameTree(t, "the root's /etc after rpm -e", now, before)
	sameMissing(t, "after rpm -e", missingModules(t, root, moduleDir), baseline)
	if _, err := os.Lstat(state); err == nil {
		ents, _ := os.ReadDir(state)
		t.Errorf("after rpm -e %s is still there: %v\n%s", migrateState, ents, out)
	}
}

// rpmRoot makes the root TestRPMEraseRevertsMigration installs into: the
// Fedora fixture set of keyinit-go's migrate tests as its /etc/pam.d, an
// empty file in moduleDir for each module those stacks name (but ours),
// and what %preun runs.
func rpmRoot(t *testing.T, moduleDir string) string {
	t.Helper()
	root := t.TempDir()
	fixtures := filepath.Join(harness.RepoRoot(t), "cmd/keyinit-go/testdata/migrate/fedora")
	for _, d := range []string{"etc/pam.d", "etc/authselect", moduleDir, "bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		to := filepath.Join(root, "etc/pam.d", e.Name())
		if e.Name() == "system-auth" || e.Name() == "password-auth" {
			to = filepath.Join(root, "etc/authselect", e.Name())
			if err := os.Symlink("/etc/authselect/"+e.Name(), filepath.Join(root, "etc/pam.d", e.Name())); err != nil {
				t.Fatal(err)
			}
		}
		harness.CopyFile(t, filepath.Join(fixtures, e.Name()), to, 0o644)
	}
	for _, lines := range pamModuleLines(t, root) {
		for _, l := range lines {
			if m := filepath.Base(l.Module); m != pamconf.GoModule {
				if err := os.WriteFile(filepath.Join(root, moduleDir, m), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	libs := map[string]bool{}
	for _, prog := range []string{"/bin/sh", "/bin/rm", "/bin/cat", harness.Built(t, "keyinit-go")} {
		out, err := exec.Command("ldd", prog).Output()
		if err != nil {
			t.Fatalf("ldd %s: %v", prog, err)
		}
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, "/") {
				libs[f] = true
			}
		}
		if strings.HasPrefix(prog, "/bin/") {
			harness.CopyFile(t, prog, filepath.Join(root, prog), 0o755)
		}
	}
	for lib := range libs {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(lib)), 0o755); err != nil {
			t.Fatal(err)
		}
		harness.CopyFile(t, lib, filepath.Join(root, lib), 0o755)
	}
	return root
}

// inRoot runs a program chrooted into root and returns its output.
func inRoot(root, prog string, args ...string) (string, error) {
	cmd := exec.Command(prog, args...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}
