package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"pam_keyinit_go/test/harness"
)

// These tests run build/test/pamhost (test/hosts/pamhost.c), a C program
// that calls libpam the way real hosts do around fork and threads, against a
// temporary service with our module in "force revoke" mode.

// hostService has the module in the auth stack (for setcred) and the session
// stack, both required so that every hook's code is the module's (an
// optional module's failure would hide behind pam_permit's success).
func hostService(t *testing.T, module string) harness.Service {
	return harness.SystemService(t, fmt.Sprintf(
		"auth required pam_permit.so\nauth required %s force revoke\nsession required %s force revoke\n",
		module, module))
}

// runHost runs one pattern under a deadline (a hang fails the test rather
// than the whole run) and returns its "name: value" lines.
func runHost(t *testing.T, args ...string) map[string]string {
	t.Helper()
	return runHostUnder(t, nil, args...)
}

// runHostUnder is runHost with pamhost started by a command prefix, such as
// "keyctl session -" for a host that has a session keyring of its own.
func runHostUnder(t *testing.T, prefix []string, args ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append(append(append([]string{}, prefix...), harness.Built(t, "test/pamhost")), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("pamhost %v hung: %s", args, out)
	}
	if err != nil {
		t.Fatalf("pamhost %v: %v\n%s%s", args, err, out, stderr.String())
	}
	got := make(map[string]string)
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		if name, value, ok := strings.Cut(s.Text(), ": "); ok {
			got[name] = value
		}
	}
	if got["done"] != "yes" {
		t.Fatalf("pamhost %v did not finish:\n%s", args, out)
	}
	t.Logf("pamhost %v:\n%s", args, out)
	return got
}

// expect checks named results; a value "user-keyring" means the user's _ses.
func expect(t *testing.T, got map[string]string, u harness.User, want map[string]string) {
	t.Helper()
	userKeyring := fmt.Sprintf("keyring;%d;%d;3f030000;_ses", u.UID, u.GID)
	for name, w := range want {
		g := got[name]
		switch w {
		case "user-keyring":
			if !strings.HasSuffix(g, " "+userKeyring) {
				t.Errorf("%s: %q; want the user's %s", name, g, userKeyring)
			}
		case "revoked":
			if !strings.HasSuffix(g, " revoked") {
				t.Errorf("%s: %q; want revoked", name, g)
			}
		default:
			if g != w {
				t.Errorf("%s: %q; want %q", name, g, w)
			}
		}
	}
}

// serialOf is the keyring serial at the start of a "SERIAL description" value.
func serialOf(v string) string { return strings.Fields(v + " ")[0] }

func TestHostSystemdClosesInForkedChild(t *testing.T) {
	u := harness.TempUser(t)
	svc := hostService(t, harness.Module(t))
	got := runHost(t, "systemd", svc.Name, u.Name)
	expect(t, got, u, map[string]string{
		"parent setcred establish":   "0",
		"parent open":                "0",
		"parent session":             "user-keyring",
		"child close":                "0",
		"child setcred delete":       "0",
		"child end":                  "0",
		"child exit":                 "0",
		"parent session after child": "revoked", // the child revoked it, from C
		"parent end":                 "0",
	})
}

// sudo -b calls pam_start in the parent and opens in a forked child. No
// session hook ran in the parent, so no Go runtime was started there: the
// child starts its own and makes the user's keyring, as pam_keyinit.so does.
func TestHostSudoBackgroundOpensInForkedChild(t *testing.T) {
	u := harness.TempUser(t)
	svc := hostService(t, harness.Module(t))
	got := runHost(t, "sudo-b", svc.Name, u.Name)
	expect(t, got, u, map[string]string{
		"child open":                "0",
		"child session":             "user-keyring",
		"child close":               "0",
		"child session after close": "revoked",
		"child end":                 "0",
		"child exit":                "0",
		"parent end":                "0",
	})
}

func TestHostSshdSetcredInPostAuthChild(t *testing.T) {
	u := harness.TempUser(t)
	svc := hostService(t, harness.Module(t))
	got := runHost(t, "sshd", svc.Name, u.Name)
	expect(t, got, u, map[string]string{
		"auth child authenticate":         "0",
		"auth child exit":                 "0",
		"parent setcred establish":        "0",
		"parent open":                     "0",
		"parent session":                  "user-keyring",
		"session child setcred establish": "0", // the handle already made one: no Go needed
		"session child session":           "user-keyring",
		"session child exit":              "0",
		"parent close":                    "0",
		"parent session after close":      "revoked",
		"parent end":                      "0",
	})
	if serialOf(got["session child session"]) != serialOf(got["parent session"]) {
		t.Errorf("the post-auth child has keyring %s; want the parent's %s",
			got["session child session"], got["parent session"])
	}
}

// sshd's post-auth child re-establishes credentials the parent settled
// without making a keyring: root, under a host with a session keyring of its
// own and no force, keeps it. The child must answer success from C, as
// pam_keyinit.so does when it decides the same again there, from the state
// its handle settled: silently, without running the plain keyinit again.
func TestHostSshdChildAfterParentKeptKeyring(t *testing.T) {
	svc := harness.SystemService(t, fmt.Sprintf(
		"auth required pam_permit.so\nauth required %s revoke\nsession required %s revoke\n",
		harness.Module(t), harness.Module(t)))
	logs := harness.Log(t)
	logs.Collect()
	got := runHostUnder(t, []string{"keyctl", "session", "-"}, "sshd", svc.Name, "root")
	if lines := harness.Matching(logs.Collect(), plainKeyinitSays); len(lines) != 0 {
		t.Errorf("the post-auth child ran the plain keyinit in C: %v; want it to answer from its handle's settled state, silently", lines)
	}
	expect(t, got, harness.User{}, map[string]string{
		"parent setcred establish":        "0",
		"parent open":                     "0",
		"session child setcred establish": "0",
		"session child exit":              "0",
		"parent end":                      "0",
	})
	// Kept, not made: with revoke, a keyring the module made would be
	// revoked at close; the host's own stays.
	if k := got["parent session after close"]; k != got["parent session"] || !strings.Contains(k, " keyring;0;0;") {
		t.Errorf("parent session %q, after close %q; want the host's own root keyring, kept and intact", got["parent session"], k)
	}
}

func TestHostLoginEndsHandleInChild(t *testing.T) {
	u := harness.TempUser(t)
	svc := hostService(t, harness.Module(t))
	got := runHost(t, "login", svc.Name, u.Name)
	expect(t, got, u, map[string]string{
		"parent open":                "0",
		"parent session":             "user-keyring",
		"child end":                  "0",
		"child session":              "user-keyring", // pam_end(PAM_DATA_SILENT) keeps it for the shell
		"child exit":                 "0",
		"parent close":               "0",
		"parent session after close": "revoked",
		"parent end":                 "0",
	})
}

// A child forked after its parent ran a session hook (so the parent's Go
// runtime is running) needs a keyring its handle has not made, for another
// user: Go cannot run there, so the plain keyinit in C makes that user's
// own _ses at once, with one LOG_WARNING line; the close revokes it; the
// parent's session is untouched. pam_keyinit.so keeps the parent's keyring
// there (its state is process-global).
func TestHostForkAfterSessionGetsItsOwnKeyring(t *testing.T) {
	u, other := harness.TempUser(t), harness.TempUser(t)
	svc := hostService(t, harness.Module(t))
	logs := harness.Log(t)
	logs.Collect()
	got := runHost(t, "fork-after-session", svc.Name, u.Name, other.Name)
	expect(t, got, u, map[string]string{
		"parent open":                "0",
		"parent session":             "user-keyring",
		"child exit":                 "0",
		"parent close":               "0",
		"parent session after close": "revoked",
		"parent end":                 "0",
	})
	expectLateSession(t, got, "child", other, logs.Collect(), svc.Name)
}

// expectLateSession checks the late session of a process where Go cannot
// run (pamhost's late_session): the user's own new _ses, revoked at close,
// made in C with one LOG_WARNING line that says why.
func expectLateSession(t *testing.T, got map[string]string, who string, u harness.User, entries []harness.Entry, service string) {
	t.Helper()
	expect(t, got, u, map[string]string{
		who + " start":               "0",
		who + " open":                "0",
		who + " session":             "user-keyring",
		who + " close":               "0",
		who + " session after close": "revoked",
		who + " end":                 "0",
	})
	faultOneLine(t, faultLines(entries, "pam_keyinit_go", service), logWarning,
		"made session keyring "+serialOf(got[who+" session"])+fmt.Sprintf(" for uid %d", u.UID), plainKeyinitSays,
		"was forked from process", "Go cannot run in such a fork")
}

// A container's init (pid 1) runs a session hook, then makes a child with a
// raw clone() into a new pid namespace: the child is pid 1 too and runs no
// atfork handler, so only the wipe-on-fork page tells it apart. It must not
// enter Go and hang: the plain keyinit in C makes its keyring.
func TestHostPidNamespaceCloneGetsItsOwnKeyring(t *testing.T) {
	u, other := harness.TempUser(t), harness.TempUser(t)
	svc := hostService(t, harness.Module(t))
	logs := harness.Log(t)
	logs.Collect()
	got := runHost(t, "pidns-clone", svc.Name, u.Name, other.Name)
	expect(t, got, u, map[string]string{
		"init pid":        "1",
		"init open":       "0",
		"grandchild pid":  "1",
		"grandchild exit": "0",
		"init close":      "0",
		"init exit":       "0",
	})
	expectLateSession(t, got, "grandchild", other, logs.Collect(), svc.Name)
}

func TestHostEarlyForkStartsOwnHandle(t *testing.T) {
	u := harness.TempUser(t)
	svc := hostService(t, harness.Module(t))
	got := runHost(t, "early-fork", svc.Name, u.Name)
	expect(t, got, u, map[string]string{
		"child start":                "0",
		"child open":                 "0", // no runtime in the parent yet: the child starts its own
		"child session":              "user-keyring",
		"child session after close":  "revoked",
		"child end":                  "0",
		"child exit":                 "0",
		"parent open":                "0", // the loading process is unaffected
		"parent session":             "user-keyring",
		"parent session after close": "revoked",
		"parent end":                 "0",
	})
}

// threadUsers makes one user per thread: 400 keyrings of one user, made
// faster than the kernel frees revoked ones, would hit its 200-key quota.
func threadUsers(t *testing.T) (names, uids string) {
	var n, i []string
	for k := 0; k < 8; k++ {
		u := harness.TempUser(t)
		n, i = append(n, u.Name), append(i, strconv.Itoa(int(u.UID)))
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

func TestHostThreadsEachGetTheirOwnKeyring(t *testing.T) {
	names, uids := threadUsers(t)
	ours := runHost(t, "threads", hostService(t, harness.Module(t)).Name, names, uids)
	for name, want := range map[string]string{
		"transactions":           "400",
		"failed calls":           "0",
		"keyring not new":        "0",
		"keyring not the user's": "0",
		"ids changed":            "0",
		"not revoked":            "0",
		"tasks ids equal":        "yes",
	} {
		if ours[name] != want {
			t.Errorf("our module, 8 threads x 50 transactions: %s = %s; want %s", name, ours[name], want)
		}
	}

	// The same against Debian's pam_keyinit.so, recorded for the README's
	// claim (Linux-PAM 1.5.2 keeps its state in globals and switches ids with
	// glibc's process-wide setreuid).
	c := runHost(t, "threads", hostService(t, harness.CModule(t)).Name, names, uids)
	if c["keyring not new"] == "0" && c["ids changed"] == "0" && c["not revoked"] == "0" {
		t.Errorf("pam_keyinit.so showed no thread-safety failure in this run; the README says it does: revisit the claim")
	}
	t.Logf("pam_keyinit.so, 8 threads x 50 transactions: failed calls %s, keyring not new %s, "+
		"not the user's %s, ids changed seen by a thread %s, not revoked %s, all threads' ids equal at the end: %s",
		c["failed calls"], c["keyring not new"], c["keyring not the user's"], c["ids changed"], c["not revoked"], c["tasks ids equal"])
}
