package test

// Faults and bad input (issue 4): each case gets a defined PAM code and one
// syslog line saying what to do, and leaves the ids of every thread, the
// open fds, the goroutines and the user's key quota as it found them.
//
// Not tested here: the check that the linked _uid.N belongs to the target
// user. Provoking it for real needs @u to resolve to another uid after the
// real uid switch succeeded, which the kernel does not do; it is unit tested
// against the fake kernel (keyinit TestOwnerCheckUnlinksAnotherUsersKeyring,
// TestOwnerCheckRevokesWhenUnlinkFails and FuzzSessionStateMachine).

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msteinert/pam/v2"
	"golang.org/x/sys/unix"

	"pam_keyinit_go/test/harness"
)

// faultLines are the entries a module logged for one service: ours are
// "pam_keyinit_go(SVC:", Linux-PAM's "pam_keyinit(SVC:".
func faultLines(entries []harness.Entry, module, service string) []harness.Entry {
	return harness.Matching(entries, module+"("+service+":")
}

// faultPamConvErr is PAM_CONV_ERR, what pam_get_user returns when the
// conversation fails.
const faultPamConvErr = 19

// closeAfterFailedOpen is what pam_close_session returns after the open
// failed: libpam replays the open's failure from its frozen chain for a
// "required" module (PAM_PERM_DENIED), whatever the module returns.
const closeAfterFailedOpen = pamPermDenied

// faultOneLine asserts that entries hold exactly one line, at severity
// sev and facility authpriv, containing every one of parts; it returns it.
func faultOneLine(t *testing.T, entries []harness.Entry, sev int, parts ...string) string {
	t.Helper()
	if len(entries) != 1 {
		t.Errorf("log lines = %q; want exactly one", faultTexts(entries))
		return ""
	}
	e := entries[0]
	if e.Severity() != sev || e.Facility() != logAuthpriv {
		t.Errorf("log line %q at facility %d severity %d; want authpriv (%d) and %d", e.Text, e.Facility()>>3, e.Severity(), logAuthpriv>>3, sev)
	}
	for _, p := range parts {
		if !strings.Contains(e.Text, p) {
			t.Errorf("log line %q does not contain %q", e.Text, p)
		}
	}
	return e.Text
}

func faultTexts(entries []harness.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("<%d> %s", e.Priority, e.Text))
	}
	return out
}

// faultUser is a temporary user whose persistent keyrings exist already, so
// that its key quota use is the baseline every case must come back to.
func faultUser(t *testing.T) harness.User {
	t.Helper()
	u := harness.TempUser(t)
	harness.EnsureUserKeyrings(t, u)
	return u
}

var glibcSyslogOnce sync.Once

// faultInvariants takes the invariants after one in-process transaction
// has logged: glibc's syslog(3) keeps its /dev/log socket open from the
// first message on, which is not a leak.
func faultInvariants(t *testing.T, u harness.User) harness.Invariants {
	t.Helper()
	glibcSyslogOnce.Do(func() {
		keys := harness.KeyUsage(u.UID)
		svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke kig-warm-up"))
		transaction(t, svc, u.Name, func(tx *pam.Transaction) { tx.OpenSession(0); tx.CloseSession(0) })
		if got := harness.WaitKeyUsage(u.UID, keys); got != keys {
			t.Fatalf("warm-up session left a key: use %q, was %q", got, keys)
		}
	})
	return harness.TakeInvariants(t, u)
}

// faultScenarioCodes are the codes of a scenario's steps, "end" included, and
// fails the test unless the ids after each step are wantIDs.
func faultScenarioCodes(t *testing.T, res []stepResult, wantIDs string) []int {
	t.Helper()
	var codes []int
	for _, r := range res {
		codes = append(codes, r.Code)
		if r.IDs != wantIDs {
			t.Errorf("after %s: ids %q; want %q", r.Step, r.IDs, wantIDs)
		}
	}
	return codes
}

func faultSameCodes(a, b []int) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestFaultNoKeyringSupport: keyctl fails with ENOSYS (seccomp filter in the
// scenario process only). Ours: PAM_SUCCESS with and without force, one
// LOG_NOTICE. pam_keyinit.so: PAM_SUCCESS without force, PAM_SESSION_ERR
// with force (the documented difference).
func TestFaultNoKeyringSupport(t *testing.T) {
	seccomp := harness.Built(t, "test/seccomp_run")
	u := faultUser(t)
	logs := harness.Log(t)
	inv := faultInvariants(t, u)
	for _, tc := range []struct {
		options     string
		ours, their []int // open, close, end
	}{
		{"", []int{0, 0, 0}, []int{0, 0, 0}},
		{"revoke", []int{0, 0, 0}, []int{0, 0, 0}},
		{"force", []int{0, 0, 0}, []int{pamSessionErr, closeAfterFailedOpen, 0}},
		{"force revoke", []int{0, 0, 0}, []int{pamSessionErr, closeAfterFailedOpen, 0}},
	} {
		t.Run("options="+tc.options, func(t *testing.T) {
			defer faultInvariants(t, u).Check(t, "after this case")
			ours := harness.ConfDirService(t, stack(harness.Module(t), tc.options))
			theirs := harness.ConfDirService(t, stack(harness.CModule(t), tc.options))
			logs.Collect()
			steps := []string{"open", "close"}
			got := faultScenarioCodes(t, runScenario(t, []string{seccomp, "ENOSYS"}, scenario{Service: ours.Name, ConfDir: ours.Dir, User: u.Name, Steps: steps}), rootIDs)
			entries := logs.Collect()
			if !faultSameCodes(got, tc.ours) {
				t.Errorf("ours under ENOSYS: open, close, end = %v; want %v", got, tc.ours)
			}
			line := faultOneLine(t, faultLines(entries, "pam_keyinit_go", ours.Name), logNotice,
				"keyctl: ENOSYS", "session continues without a session keyring")
			t.Logf("ours %q: codes %v, log %q", tc.options, got, line)

			c := faultScenarioCodes(t, runScenario(t, []string{seccomp, "ENOSYS"}, scenario{Service: theirs.Name, ConfDir: theirs.Dir, User: u.Name, Steps: steps}), rootIDs)
			if !faultSameCodes(c, tc.their) {
				t.Errorf("pam_keyinit.so under ENOSYS: open, close, end = %v; want %v (the documented difference)", c, tc.their)
			}
			t.Logf("pam_keyinit.so %q: codes %v, log %q", tc.options, c, faultTexts(faultLines(logs.Collect(), "pam_keyinit", theirs.Name)))
		})
	}
	inv.Check(t, "after the ENOSYS cases")
}

// TestFaultKeyctlDenied: keyctl fails with EPERM or EACCES (a seccomp or
// LSM policy): PAM_SESSION_ERR and one LOG_ERR line saying what to do.
func TestFaultKeyctlDenied(t *testing.T) {
	seccomp := harness.Built(t, "test/seccomp_run")
	u := faultUser(t)
	logs := harness.Log(t)
	inv := faultInvariants(t, u)
	for _, errno := range []string{"EPERM", "EACCES"} {
		for _, options := range []string{"", "force revoke"} {
			t.Run(errno+"/options="+options, func(t *testing.T) {
				defer faultInvariants(t, u).Check(t, "after this case")
				ours := harness.ConfDirService(t, stack(harness.Module(t), options))
				logs.Collect()
				steps := []string{"open", "close"}
				got := faultScenarioCodes(t, runScenario(t, []string{seccomp, errno}, scenario{Service: ours.Name, ConfDir: ours.Dir, User: u.Name, Steps: steps}), rootIDs)
				if want := []int{pamSessionErr, closeAfterFailedOpen, 0}; !faultSameCodes(got, want) {
					t.Errorf("ours under %s: open, close, end = %v; want %v", errno, got, want)
				}
				msg := map[string]string{"EPERM": "operation not permitted", "EACCES": "permission denied"}[errno]
				what := "join a new session keyring"
				if options == "" {
					what = "get the session keyring"
				}
				line := faultOneLine(t, faultLines(logs.Collect(), "pam_keyinit_go", ours.Name), logErr,
					fmt.Sprintf("Unable to %s for uid %d: %s; keyctl was denied", what, u.UID, msg),
					"allow keyctl(2) for this service, or remove pam_keyinit_go from its stack")
				t.Logf("ours %s %q: codes %v, log %q", errno, options, got, line)

				if errno != "EPERM" {
					return
				}
				theirs := harness.ConfDirService(t, stack(harness.CModule(t), options))
				c := faultScenarioCodes(t, runScenario(t, []string{seccomp, errno}, scenario{Service: theirs.Name, ConfDir: theirs.Dir, User: u.Name, Steps: steps}), rootIDs)
				if want := []int{pamSessionErr, closeAfterFailedOpen, 0}; !faultSameCodes(c, want) {
					t.Errorf("pam_keyinit.so under %s: open, close, end = %v; want %v", errno, c, want)
				}
				t.Logf("pam_keyinit.so %s %q: codes %v, log %q", errno, options, c, faultTexts(faultLines(logs.Collect(), "pam_keyinit", theirs.Name)))
			})
		}
	}
	inv.Check(t, "after the denied cases")
}

// TestFaultQuotaExhausted fills the user's own key quota (keys made by root
// and given to the user with KEYCTL_CHOWN, which charges the new owner), so
// no global sysctl changes: open and setcred fail with one LOG_ERR line
// naming kernel.keys.maxkeys and the user's use.
func TestFaultQuotaExhausted(t *testing.T) {
	u := faultUser(t)
	logs := harness.Log(t)
	inv := faultInvariants(t, u)
	svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke"))
	harness.OnNewThread(func() {
		// The filler keys hang off this thread's session keyring and go
		// with it when the thread ends.
		filler, err := unix.KeyctlJoinSessionKeyring("kig-quota-filler")
		if err != nil {
			t.Errorf("join a filler keyring: %v", err)
			return
		}
		defer unix.KeyctlInt(unix.KEYCTL_CLEAR, filler, 0, 0, 0)
		n := 0
		for ; n < 100000; n++ {
			k, err := unix.AddKey("user", "kig-fill-"+strconv.Itoa(n), []byte("x"), filler)
			if err != nil {
				t.Errorf("add filler key %d: %v", n, err)
				return
			}
			if _, err := unix.KeyctlInt(unix.KEYCTL_CHOWN, k, int(u.UID), -1, 0); err != nil {
				unix.KeyctlInt(unix.KEYCTL_UNLINK, k, filler, 0, 0)
				if !errors.Is(err, unix.EDQUOT) {
					t.Errorf("chown filler key %d to uid %d: %v", n, u.UID, err)
					return
				}
				break
			}
		}
		use := harness.KeyUsage(u.UID)
		t.Logf("gave uid %d %d keys; its use is now %s", u.UID, n, use)
		if use == "" {
			t.Errorf("uid %d owns no keys after the filling", u.UID)
			return
		}

		tx, err := pam.StartConfDir(svc.Name, u.Name, pam.ConversationFunc(noConversation), svc.Dir)
		if err != nil {
			t.Errorf("pam_start: %v", err)
			return
		}
		defer tx.End()
		before := threadIDs()
		logs.Collect()
		for _, hook := range []struct {
			name string
			call func() error
			want int
		}{
			{"open_session", func() error { return tx.OpenSession(0) }, pamSessionErr},
			{"setcred(ESTABLISH)", func() error { return tx.SetCred(pam.EstablishCred) }, pamCredErr},
		} {
			if got := code(hook.call()); got != hook.want {
				t.Errorf("%s with a full key quota = %d; want %d", hook.name, got, hook.want)
			}
			checkIDsUnchanged(t, before, "after "+hook.name)
			line := faultOneLine(t, harness.Matching(logs.Collect(), "pam_keyinit_go("+svc.Name+":"), logErr,
				fmt.Sprintf("Unable to join a new session keyring for uid %d: disk quota exceeded; the key quota of uid %d is full (uses %s)", u.UID, u.UID, use),
				"raise kernel.keys.maxkeys / kernel.keys.maxbytes")
			t.Logf("EDQUOT %s: code %d, log %q", hook.name, hook.want, line)
		}
		if k := harness.Describe(harness.SessionKeyring); k.Serial != filler {
			t.Errorf("after the failed open the session keyring is %v; want the filler %d kept", k, filler)
		}
		if got := code(tx.CloseSession(0)); got != closeAfterFailedOpen {
			t.Errorf("close after the failed open = %d; want %d", got, closeAfterFailedOpen)
		}
	})
	inv.Check(t, "after the quota case (filler keys freed)")
}

// TestFaultNonRootCaller: the id switch fails for a caller that is not
// root; the session fails cleanly and no id changes. In-process (a thread
// whose ids are all nobody's) and through pamtester run as nobody.
func TestFaultNonRootCaller(t *testing.T) {
	u := faultUser(t)
	logs := harness.Log(t)
	inv := faultInvariants(t, u)
	t.Run("in-process thread", func(t *testing.T) {
		defer faultInvariants(t, u).Check(t, "after this case")
		svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke"))
		logs.Collect()
		harness.OnNewThread(func() {
			tx, err := pam.StartConfDir(svc.Name, u.Name, pam.ConversationFunc(noConversation), svc.Dir)
			if err != nil {
				t.Errorf("pam_start: %v", err)
				return
			}
			// Drop this thread (only) to nobody for good; it dies afterwards.
			if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, 65534, 65534, 65534); e != 0 {
				t.Errorf("setresgid: %v", e)
				return
			}
			if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, 65534, 65534, 65534); e != 0 {
				t.Errorf("setresuid: %v", e)
				return
			}
			before := threadIDs()
			if got := code(tx.OpenSession(0)); got != pamSessionErr {
				t.Errorf("open as nobody = %d; want PAM_SESSION_ERR", got)
			}
			if got := code(tx.SetCred(pam.EstablishCred)); got != pamCredErr {
				t.Errorf("setcred(ESTABLISH) as nobody = %d; want PAM_CRED_ERR", got)
			}
			if got := code(tx.CloseSession(0)); got != closeAfterFailedOpen {
				t.Errorf("close as nobody = %d; want %d", got, closeAfterFailedOpen)
			}
			checkIDsUnchanged(t, before, "after the hooks as nobody")
			if err := tx.End(); err != nil {
				t.Errorf("pam_end: %v", err)
			}
		})
		lines := faultLines(logs.Collect(), "pam_keyinit_go", svc.Name)
		want := fmt.Sprintf("Unable to change GID to %d temporarily: operation not permitted", u.GID)
		if len(lines) != 2 || len(harness.Matching(lines, want)) != 2 {
			t.Errorf("log = %q; want one line per hook (open, setcred) with %q", faultTexts(lines), want)
		}
		for _, l := range lines {
			if l.Severity() != logErr {
				t.Errorf("%q at severity %d; want LOG_ERR", l.Text, l.Severity())
			}
		}
		if len(lines) > 0 {
			t.Logf("non-root caller: open %d, setcred %d, log %q", pamSessionErr, pamCredErr, lines[0].Text)
		}
	})
	t.Run("pamtester as nobody", func(t *testing.T) {
		defer faultInvariants(t, u).Check(t, "after this case")
		// nobody must be able to reach the module, wherever the checkout is.
		module := harness.WorldReadableModule(t, harness.Module(t))
		svc := harness.SystemService(t, "session required "+module+" force revoke\n")
		logs.Collect()
		out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"pamtester", svc.Name, u.Name, "open_session").CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "Cannot make/remove an entry for the specified session") {
			t.Errorf("pamtester as nobody: %v: %s; want exit 1 with PAM_SESSION_ERR's message", err, out)
		}
		line := faultOneLine(t, faultLines(logs.Collect(), "pam_keyinit_go", svc.Name), logErr,
			fmt.Sprintf("pamtester: pam_keyinit_go(%s:session): Unable to change GID to %d temporarily: operation not permitted", svc.Name, u.GID))
		t.Logf("pamtester as nobody: PAM_SESSION_ERR, log %q", line)
	})
	inv.Check(t, "after the non-root cases")
}

// TestFaultUserName: unknown user, empty user name, and pam_get_user
// failing because the conversation fails.
func TestFaultUserName(t *testing.T) {
	u := faultUser(t)
	logs := harness.Log(t)
	inv := faultInvariants(t, u)
	svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke"))
	for _, tc := range []struct {
		name     string
		user     string // "" makes pam_get_user ask the conversation
		conv     pam.ConversationFunc
		want     int
		wantLine string
	}{
		{"unknown user", "kig-no-such-user", noConversation, pamUserUnknown, `Unable to look up user "kig-no-such-user"`},
		{"empty user name", "", func(pam.Style, string) (string, error) { return "", nil }, pamUserUnknown, `Unable to look up user ""`},
		{"conversation fails", "", noConversation, faultPamConvErr, "Unable to get the user name: pam_get_user returned PAM code 19;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer faultInvariants(t, u).Check(t, "after this case")
			logs.Collect()
			harness.OnNewThread(func() {
				tx, err := pam.StartConfDir(svc.Name, tc.user, tc.conv, svc.Dir)
				if err != nil {
					t.Errorf("pam_start: %v", err)
					return
				}
				defer tx.End()
				before := threadIDs()
				if got := code(tx.OpenSession(0)); got != tc.want {
					t.Errorf("open = %d; want %d", got, tc.want)
				}
				checkIDsUnchanged(t, before, "after open")
				if got := code(tx.CloseSession(0)); got != closeAfterFailedOpen {
					t.Errorf("close = %d; want %d", got, closeAfterFailedOpen)
				}
			})
			ours := faultLines(logs.Collect(), "pam_keyinit_go", svc.Name)
			sev := logNotice
			if tc.want == faultPamConvErr {
				sev = logErr
			}
			line := faultOneLine(t, ours, sev, tc.wantLine)
			t.Logf("%s: code %d, log %q", tc.name, tc.want, line)
		})
	}
	inv.Check(t, "after the user name cases")
}

// TestFaultBadArguments: odd module arguments end to end through libpam's
// config parser: one LOG_ERR line naming them when the session opens (close
// reads no options: it acts on what open recorded), and the session works as
// with the known options alone.
func TestFaultBadArguments(t *testing.T) {
	u := faultUser(t)
	logs := harness.Log(t)
	inv := faultInvariants(t, u)
	var many []string
	for i := 0; i < 500; i++ {
		many = append(many, "opt"+strconv.Itoa(i))
	}
	for _, tc := range []struct {
		name string
		args string
		want string
	}{
		{"force=1", "force=1 Revoke", `ignoring unknown options "force=1", "Revoke"; valid options are debug, force and revoke: fix the module line in /etc/pam.d`},
		{"empty string", "[]", `ignoring unknown option ""; valid options`},
		// libpam 1.5.2 cuts pam.d lines at 1024 bytes: the module gets
		// what fits (4 KiB and 500 arguments reach it in the unit tests).
		{"4 KiB argument", strings.Repeat("A", 4096), `ignoring unknown option "` + strings.Repeat("A", 48) + `"... (`},
		{"500 arguments", strings.Join(many, " "), `ignoring unknown options "opt0", "opt1", "opt2", "opt3" (and `},
		{"non-UTF-8 bytes", "\xff\xfe caf\xc3 \x1b[31m", `ignoring unknown options "\xff\xfe", "caf\xc3", "\x1b[31m"; valid options`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer faultInvariants(t, u).Check(t, "after this case")
			svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke "+tc.args))
			logs.Collect()
			var opened, closed, others []harness.Entry
			transaction(t, svc, u.Name, func(tx *pam.Transaction) {
				before := threadIDs()
				if err := tx.OpenSession(0); err != nil {
					t.Errorf("open_session: %v", err)
					return
				}
				all := logs.Collect()
				opened = faultLines(all, "pam_keyinit_go", svc.Name)
				others = harness.Matching(all, "PAM (")
				made := checkSessionKeyring(t, u)
				if err := tx.CloseSession(0); err != nil {
					t.Errorf("close_session: %v", err)
				}
				closed = faultLines(logs.Collect(), "pam_keyinit_go", svc.Name)
				if k := harness.Describe(made.Serial); !k.Revoked {
					t.Errorf("revoke was not applied next to the bad arguments: %v", k)
				}
				checkIDsUnchanged(t, before, "after close")
			})
			line := faultOneLine(t, opened, logErr, tc.want, "; valid options are debug, force and revoke: fix the module line in /etc/pam.d")
			if len(closed) != 0 {
				t.Errorf("close logged %q; want nothing (the options were reported at open)", faultTexts(closed))
			}
			t.Logf("%s: open PAM_SUCCESS, log %q; libpam's own config parser complaints: %d", tc.name, line, len(others))
		})
	}
	inv.Check(t, "after the bad argument cases")
}

// TestFaultRevokeOfAKeyringAlreadyGone: close with revoke when the keyring
// was revoked by someone else, replaced and still linked elsewhere, or
// destroyed; close without open; open after a revoking close on the same
// thread with a new handle.
func TestFaultRevokeOfAKeyringAlreadyGone(t *testing.T) {
	u := faultUser(t)
	logs := harness.Log(t)
	inv := faultInvariants(t, u)
	svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke"))
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, serial int) // between open and close
		check  func(t *testing.T, serial int) // after close
	}{
		{"already revoked", func(t *testing.T, serial int) {
			if _, err := unix.KeyctlInt(unix.KEYCTL_REVOKE, serial, 0, 0, 0); err != nil {
				t.Errorf("revoke %d: %v", serial, err)
			}
		}, nil},
		{"unlinked from the thread, linked elsewhere", func(t *testing.T, serial int) {
			// Keep it in a keyring in this thread's thread keyring, so the
			// thread still possesses it, then replace the session keyring.
			holder, err := unix.AddKey("keyring", "kig-holder", nil, unix.KEY_SPEC_THREAD_KEYRING)
			if err == nil {
				_, err = unix.KeyctlInt(unix.KEYCTL_LINK, serial, holder, 0, 0)
			}
			if err == nil {
				_, err = unix.KeyctlJoinSessionKeyring("kig-other")
			}
			if err != nil {
				t.Errorf("move %d under a holder keyring: %v", serial, err)
			}
		}, func(t *testing.T, serial int) {
			if k := harness.Describe(serial); !k.Revoked {
				t.Errorf("keyring %d, no longer the thread's session keyring, is %v after close; want revoked", serial, k)
			}
			if k := harness.Describe(harness.SessionKeyring); k.Name != "kig-other" || k.Revoked {
				t.Errorf("close touched the thread's other keyring: %v", k)
			}
		}},
		{"gone", func(t *testing.T, serial int) {
			if _, err := unix.KeyctlJoinSessionKeyring("kig-other"); err != nil {
				t.Errorf("join another keyring: %v", err)
			}
			// Its last reference went with the thread's old credentials;
			// the key garbage collector destroys it shortly.
			if k := faultWaitKeyGone(serial); k.Err == nil || !errors.Is(k.Err, unix.ENOKEY) {
				t.Errorf("keyring %d still there after it lost its last reference: %v", serial, k)
			}
		}, func(t *testing.T, serial int) {
			if k := harness.Describe(harness.SessionKeyring); k.Name != "kig-other" || k.Revoked {
				t.Errorf("close touched the thread's other keyring: %v", k)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer faultInvariants(t, u).Check(t, "after this case")
			logs.Collect()
			transaction(t, svc, u.Name, func(tx *pam.Transaction) {
				if serial := faultOpenThenClose(t, tx, u, tc.break_); serial != 0 && tc.check != nil {
					tc.check(t, serial)
				}
			})
			if lines := faultLines(logs.Collect(), "pam_keyinit_go", svc.Name); len(lines) != 0 {
				t.Errorf("log = %q; want nothing (nothing is left to revoke)", faultTexts(lines))
			}
			t.Logf("%s: close PAM_SUCCESS, no log line", tc.name)
		})
	}

	inv.Check(t, "after the revoke cases")
}

// faultOpenThenClose opens a session, runs between on the keyring it made,
// and closes: close succeeds and leaves the thread's ids as they were. It
// returns the keyring's serial, 0 if the open failed.
func faultOpenThenClose(t *testing.T, tx *pam.Transaction, u harness.User, between func(t *testing.T, serial int)) int {
	t.Helper()
	before := threadIDs()
	if err := tx.OpenSession(0); err != nil {
		t.Errorf("open_session: %v", err)
		return 0
	}
	made := checkSessionKeyring(t, u)
	between(t, made.Serial)
	if got := code(tx.CloseSession(0)); got != pamSuccess {
		t.Errorf("close = %d; want PAM_SUCCESS", got)
	}
	checkIDsUnchanged(t, before, "after close")
	return made.Serial
}

// TestFaultRevokeNotPossessed: the host replaced the session keyring before
// closing and keeps the old one where the thread cannot reach it: the
// kernel refuses the revoke (its owner may only view and read it), and the
// close says so in one line, and still succeeds.
func TestFaultRevokeNotPossessed(t *testing.T) {
	u := faultUser(t)
	logs := harness.Log(t)
	svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke"))
	defer faultInvariants(t, u).Check(t, "after this case")
	// Another thread keeps a keyring in its thread keyring, writable by
	// root; the session keyring is linked there and then replaced on
	// the transaction thread, so that thread no longer possesses it and
	// its owner has only view and read: the kernel refuses the revoke.
	holderCh, release := make(chan int), make(chan struct{})
	go harness.OnNewThread(func() {
		h, err := unix.AddKey("keyring", "kig-holder", nil, unix.KEY_SPEC_THREAD_KEYRING)
		if err == nil {
			err = unix.KeyctlSetperm(h, 0x3f3f0000)
		}
		if err != nil {
			t.Errorf("holder keyring: %v", err)
		}
		holderCh <- h
		<-release
	})
	holder := <-holderCh
	defer close(release)
	logs.Collect()
	transaction(t, svc, u.Name, func(tx *pam.Transaction) {
		faultOpenThenClose(t, tx, u, func(t *testing.T, serial int) {
			if _, err := unix.KeyctlInt(unix.KEYCTL_LINK, serial, holder, 0, 0); err != nil {
				t.Errorf("link into the holder: %v", err)
			}
			if _, err := unix.KeyctlJoinSessionKeyring("kig-other"); err != nil {
				t.Errorf("join another keyring: %v", err)
			}
		})
		if k := harness.Describe(harness.SessionKeyring); k.Name != "kig-other" || k.Revoked {
			t.Errorf("close touched the thread's other keyring: %v", k)
		}
	})
	line := faultOneLine(t, faultLines(logs.Collect(), "pam_keyinit_go", svc.Name), logErr,
		fmt.Sprintf("for uid %d: it is no longer this thread's session keyring, and only its possessor may revoke it", u.UID))
	t.Logf("unlinked, not possessed: close PAM_SUCCESS, log %q", line)
}

// TestFaultCloseWithoutOpen: close and setcred(DELETE) on a handle that made
// nothing touch nothing and log nothing.
func TestFaultCloseWithoutOpen(t *testing.T) {
	u := faultUser(t)
	logs := harness.Log(t)
	svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke"))
	defer faultInvariants(t, u).Check(t, "after this case")
	logs.Collect()
	transaction(t, svc, u.Name, func(tx *pam.Transaction) {
		own, err := unix.KeyctlJoinSessionKeyring("kig-own")
		if err != nil {
			t.Errorf("join: %v", err)
			return
		}
		before := threadIDs()
		if got := code(tx.CloseSession(0)); got != pamSuccess {
			t.Errorf("close without open = %d; want PAM_SUCCESS", got)
		}
		if got := code(tx.SetCred(pam.DeleteCred)); got != pamPermDenied {
			t.Errorf("setcred(DELETE) without open = %d; want %d (the module ignores it)", got, pamPermDenied)
		}
		checkIDsUnchanged(t, before, "after close")
		if k := harness.Describe(harness.SessionKeyring); k.Serial != own || k.Revoked {
			t.Errorf("close without open changed the session keyring: %v", k)
		}
	})
	if lines := faultLines(logs.Collect(), "pam_keyinit_go", svc.Name); len(lines) != 0 {
		t.Errorf("log = %q; want nothing", faultTexts(lines))
	}
	t.Logf("close without open: PAM_SUCCESS, no log line")
}

// TestFaultOpenAfterRevokingClose: a second handle on the thread whose
// keyring a first one revoked gets a new keyring without force
// (pam_keyinit.so fails it).
func TestFaultOpenAfterRevokingClose(t *testing.T) {
	u := faultUser(t)
	logs := harness.Log(t)
	defer faultInvariants(t, u).Check(t, "after this case")
	noForce := harness.ConfDirService(t, stack(harness.Module(t), "revoke"))
	logs.Collect()
	harness.OnNewThread(func() {
		var made [2]int
		for i := range made {
			tx, err := pam.StartConfDir(noForce.Name, u.Name, pam.ConversationFunc(noConversation), noForce.Dir)
			if err != nil {
				t.Errorf("pam_start: %v", err)
				return
			}
			if err := tx.OpenSession(0); err != nil {
				t.Errorf("open %d: %v (pam_keyinit.so fails the second open)", i+1, err)
			}
			made[i] = checkSessionKeyring(t, u).Serial
			tx.CloseSession(0)
			tx.End()
			if k := harness.Describe(made[i]); !k.Revoked {
				t.Errorf("close %d: keyring %v; want revoked", i+1, k)
			}
		}
		if made[0] == made[1] {
			t.Errorf("the second open kept the revoked keyring %d", made[0])
		}
	})
	if lines := faultLines(logs.Collect(), "pam_keyinit_go", noForce.Name); len(lines) != 0 {
		t.Errorf("log = %q; want nothing", faultTexts(lines))
	}
	t.Logf("open after a revoking close: PAM_SUCCESS, a new keyring, no log line")
}

func faultWaitKeyGone(serial int) harness.Key {
	var k harness.Key
	for i := 0; i < 500; i++ {
		if k = harness.Describe(serial); errors.Is(k.Err, unix.ENOKEY) {
			return k
		}
		unix.Nanosleep(&unix.Timespec{Nsec: 10e6}, nil)
	}
	return k
}

// TestFaultPanicInGoCode: a panic inside open_session (test-only module
// build with a hook in JoinAnonymous, called with the real ids switched)
// becomes PAM_SESSION_ERR with one LOG_ERR line; the host lives on and the
// ids are restored. The installed module has no such hook.
func TestFaultPanicInGoCode(t *testing.T) {
	u := faultUser(t)
	logs := harness.Log(t)
	inv := faultInvariants(t, u)
	panicky := harness.Built(t, "test/panic/pam_keyinit_go.so") // the front, with the panicking core beside it

	t.Run("panic module", func(t *testing.T) {
		defer faultInvariants(t, u).Check(t, "after this case")
		svc := harness.ConfDirService(t, stack(panicky, "force revoke kig_test_panic"))
		logs.Collect()
		core := harness.Built(t, "test/panic/pam_keyinit_go/core.so")
		res := runScenario(t, nil, scenario{Service: svc.Name, ConfDir: svc.Dir, User: u.Name, Steps: []string{"open", "open", "close"}, Core: core})
		got := faultScenarioCodes(t, res, rootIDs)
		if want := []int{pamSessionErr, pamSessionErr, closeAfterFailedOpen, pamSuccess}; !faultSameCodes(got, want) {
			t.Errorf("open, open, close, end = %v; want %v (the host survives each panic)", got, want)
		}
		// Each panic is recovered on the calling thread: the module's own
		// runtime has as many goroutines after the second as after the first.
		if len(res) < 2 || res[0].Goroutines <= 0 || res[1].Goroutines != res[0].Goroutines {
			t.Errorf("goroutines in the module after each open: %+v; want the same, counted", res)
		}
		for _, r := range res {
			if strings.Contains(r.Session, `"_ses"`) {
				t.Errorf("after %s the session keyring is %s; the panic came before any join", r.Step, r.Session)
			}
		}
		lines := faultLines(logs.Collect(), "pam_keyinit_go", svc.Name)
		var errs []harness.Entry
		for _, l := range lines {
			if strings.Contains(l.Text, "internal error, please report it: kig_test_panic: test-only panic in JoinAnonymous") && l.Severity() == logErr {
				errs = append(errs, l)
			}
		}
		if len(errs) != 2 || len(lines) != 2 {
			t.Errorf("log = %q; want one internal-error line per open, and nothing else", faultTexts(lines))
		}
		if len(errs) > 0 {
			t.Logf("panic: open PAM_SESSION_ERR, log %q", errs[0].Text)
		}
	})

	t.Run("installed module has no hook", func(t *testing.T) {
		defer faultInvariants(t, u).Check(t, "after this case")
		for _, c := range []struct {
			path string
			want bool
		}{{harness.Built(t, "test/panic/pam_keyinit_go/core.so"), true}, {harness.Built(t, "pam_keyinit_go/core.so"), false}} {
			b, err := os.ReadFile(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if has := strings.Contains(string(b), "kig_test_panic"); has != c.want {
				t.Errorf("%s contains the hook's option string: %t; want %t", c.path, has, c.want)
			}
		}
		svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke kig_test_panic"))
		logs.Collect()
		transaction(t, svc, u.Name, func(tx *pam.Transaction) {
			if err := tx.OpenSession(0); err != nil {
				t.Errorf("open with the production module: %v", err)
			}
			checkSessionKeyring(t, u)
			tx.CloseSession(0)
		})
		lines := faultLines(logs.Collect(), "pam_keyinit_go", svc.Name)
		if len(lines) != 1 || len(harness.Matching(lines, `ignoring unknown option "kig_test_panic"`)) != 1 {
			t.Errorf("log = %q; want the option named as unknown at open", faultTexts(lines))
		}
	})
	inv.Check(t, "after the panic cases")
}

// TestFaultSoak runs 10,000 full pam_start/open/close/pam_end transactions
// with "force revoke" in one process (build/test/soak, a C host, so that
// the Go test process's own memory does not blur the measure), after 1,000
// to warm up: no failure, resident memory growth under 1 MiB, the same
// open fds as before and as with pam_permit.so alone (the module leaves no
// descriptor open in its host), and the user's key quota use back where it
// started.
func TestFaultSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	driver := harness.Built(t, "test/soak")
	u := faultUser(t)
	inv := faultInvariants(t, u)
	keys := harness.KeyUsage(u.UID)
	run := func(body string, warmUp, count int) map[string]string {
		svc := harness.ConfDirService(t, body)
		out, err := exec.Command(driver, svc.Dir, svc.Name, u.Name, strconv.Itoa(int(u.UID)),
			strconv.Itoa(warmUp), strconv.Itoa(count)).CombinedOutput()
		if err != nil {
			t.Fatalf("soak: %v: %s", err, out)
		}
		res := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if k, v, ok := strings.Cut(l, ": "); ok {
				res[k] = v
			}
		}
		return res
	}
	num := func(res map[string]string, k string) int {
		n, err := strconv.Atoi(res[k])
		if err != nil {
			t.Fatalf("soak printed %s: %q", k, res[k])
		}
		return n
	}

	start := time.Now()
	res := run(stack(harness.Module(t), "force revoke"), 1000, 10000)
	elapsed := time.Since(start)
	permit := run("session required pam_permit.so\n", 10, 10)
	growth := num(res, "rss_end_kb") - num(res, "rss_warm_kb")
	t.Logf("soak: 10000 transactions (after 1000 warm-up) in %v, %s pauses for the key garbage collector; failures %s; "+
		"RSS %s -> %s KiB (%+d KiB); fds %s -> %s (pam_permit.so alone: %s)",
		elapsed.Round(time.Millisecond), res["pauses"], res["failures"], res["rss_warm_kb"], res["rss_end_kb"], growth,
		res["fds_warm"], res["fds_end"], permit["fds_end"])
	if num(res, "failures") != 0 {
		t.Errorf("%s of 11000 transactions failed; first: %s", res["failures"], res["first_failure"])
	}
	if growth >= 1024 {
		t.Errorf("resident memory grew by %d KiB over 10000 transactions; want under 1024 KiB", growth)
	}
	if res["fds_end"] != res["fds_warm"] || res["fds_end"] != permit["fds_end"] {
		t.Errorf("open fds: %s after the soak, %s after the warm-up, %s with pam_permit.so alone; want all equal",
			res["fds_end"], res["fds_warm"], permit["fds_end"])
	}
	if got := harness.WaitKeyUsage(u.UID, keys); got != keys {
		t.Errorf("uid %d's key quota use is %q after the soak; was %q", u.UID, got, keys)
	}
	inv.Check(t, "after the soak")
}
