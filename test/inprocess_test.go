package test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/msteinert/pam/v2"
	"golang.org/x/sys/unix"

	"pam_keyinit_go/keyinit"
	"pam_keyinit_go/test/harness"
)

// PAM codes and syslog priorities the tests expect: keyinit's, which the
// module's build checks against libpam's and syslog.h's.
const (
	pamSuccess     = int(keyinit.Success)
	pamPermDenied  = int(keyinit.PermDenied) // what libpam returns when every module of a stack ignored the call
	pamUserUnknown = int(keyinit.UserUnknown)
	pamSessionErr  = int(keyinit.SessionErr)
	pamCredErr     = int(keyinit.CredErr)

	logAuthpriv = int(keyinit.LogAuthpriv)
	logErr      = int(keyinit.LogErr)
	logNotice   = int(keyinit.LogNotice)
	logDebug    = int(keyinit.LogDebug)
)

// stack is a service with the module in the auth stack (for setcred) and in
// the session stack, and nothing else, so each call returns the module's code.
func stack(module, options string) string {
	return fmt.Sprintf("auth required %s %s\nsession required %s %s\n", module, options, module, options)
}

func noConversation(pam.Style, string) (string, error) {
	return "", errors.New("this test has no conversation")
}

// code is the PAM return code of a libpam call (0 for success).
func code(err error) int {
	var e pam.Error
	if errors.As(err, &e) {
		return int(e)
	}
	if err != nil {
		return -1
	}
	return 0
}

// threadIDs are the calling thread's real, effective and saved uid and gid.
func threadIDs() [6]int {
	ru, eu, su := unix.Getresuid()
	rg, eg, sg := unix.Getresgid()
	return [6]int{ru, eu, su, rg, eg, sg}
}

// transaction runs f between pam_start_confdir and pam_end on a new thread
// that dies afterwards. f reports with t.Error.
func transaction(t *testing.T, svc harness.Service, user string, f func(tx *pam.Transaction)) {
	t.Helper()
	harness.OnNewThread(func() {
		tx, err := pam.StartConfDir(svc.Name, user, pam.ConversationFunc(noConversation), svc.Dir)
		if err != nil {
			t.Errorf("pam_start: %v", err)
			return
		}
		defer func() {
			if err := tx.End(); err != nil {
				t.Errorf("pam_end: %v", err)
			}
		}()
		f(tx)
	})
}

// checkSessionKeyring asserts that the calling thread's session keyring is
// a fresh "_ses" of the pam_keyinit kind, owned by u and linking u's _uid.N.
func checkSessionKeyring(t *testing.T, u harness.User) harness.Key {
	t.Helper()
	s := harness.Describe(harness.SessionKeyring)
	if s.Err != nil || s.Revoked || s.Type != "keyring" || s.Name != "_ses" ||
		s.UID != u.UID || s.GID != u.GID || s.Perm != 0x3f030000 {
		t.Errorf("session keyring = %v; want keyring \"_ses\" uid=%d gid=%d perm=3f030000", s, u.UID, u.GID)
		return s
	}
	links, err := harness.Links(s.Serial)
	if err != nil {
		t.Errorf("read session keyring: %v", err)
	}
	want := fmt.Sprintf("_uid.%d", u.UID)
	if len(links) != 1 || links[0].Name != want || links[0].UID != u.UID {
		t.Errorf("session keyring links %v; want only %s owned by uid %d", links, want, u.UID)
	}
	return s
}

func checkIDsUnchanged(t *testing.T, before [6]int, when string) {
	t.Helper()
	if after := threadIDs(); after != before {
		t.Errorf("%s: thread ids (ruid euid suid rgid egid sgid) = %v; were %v", when, after, before)
	}
}

func TestOpenMakesUserSessionKeyringAndCloseRevokesIt(t *testing.T) {
	u := harness.TempUser(t)
	svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke"))
	transaction(t, svc, u.Name, func(tx *pam.Transaction) {
		before := threadIDs()
		if err := tx.OpenSession(0); err != nil {
			t.Errorf("open_session: %v", err)
			return
		}
		checkIDsUnchanged(t, before, "after open")
		made := checkSessionKeyring(t, u)

		if err := tx.CloseSession(0); err != nil {
			t.Errorf("close_session: %v", err)
		}
		checkIDsUnchanged(t, before, "after close")
		if k := harness.Describe(made.Serial); !k.Revoked {
			t.Errorf("after close with revoke: keyring %d is %v; want revoked", made.Serial, k)
		}
	})
}

func TestCloseWithoutRevokeLeavesKeyring(t *testing.T) {
	u := harness.TempUser(t)
	svc := harness.ConfDirService(t, stack(harness.Module(t), "force"))
	transaction(t, svc, u.Name, func(tx *pam.Transaction) {
		if err := tx.OpenSession(0); err != nil {
			t.Errorf("open_session: %v", err)
			return
		}
		made := checkSessionKeyring(t, u)
		if err := tx.CloseSession(0); err != nil {
			t.Errorf("close_session: %v", err)
		}
		if k := harness.Describe(harness.SessionKeyring); k.Serial != made.Serial || k.Revoked || k.Err != nil {
			t.Errorf("after close without revoke: session keyring is %v; want %v, intact", k, made)
		}
		// Nor does deleting the credentials: the module ignores it, and
		// libpam, all of whose modules ignored the call, says so.
		if got := code(tx.SetCred(pam.DeleteCred)); got != pamPermDenied {
			t.Errorf("setcred(DELETE) without revoke = %d; want %d (ignored)", got, pamPermDenied)
		}
		if k := harness.Describe(made.Serial); k.Revoked || k.Err != nil {
			t.Errorf("after setcred(DELETE) without revoke: keyring is %v; want it intact", k)
		}
	})
}

// A keyring is revoked once: deleting the credentials revokes it and the
// module forgets it, so the close that follows has nothing left to revoke.
func TestRevokedOnceByDeleteThenClose(t *testing.T) {
	u := harness.TempUser(t)
	logs := harness.Log(t)
	svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke debug"))
	logs.Collect()
	transaction(t, svc, u.Name, func(tx *pam.Transaction) {
		if err := tx.OpenSession(0); err != nil {
			t.Errorf("open_session: %v", err)
			return
		}
		made := checkSessionKeyring(t, u)
		if err := tx.SetCred(pam.DeleteCred); err != nil {
			t.Errorf("setcred(DELETE): %v", err)
		}
		if err := tx.CloseSession(0); err != nil {
			t.Errorf("close_session: %v", err)
		}
		if !harness.Describe(made.Serial).Revoked {
			t.Errorf("keyring %d not revoked", made.Serial)
		}
	})
	entries := logs.Collect()
	if n := len(harness.Matching(entries, "pam_keyinit_go(", "REVOKE ")); n != 1 {
		t.Errorf("%d REVOKE lines; want 1: %v", n, entries)
	}
	if n := len(harness.Matching(entries, "pam_keyinit_go(", "already gone")); n != 0 {
		t.Errorf("the close tried to revoke the keyring again: %v", entries)
	}
}

func TestNestedOpensRevokeAtLastClose(t *testing.T) {
	u := harness.TempUser(t)
	svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke"))
	transaction(t, svc, u.Name, func(tx *pam.Transaction) {
		for i := 0; i < 2; i++ {
			if err := tx.OpenSession(0); err != nil {
				t.Errorf("open_session %d: %v", i+1, err)
				return
			}
		}
		made := checkSessionKeyring(t, u)
		tx.CloseSession(0)
		if k := harness.Describe(made.Serial); k.Revoked || k.Err != nil {
			t.Errorf("after the first of two closes: keyring is %v; want it intact", k)
		}
		tx.CloseSession(0)
		if k := harness.Describe(made.Serial); !k.Revoked {
			t.Errorf("after the last close: keyring is %v; want revoked", k)
		}
	})
}

func TestSetcredEstablishAndDelete(t *testing.T) {
	u := harness.TempUser(t)
	svc := harness.ConfDirService(t, stack(harness.Module(t), "force revoke"))
	transaction(t, svc, u.Name, func(tx *pam.Transaction) {
		before := threadIDs()
		if err := tx.SetCred(pam.EstablishCred); err != nil {
			t.Errorf("setcred(ESTABLISH): %v", err)
			return
		}
		made := checkSessionKeyring(t, u)
		if err := tx.OpenSession(0); err != nil {
			t.Errorf("open_session after setcred: %v", err)
		}
		if k := harness.Describe(harness.SessionKeyring); k.Serial != made.Serial {
			t.Errorf("open after setcred made another keyring (%v); want the one setcred made (%d)", k, made.Serial)
		}
		if err := tx.SetCred(pam.DeleteCred); err != nil {
			t.Errorf("setcred(DELETE): %v", err)
		}
		if k := harness.Describe(made.Serial); !k.Revoked {
			t.Errorf("after setcred(DELETE) with revoke: keyring is %v; want revoked", k)
		}
		if got := code(tx.SetCred(pam.ReinitializeCred)); got != pamPermDenied {
			t.Errorf("setcred(REINITIALIZE) = %d; want %d (the module ignores it)", got, pamPermDenied)
		}
		checkIDsUnchanged(t, before, "after setcred")
	})
}

// Without force, the thread's own session keyring stays only if it is the
// user's: pam_keyinit.so keeps anyone's, which handed users the keyrings of
// root or of the user who ran sudo (NixOS/nixpkgs#331444).
func TestWithoutForceKeepsOnlyTheUsersOwnSessionKeyring(t *testing.T) {
	u := harness.TempUser(t)
	svc := harness.ConfDirService(t, stack(harness.Module(t), "revoke"))
	logs := harness.Log(t)
	for _, tc := range []struct {
		name  string
		owner uint32 // the existing keyring's owner
		kept  bool
	}{
		{"the user's own: kept", u.UID, true},
		{"root's: replaced", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Collect()
			transaction(t, svc, u.Name, func(tx *pam.Transaction) {
				own, err := unix.KeyctlJoinSessionKeyring("kig-test-own")
				if err != nil {
					t.Errorf("join a named session keyring: %v", err)
					return
				}
				if _, err := unix.KeyctlInt(unix.KEYCTL_CHOWN, own, int(tc.owner), -1, 0); err != nil {
					t.Errorf("chown the session keyring to %d: %v", tc.owner, err)
					return
				}
				if err := tx.OpenSession(0); err != nil {
					t.Errorf("open_session: %v", err)
				}
				var made harness.Key
				if tc.kept {
					if k := harness.Describe(harness.SessionKeyring); k.Serial != own || k.Name != "kig-test-own" {
						t.Errorf("without force, open replaced the user's session keyring: now %v, was %d", k, own)
					}
				} else {
					made = checkSessionKeyring(t, u)
				}
				tx.CloseSession(0)
				if k := harness.Describe(own); k.Revoked || k.Err != nil {
					t.Errorf("close revoked a keyring the module did not make: %v", k)
				}
				if !tc.kept && !harness.Describe(made.Serial).Revoked {
					t.Errorf("close did not revoke the keyring the module made: %v", harness.Describe(made.Serial))
				}
			})
			lines := harness.Matching(logs.Collect(), "pam_keyinit_go(", "replacing session keyring")
			want := 0
			if !tc.kept {
				want = 1
			}
			if len(lines) != want {
				t.Fatalf("replacement lines %+v; want %d", lines, want)
			}
			if want == 1 && (lines[0].Severity() != logNotice || !strings.Contains(lines[0].Text, "it belongs to uid 0")) {
				t.Errorf("replacement line %q at severity %d; want LOG_NOTICE naming uid 0", lines[0].Text, lines[0].Severity())
			}
		})
	}
}

func TestWithoutForceReplacesMissingSessionKeyring(t *testing.T) {
	u := harness.TempUser(t)
	svc := harness.ConfDirService(t, stack(harness.Module(t), ""))
	// A thread with no session keyring (looking up @s as the user installs
	// the user's user-session keyring) must get a new one. Nothing may look
	// at @s on the test thread before the open.
	harness.RequireNoSessionKeyring(t)
	transaction(t, svc, u.Name, func(tx *pam.Transaction) {
		if err := tx.OpenSession(0); err != nil {
			t.Errorf("open_session: %v", err)
		}
		checkSessionKeyring(t, u)
	})
}

// Without force: the first open makes a keyring whatever the test process
// has (none, or root's, which the module replaces), and the second must not
// take the revoked one for the thread's own.
func TestReopenAfterRevokeWorks(t *testing.T) {
	u := harness.TempUser(t)
	svc := harness.ConfDirService(t, stack(harness.Module(t), "revoke"))
	transaction(t, svc, u.Name, func(tx *pam.Transaction) {
		var made [2]int
		for i := range made {
			if err := tx.OpenSession(0); err != nil {
				t.Errorf("open_session %d: %v (pam_keyinit.so fails the second; we must not)", i+1, err)
				return
			}
			made[i] = checkSessionKeyring(t, u).Serial
			tx.CloseSession(0)
			if k := harness.Describe(made[i]); !k.Revoked {
				t.Errorf("close %d: keyring is %v; want revoked", i+1, k)
			}
		}
		if made[0] == made[1] {
			t.Errorf("the second open reused keyring %d", made[0])
		}
	})
}

func TestUnknownUser(t *testing.T) {
	svc := harness.ConfDirService(t, stack(harness.Module(t), "force"))
	logs := harness.Log(t)
	logs.Collect()
	transaction(t, svc, "kig-no-such-user", func(tx *pam.Transaction) {
		before := threadIDs()
		if got := code(tx.OpenSession(0)); got != pamUserUnknown {
			t.Errorf("open_session for an unknown user = %d; want PAM_USER_UNKNOWN (%d)", got, pamUserUnknown)
		}
		checkIDsUnchanged(t, before, "after a failed open")
	})
	got := harness.Matching(logs.Collect(), "pam_keyinit_go(", `Unable to look up user "kig-no-such-user"`)
	if len(got) != 1 || got[0].Priority != logAuthpriv|logNotice {
		t.Errorf("log for an unknown user = %+v; want one authpriv.notice line", got)
	}
}

func TestLogging(t *testing.T) {
	u := harness.TempUser(t)
	logs := harness.Log(t)
	for _, tc := range []struct {
		options   string
		wantDebug bool
		wantBad   string
	}{
		{"force revoke", false, ""},
		{"force revoke debug", true, ""},
		{"force bogus revoke Force=1", false, `ignoring unknown options "bogus", "Force=1"`},
	} {
		t.Run(tc.options, func(t *testing.T) {
			svc := harness.ConfDirService(t, stack(harness.Module(t), tc.options))
			logs.Collect()
			transaction(t, svc, u.Name, func(tx *pam.Transaction) {
				if err := tx.OpenSession(0); err != nil {
					t.Errorf("open_session: %v", err)
				}
				tx.CloseSession(0)
			})
			entries := harness.Matching(logs.Collect(), "pam_keyinit_go(")
			var debug, bad int
			for _, e := range entries {
				if e.Facility() != logAuthpriv {
					t.Errorf("logged to facility %d, not authpriv: %q", e.Facility()>>3, e.Text)
				}
				switch {
				case e.Severity() == logDebug:
					debug++
				case tc.wantBad != "" && e.Severity() == logErr && strings.Contains(e.Text, tc.wantBad):
					bad++
				default:
					t.Errorf("unexpected log line: %q", e.Text)
				}
			}
			if tc.wantDebug != (debug > 0) {
				t.Errorf("%d debug lines; want some: %t", debug, tc.wantDebug)
			}
			if tc.wantBad != "" && bad != 1 {
				t.Errorf("%d lines naming the unknown options; want one, at open (close reads no options)", bad)
			}
		})
	}
}

// State is per PAM handle: a second handle opened on the same thread gets a
// keyring of its own. pam_keyinit.so keeps its state in process globals, so
// its second handle finds "a keyring already made" and makes none.
func TestEachHandleMakesItsOwnKeyring(t *testing.T) {
	u := harness.TempUser(t)
	for _, tc := range []struct {
		module  string
		wantNew bool
	}{
		{harness.Module(t), true},
		{harness.CModule(t), false},
	} {
		svc := harness.ConfDirService(t, stack(tc.module, "force revoke"))
		harness.OnNewThread(func() {
			var made [2]int
			var txs [2]*pam.Transaction
			for i := range txs {
				tx, err := pam.StartConfDir(svc.Name, u.Name, pam.ConversationFunc(noConversation), svc.Dir)
				if err != nil {
					t.Errorf("pam_start: %v", err)
					return
				}
				txs[i] = tx
				if err := tx.OpenSession(0); err != nil {
					t.Errorf("%s: open on handle %d: %v", tc.module, i+1, err)
				}
				made[i] = harness.Describe(harness.SessionKeyring).Serial
			}
			if gotNew := made[0] != made[1]; gotNew != tc.wantNew {
				t.Errorf("%s: the second handle's keyring is %d, the first's %d; want a new one: %t",
					tc.module, made[1], made[0], tc.wantNew)
			}
			for i := len(txs) - 1; i >= 0; i-- {
				txs[i].CloseSession(0)
				txs[i].End()
			}
		})
	}
}
