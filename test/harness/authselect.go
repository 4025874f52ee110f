package harness

// authselect, the tool Fedora and RHEL manage /etc/pam.d/system-auth and
// password-auth with, built from the sources vendored beside the
// repository (../shared/vendor/authselect-VERSION.tar.gz, README there)
// into a prefix: built with --prefix=DIR it manages DIR/etc/pam.d and
// DIR/etc/authselect (absolute symbolic links into DIR) and keeps its
// profiles in DIR/share/authselect, so a test needs no namespace and
// touches nothing of the machine's own /etc.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Authselect is one version of authselect, built into a prefix.
type Authselect struct {
	Version  string
	Prefix   string // DIR of --prefix=DIR
	pristine string // a tar of DIR/etc and DIR/var as installed
}

// Bin is the authselect binary.
func (a *Authselect) Bin() string { return filepath.Join(a.Prefix, "bin", "authselect") }

// PamDir is the PAM directory this authselect manages: DIR/etc/pam.d.
func (a *Authselect) PamDir() string { return filepath.Join(a.Prefix, "etc", "pam.d") }

// ConfigDir is its own directory: DIR/etc/authselect.
func (a *Authselect) ConfigDir() string { return filepath.Join(a.Prefix, "etc", "authselect") }

// Env is the environment with this authselect first in PATH, for the
// commands that run "authselect" (keyinit-go migrate).
func (a *Authselect) Env() []string {
	env := []string{"PATH=" + filepath.Join(a.Prefix, "bin") + ":" + os.Getenv("PATH")}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PATH=") {
			env = append(env, e)
		}
	}
	return env
}

// Run runs this authselect with args and returns its output (stdout and
// stderr) and exit code.
func (a *Authselect) Run(t testing.TB, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(a.Bin(), args...)
	cmd.Env = append(a.Env(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("authselect %q: %v", args, err)
	}
	return string(out), 0
}

// MustRun runs this authselect and fails the test unless it succeeds.
func (a *Authselect) MustRun(t testing.TB, args ...string) string {
	t.Helper()
	out, code := a.Run(t, args...)
	if code != 0 {
		t.Fatalf("authselect %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// AuthselectVendorDir is where the vendored tarballs are: ../shared/vendor
// beside the repository.
func AuthselectVendorDir(t testing.TB) string {
	return filepath.Join(RepoRoot(t), "..", "shared", "vendor")
}

// BuildAuthselect returns authselect VERSION built into a prefix, with its
// etc and var as "make install" left them (no profile selected), for this
// test alone: they are put back so at the end, even if the test fails, and
// a lock keeps other tests out of the prefix meanwhile.
//
// The build (about a minute) is cached in build/authselect-VERSION (in
// /var/tmp for a clone whose path has blanks or quotes, which configure
// cannot take), keyed by the tarball's sha256 and the prefix: a rerun
// costs nothing; a new tarball, or a clone moved elsewhere, builds again. It needs the tarball
// and the build tools (make deps installs them): without them the test is
// skipped, or fails under CI.
func BuildAuthselect(t testing.TB, version string) *Authselect {
	t.Helper()
	tarball := filepath.Join(AuthselectVendorDir(t), "authselect-"+version+".tar.gz")
	data, err := os.ReadFile(tarball)
	if err != nil {
		Lacks(t, "the vendored authselect %s (%v): the clone needs ../shared/vendor beside it", version, err)
	}
	for _, tool := range []string{"autoreconf", "libtoolize", "autopoint", "pkg-config", "make", "cc"} {
		if _, err := exec.LookPath(tool); err != nil {
			Lacks(t, "%s, which building authselect needs (run 'make deps')", tool)
		}
	}
	cache := filepath.Join(RepoRoot(t), "build", "authselect-"+version)
	if strings.Trim(cache, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_.+-") != "" {
		// configure and make cannot take a prefix with blanks or quotes:
		// a place of this clone's own outside it.
		h := sha256.Sum256([]byte(RepoRoot(t)))
		cache = filepath.Join("/var/tmp", "pam_keyinit_go-authselect-"+hex.EncodeToString(h[:8]), "authselect-"+version)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	lockFile, err := os.OpenFile(cache+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(lockFile.Fd()), unix.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", lockFile.Name(), err)
	}
	t.Cleanup(func() { lockFile.Close() })

	a := &Authselect{Version: version, Prefix: filepath.Join(cache, "root")}
	sum := sha256.Sum256(data)
	stamp := hex.EncodeToString(sum[:]) + " " + a.Prefix + "\n"
	pristine := filepath.Join(cache, "pristine.tar")
	if b, err := os.ReadFile(filepath.Join(cache, "stamp")); err != nil || string(b) != stamp || !fileExistsPlain(pristine) {
		buildAuthselect(t, cache, tarball, a.Prefix)
		if out, err := exec.Command("tar", "-C", a.Prefix, "-cf", pristine, "etc", "var").CombinedOutput(); err != nil {
			t.Fatalf("tar the installed etc and var of authselect %s: %v\n%s", version, err, out)
		}
		if err := os.WriteFile(filepath.Join(cache, "stamp"), []byte(stamp), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a.pristine = pristine
	if err := a.reset(); err != nil {
		t.Fatalf("reset authselect %s's etc and var: %v", version, err)
	}
	t.Cleanup(func() {
		if err := a.reset(); err != nil {
			t.Errorf("reset authselect %s's etc and var: %v", version, err)
		}
	})
	return a
}

// Reset puts DIR/etc and DIR/var back as "make install" left them.
func (a *Authselect) Reset(t testing.TB) {
	t.Helper()
	if err := a.reset(); err != nil {
		t.Fatalf("reset authselect %s's etc and var: %v", a.Version, err)
	}
}

func (a *Authselect) reset() error {
	for _, d := range []string{"etc", "var"} {
		if err := os.RemoveAll(filepath.Join(a.Prefix, d)); err != nil {
			return err
		}
	}
	if out, err := exec.Command("tar", "-C", a.Prefix, "-xpf", a.pristine).CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// buildAuthselect builds the tarball into prefix (autoreconf, configure,
// make, make install), in cache/src, and removes the sources after.
func buildAuthselect(t testing.TB, cache, tarball, prefix string) {
	t.Helper()
	t.Logf("building %s into %s (about a minute; cached for later runs)", filepath.Base(tarball), prefix)
	src := filepath.Join(cache, "src")
	for _, d := range []string{src, prefix} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(src)
	var log bytes.Buffer
	run := func(dir string, name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Run(); err != nil {
			t.Fatalf("building authselect: %s %s: %v\n%s", name, strings.Join(args, " "), err, tail(log.String(), 40))
		}
	}
	run(src, "tar", "-xzf", tarball, "--strip-components=1")
	run(src, "autoreconf", "-if")
	run(src, "./configure", "--prefix="+prefix, "--disable-nls")
	run(src, "make", "-j2")
	run(src, "make", "install")
	if !fileExistsPlain(filepath.Join(prefix, "bin", "authselect")) {
		t.Fatalf("building authselect: no %s after make install\n%s", filepath.Join(prefix, "bin", "authselect"), tail(log.String(), 40))
	}
}

func fileExistsPlain(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
