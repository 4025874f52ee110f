package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"pam_keyinit_go/test/harness"
)

// These tests run build/test/trusthost (test/hosts/trusthost.c), which
// opens a session through each service it is given, in one process, and
// reports the PAM codes, the session keyrings, every core.so mapped in the
// process, its threads, whether its AT_RANDOM bytes, environ and the
// environment block after argv are as they were, and what dlopen of
// /proc/self/fd/N gives for a plugin of its own. The module copies live in
// temporary directories whose owners and modes each test sets: where the
// front finds its core (pam_keyinit_go/core.so beside it), and what a
// privileged process may load from there (pam/front/trust.c).

type trustReport map[string][]string

// one is the single value of name ("" if none or several).
func (r trustReport) one(name string) string {
	if len(r[name]) != 1 {
		return ""
	}
	return r[name][0]
}

// runTrustHost runs trusthost under a command prefix (setpriv, or none) and
// returns its lines; the host must finish, and print nothing on stderr. With
// a prefix it runs a copy in a directory every user can enter (the checkout
// may be in one only its owner can).
func runTrustHost(t *testing.T, prefix []string, env []string, args ...string) trustReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	host := harness.Built(t, "test/trusthost")
	if prefix != nil {
		copied := filepath.Join(trustDir(t), "trusthost")
		harness.CopyFile(t, host, copied, 0o755)
		host = copied
	}
	argv := append(append(append([]string{}, prefix...), host), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if env != nil {
		cmd.Env = env
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("trusthost %v hung: %s", args, out)
	}
	if err != nil {
		t.Fatalf("trusthost %v: %v\n%s%s", args, err, out, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("trusthost's stderr got %q", stderr.String())
	}
	r := trustReport{}
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		if name, value, ok := strings.Cut(s.Text(), ": "); ok {
			r[name] = append(r[name], value)
		}
	}
	if r.one("done") != "yes" {
		t.Fatalf("trusthost %v did not finish:\n%s", args, out)
	}
	t.Logf("trusthost %v:\n%s", args, out)
	return r
}

// trustDir is a new root-owned 0755 directory under the temporary
// directory (/tmp: root's, sticky), removed at the end.
func trustDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kig-trust-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// trustInstall puts a copy of the built front in dir (made 0755 if need
// be) and, unless core is "", the file core as dir/pam_keyinit_go/core.so;
// it returns the front's path and the core's.
func trustInstall(t *testing.T, dir, core string) (front, coreCopy string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	front = filepath.Join(dir, "pam_keyinit_go.so")
	harness.CopyFile(t, harness.Module(t), front, 0o755)
	coreCopy = filepath.Join(dir, "pam_keyinit_go", "core.so")
	if core == "" {
		return front, coreCopy
	}
	if err := os.Mkdir(filepath.Dir(coreCopy), 0o755); err != nil {
		t.Fatal(err)
	}
	harness.CopyFile(t, core, coreCopy, 0o644)
	return front, coreCopy
}

// builtCore is the Go core 'make' built beside the module.
func builtCore(t *testing.T) string {
	return harness.Built(t, "pam_keyinit_go/core.so")
}

// moduleLines are the module's log lines among entries.
func moduleLines(entries []harness.Entry) []harness.Entry {
	return harness.Matching(entries, "pam_keyinit_go(")
}

// madeInC asserts that transaction i of a trusthost run opened with the
// user's own _ses made by the plain keyinit in C, whose one line (the only
// one in lines) says why the core was not used, holding every part.
func madeInC(t *testing.T, got trustReport, i string, u harness.User, lines []harness.Entry, parts ...string) {
	t.Helper()
	if got.one("open "+i) != "0" || got.one("keyring "+i) != userSes(u) {
		t.Errorf("open %q, keyring %q; want 0 and %s from the plain keyinit in C",
			got.one("open "+i), got.one("keyring "+i), userSes(u))
	}
	faultOneLine(t, lines, logWarning, append([]string{"made session keyring ", plainKeyinitSays}, parts...)...)
}

func userSes(u harness.User) string {
	return fmt.Sprintf("keyring;%d;%d;3f030000;_ses", u.UID, u.GID)
}

// TestTrustCapabilityHost: a process with no root uid but a capability
// (CAP_SETUID and CAP_SETGID, ambient, as a service manager may start a
// login service) is privileged: it refuses a core whose directory its group
// may write, or that it owns, with one LOG_ERR line and nothing mapped; it
// loads the same copy from a safe directory. Without capabilities the same
// unsafe copy loads: such a process can only harm itself.
func TestTrustCapabilityHost(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		harness.Lacks(t, "setpriv (util-linux)")
	}
	u := harness.TempUser(t)
	logs := harness.Log(t)
	ids := []string{"--reuid=" + strconv.Itoa(int(u.UID)), "--regid=" + strconv.Itoa(int(u.GID)), "--clear-groups"}
	withCaps := append(append([]string{setpriv}, ids...), "--inh-caps=+setuid,+setgid", "--ambient-caps=+setuid,+setgid")
	noCaps := append([]string{setpriv}, ids...)
	for _, tc := range []struct {
		name   string
		prefix []string
		spoil  func(coreDir string) error
		refuse string // the refusal's words, "" where the open must work
	}{
		{"safe directory", withCaps, func(string) error { return nil }, ""},
		{"core directory writable by the user's group", withCaps, func(d string) error {
			if err := os.Chown(d, 0, int(u.GID)); err != nil {
				return err
			}
			return os.Chmod(d, 0o775)
		}, "must be a root-owned directory"},
		{"core directory owned by the user", withCaps, func(d string) error {
			return os.Chown(d, int(u.UID), int(u.GID))
		}, "must be a root-owned directory"},
		{"group-writable, no capabilities", noCaps, func(d string) error {
			if err := os.Chown(d, 0, int(u.GID)); err != nil {
				return err
			}
			return os.Chmod(d, 0o775)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			front, core := trustInstall(t, trustDir(t), builtCore(t))
			if err := tc.spoil(filepath.Dir(core)); err != nil {
				t.Fatal(err)
			}
			svc := harness.SystemService(t, "session required "+front+" force revoke\n")
			logs.Collect()
			got := runTrustHost(t, tc.prefix, nil, u.Name, svc.Name)
			lines := moduleLines(logs.Collect())

			// The host is what the case says: the user's uids, and
			// CAP_SETUID and CAP_SETGID permitted and effective or none.
			var r, e, s uint32
			var prm, eff uint64
			var secure int
			if _, err := fmt.Sscanf(got.one("ids"), "%d %d %d / %x %x / %d", &r, &e, &s, &prm, &eff, &secure); err != nil {
				t.Fatalf("ids %q: %v", got.one("ids"), err)
			}
			const setidCaps = 1<<6 | 1<<7
			wantCaps := uint64(0)
			if len(tc.prefix) == len(withCaps) {
				wantCaps = setidCaps
			}
			if r != u.UID || e != u.UID || s != u.UID || prm != wantCaps || eff != wantCaps || secure != 0 {
				t.Fatalf("the host runs with ids %q; want uid %d thrice, capabilities %x, AT_SECURE 0", got.one("ids"), u.UID, wantCaps)
			}
			if tc.refuse == "" {
				if got.one("open 1") != "0" || got.one("keyring 1") != userSes(u) {
					t.Errorf("open %q, keyring %q; want 0 and %s", got.one("open 1"), got.one("keyring 1"), userSes(u))
				}
				if len(lines) != 0 {
					t.Errorf("logged %q; want nothing", faultTexts(lines))
				}
				if m := got["mapped core"]; len(m) != 1 || m[0] != core {
					t.Errorf("mapped cores %q; want %s", m, core)
				}
				return
			}
			madeInC(t, got, "1", u, lines, "the Go core "+core+" is not trusted: ", filepath.Dir(core)+" "+tc.refuse)
			if m := got["mapped core"]; len(m) != 0 {
				t.Errorf("an untrusted core was mapped: %q", m)
			}
		})
	}
}

// TestTrustUnsafeAncestor: as root, the core's own directory may be safe
// and a directory above it still let others swap it: one writable by group
// or others, and not sticky, is refused, and so is a sticky one that is not
// root's; a root-owned sticky one (as /tmp) is allowed.
func TestTrustUnsafeAncestor(t *testing.T) {
	u := harness.TempUser(t)
	logs := harness.Log(t)
	for _, tc := range []struct {
		name   string
		mode   os.FileMode // of the directory two levels above the core's
		owner  int
		refuse bool
	}{
		{"safe", 0o755, 0, false},
		{"world-writable", 0o777, 0, true},
		{"group-writable", 0o775, 0, true},
		{"sticky and world-writable, root's", 0o777 | os.ModeSticky, 0, false},
		{"sticky and world-writable, a user's", 0o777 | os.ModeSticky, int(u.UID), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// ROOT/above/module/{pam_keyinit_go.so,pam_keyinit_go/core.so}
			above := filepath.Join(trustDir(t), "above")
			front, core := trustInstall(t, filepath.Join(above, "module"), builtCore(t))
			if err := os.Chown(above, tc.owner, 0); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(above, tc.mode); err != nil {
				t.Fatal(err)
			}
			svc := harness.SystemService(t, "session required "+front+" force revoke\n")
			logs.Collect()
			got := runTrustHost(t, nil, nil, u.Name, svc.Name)
			lines := moduleLines(logs.Collect())
			if !tc.refuse {
				if got.one("open 1") != "0" || got.one("keyring 1") != userSes(u) || len(lines) != 0 {
					t.Errorf("open %q, keyring %q, log %q; want 0, %s and nothing logged",
						got.one("open 1"), got.one("keyring 1"), faultTexts(lines), userSes(u))
				}
				return
			}
			madeInC(t, got, "1", u, lines, "the Go core "+core+" is not trusted: ", above+" must be a root-owned directory above it")
			if m := got["mapped core"]; len(m) != 0 {
				t.Errorf("a core under an unsafe directory was mapped: %q", m)
			}
		})
	}
}

// TestTrustTwoFronts: two copies of the front named by two paths, in one
// process. With two different core files, the first loads its core and makes
// the keyring; the second, in the next transaction, will not load its own:
// the plain keyinit in C makes that keyring, with one line naming both
// cores, and the process holds one core. With one core file (a hard link,
// or a directory linked to the first's), both use the one runtime.
func TestTrustTwoFronts(t *testing.T) {
	u := harness.TempUser(t)
	logs := harness.Log(t)
	stack := func(a, b string) harness.Service {
		return harness.SystemService(t, "session required "+a+" force revoke\nsession required "+b+" force revoke\n")
	}

	t.Run("different core files", func(t *testing.T) {
		root := trustDir(t)
		frontA, coreA := trustInstall(t, filepath.Join(root, "a"), builtCore(t))
		frontB, coreB := trustInstall(t, filepath.Join(root, "b"), builtCore(t))
		// A byte-different file (an ELF loads with a byte appended).
		f, err := os.OpenFile(coreB, os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			_, err = f.Write([]byte{0})
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		svcA := harness.SystemService(t, "session required "+frontA+" force revoke\n")
		svcB := harness.SystemService(t, "session required "+frontB+" force revoke\n")
		logs.Collect()
		got := runTrustHost(t, nil, nil, u.Name, svcA.Name, svcB.Name)
		lines := moduleLines(logs.Collect())
		if got.one("open 1") != "0" || got.one("keyring 1") != userSes(u) {
			t.Errorf("open %q, keyring %q; want 0 and %s, made by the first front's core",
				got.one("open 1"), got.one("keyring 1"), userSes(u))
		}
		madeInC(t, got, "2", u, lines, "already runs another Go core, "+coreA+", than "+coreB,
			"two Go runtimes cannot share a process")
		if m := got["mapped core"]; len(m) != 1 || m[0] != coreA {
			t.Errorf("mapped cores %q; want only %s", m, coreA)
		}
	})

	for _, link := range []string{"hard link", "symbolic link to the directory"} {
		t.Run("one core file, "+link, func(t *testing.T) {
			root := trustDir(t)
			frontA, coreA := trustInstall(t, filepath.Join(root, "a"), builtCore(t))
			frontB, coreB := trustInstall(t, filepath.Join(root, "b"), "")
			var err error
			if link == "hard link" {
				if err = os.Mkdir(filepath.Dir(coreB), 0o755); err == nil {
					err = os.Link(coreA, coreB)
				}
			} else {
				err = os.Symlink(filepath.Dir(coreA), filepath.Dir(coreB))
			}
			if err != nil {
				t.Fatal(err)
			}
			svc := stack(frontA, frontB)
			logs.Collect()
			got := runTrustHost(t, nil, nil, u.Name, svc.Name)
			lines := moduleLines(logs.Collect())
			if got.one("open 1") != "0" || got.one("keyring 1") != userSes(u) || len(lines) != 0 {
				t.Errorf("open %q, keyring %q, log %q; want 0, %s and nothing logged",
					got.one("open 1"), got.one("keyring 1"), faultTexts(lines), userSes(u))
			}
			if m := got["mapped core"]; len(m) != 1 {
				t.Errorf("mapped cores %q; want one", m)
			}
			if n, err := strconv.Atoi(got.one("threads")); err != nil || n > 1+maxRuntimeThreads {
				t.Errorf("threads %q; want at most %d (one runtime)", got.one("threads"), 1+maxRuntimeThreads)
			}
		})
	}
}

// TestTrustJunkCore: a front whose core is a 3-byte file refuses it
// cleanly, alone or beside a front whose core loaded (before or after it),
// and the plain keyinit in C makes its keyring; the host lives on; nothing
// of the junk is mapped, and no other core is taken for it.
func TestTrustJunkCore(t *testing.T) {
	u := harness.TempUser(t)
	logs := harness.Log(t)
	junkFront := func(t *testing.T, root string) (string, string) {
		front, core := trustInstall(t, filepath.Join(root, "junk"), "")
		if err := os.Mkdir(filepath.Dir(core), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(core, []byte("abc"), 0o644); err != nil {
			t.Fatal(err)
		}
		return front, core
	}
	t.Run("alone", func(t *testing.T) {
		front, core := junkFront(t, trustDir(t))
		svc := harness.SystemService(t, "session required "+front+" force revoke\n")
		logs.Collect()
		got := runTrustHost(t, nil, nil, u.Name, svc.Name)
		madeInC(t, got, "1", u, moduleLines(logs.Collect()), "the Go core cannot be loaded (", core)
		if m := got["mapped core"]; len(m) != 0 {
			t.Errorf("mapped cores %q; want none", m)
		}
	})

	// Two transactions, one through each front: the junk one never maps
	// its core, before or after the good one loaded its own.
	for _, order := range []string{"after a loaded core", "before a loaded core"} {
		t.Run(order, func(t *testing.T) {
			root := trustDir(t)
			good, core := trustInstall(t, filepath.Join(root, "good"), builtCore(t))
			junk, junkCore := junkFront(t, root)
			goodSvc := harness.SystemService(t, "session required "+good+" force revoke\n")
			junkSvc := harness.SystemService(t, "session required "+junk+" force revoke\n")
			services, junkAt, why := []string{goodSvc.Name, junkSvc.Name}, "2", "already runs another Go core, "+core
			if order == "before a loaded core" {
				services, junkAt, why = []string{junkSvc.Name, goodSvc.Name}, "1", "the Go core cannot be loaded ("
			}
			logs.Collect()
			got := runTrustHost(t, nil, nil, append([]string{u.Name}, services...)...)
			madeInC(t, got, junkAt, u, moduleLines(logs.Collect()), why, junkCore)
			for _, i := range []string{"1", "2"} {
				if got.one("open "+i) != "0" || got.one("keyring "+i) != userSes(u) {
					t.Errorf("transaction %s: open %q, keyring %q; want 0 and %s", i, got.one("open "+i), got.one("keyring "+i), userSes(u))
				}
			}
			if m := got["mapped core"]; len(m) != 1 || m[0] != core {
				t.Errorf("mapped cores %q; want only %s", m, core)
			}
		})
	}
}

// TestTrustPluginByFdName: after a session loaded the core, the host
// dlopen()s a plugin of its own by /proc/self/fd/N, for every free N below
// 64, the fd numbers the front's own opens took and gave back: each time it
// gets its plugin, never an object loaded under such a name before.
func TestTrustPluginByFdName(t *testing.T) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		harness.Lacks(t, "gcc, to build a plugin")
	}
	u := harness.TempUser(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "plugin.c")
	if err := os.WriteFile(src, []byte("int plugin_id(void) { return 42; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(dir, "plugin.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", plugin, src).CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	svc := harness.SystemService(t, "session required "+harness.WorldReadableModule(t, harness.Module(t))+" force revoke\n")
	got := runTrustHost(t, nil, nil, u.Name, svc.Name, "--plugin", plugin)
	if got.one("open 1") != "0" || len(got["mapped core"]) != 1 {
		t.Fatalf("open %q, mapped cores %q; want 0 and the core loaded", got.one("open 1"), got["mapped core"])
	}
	if n, _ := strconv.Atoi(got.one("plugin tried")); n < 10 {
		t.Errorf("only %q fd numbers tried", got.one("plugin tried"))
	}
	if got.one("plugin wrong") != "0" {
		t.Errorf("dlopen of /proc/self/fd/N gave something else than the plugin %s times; the first: %s",
			got.one("plugin wrong"), got.one("first plugin problem"))
	}
}

// TestTrustAuxvAndEnvironKept: after open and close, the 16 bytes AT_RANDOM
// points to (glibc's stack protector and pointer guard come from them),
// environ and the environment block after argv are byte for byte what the
// host had, although that environment holds Go settings a runtime would
// read; and the runtime printed nothing.
func TestTrustAuxvAndEnvironKept(t *testing.T) {
	u := harness.TempUser(t)
	svc := harness.SystemService(t, "session required "+harness.WorldReadableModule(t, harness.Module(t))+" force revoke\n")
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"Go settings", []string{"GOMAXPROCS=5000", "GODEBUG=inittrace=1,schedtrace=20", "GOGC=1", "GOMEMLIMIT=1",
			"GOTRACEBACK=crash", "AAA_FIRST=1", "PATH=/usr/bin:/bin"}},
		{"empty environment", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runTrustHost(t, nil, tc.env, u.Name, svc.Name)
			if got.one("open 1") != "0" || got.one("keyring 1") != userSes(u) {
				t.Errorf("open %q, keyring %q; want 0 and %s", got.one("open 1"), got.one("keyring 1"), userSes(u))
			}
			for _, k := range []string{"at_random", "environ", "env block"} {
				if got.one(k) != "same" {
					t.Errorf("%s: %q; want same", k, got.one(k))
				}
			}
		})
	}
}
