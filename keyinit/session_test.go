package keyinit

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// checkIDs fails the test unless the fake thread has the ids want.
func (f *fixture) checkIDs(t *testing.T, want IDs) {
	t.Helper()
	if f.creds.ids != want {
		t.Errorf("thread ids after the hook = %+v; want %+v restored", f.creds.ids, want)
	}
}

// checkMade asserts that the thread's session keyring is a fresh "_ses"
// owned by uid/gid, linking that uid's _uid.N, and recorded in the state.
func (f *fixture) checkMade(t *testing.T, uid, gid uint32) *fakeKey {
	t.Helper()
	s := f.keys.sessionKey()
	if s == nil || s.name != "_ses" || s.uid != uid || s.gid != gid || s.revoked || s.perm != permSession {
		t.Fatalf("session keyring = %+v; want a live _ses owned by %d/%d", s, uid, gid)
	}
	if want := f.keys.user[uid]; len(s.links) != 1 || s.links[0] != want || f.keys.keys[want].uid != uid {
		t.Errorf("session keyring links %v; want only _uid.%d (%d)", s.links, uid, want)
	}
	if int(f.st.Serial) != s.serial || f.st.UID != uid || f.st.GID != gid {
		t.Errorf("state = %+v; want serial %d owner %d/%d", f.st, s.serial, uid, gid)
	}
	return s
}

func (f *fixture) checkLogs(t *testing.T, p Priority, parts ...string) {
	t.Helper()
	got := f.host.at(p)
	if len(got) != 1 {
		t.Errorf("log lines at priority %d = %q; want exactly one", p, got)
		return
	}
	for _, part := range parts {
		if !strings.Contains(got[0], part) {
			t.Errorf("log line %q does not contain %q", got[0], part)
		}
	}
}

func (f *fixture) checkNoLogs(t *testing.T) {
	t.Helper()
	if len(f.host.logs) != 0 {
		t.Errorf("unexpected log lines: %+v", f.host.logs)
	}
}

// hooks are the two hooks that make a keyring, with their error codes.
var hooks = []struct {
	name string
	hook Hook
	fail Code
}{
	{"open", HookOpenSession, SessionErr},
	{"establish", HookEstablishCred, CredErr},
}

func TestOpenWithoutSessionKeyringMakesOne(t *testing.T) {
	forEachRootStart(t, func(t *testing.T, f *fixture, start IDs) {
		if got := f.open(); got != Success {
			t.Fatalf("open = %d; want Success", got)
		}
		f.checkIDs(t, start)
		f.checkMade(t, aliceUID, aliceGID)
		f.checkNoLogs(t)
		// The lookups and the join ran with the real ids switched, the
		// effective and saved ones untouched.
		for _, op := range []string{"GetID", "JoinAnonymous", "Link", "Owner"} {
			ids, ok := f.keys.callIDs(op)
			if want := switched(start, aliceUID, aliceGID); !ok || ids != want {
				t.Errorf("%s ran with ids %+v (called: %t); want %+v", op, ids, ok, want)
			}
		}
		if want := switchCalls(start, aliceUID, aliceGID); !slices.Equal(f.creds.sets, want) {
			t.Errorf("id switches = %q; want %q", f.creds.sets, want)
		}
	})
}

func TestWithoutForceKeepsASessionKeyringOfTheUsersOwn(t *testing.T) {
	for _, tc := range []struct{ user, owner string }{
		{"alice", "alice"}, // the user's own
		{"root", "alice"},  // the target is root: whatever the thread has stays
		{"root", "root"},
	} {
		forEachRootStart(t, func(t *testing.T, f *fixture, start IDs) {
			f.host.user = tc.user
			owner := f.host.users[tc.owner]
			own := f.keys.newKey("mine", owner[0], owner[1], permSession)
			f.keys.session["main"] = own.serial
			if got := f.open("revoke"); got != Success {
				t.Fatalf("open for %s = %d; want Success", tc.user, got)
			}
			if f.keys.sessionKey() != own || f.st.Serial != 0 || f.keys.count("JoinAnonymous") != 0 {
				t.Errorf("open for %s without force replaced %s's session keyring (state %+v)", tc.user, tc.owner, f.st)
			}
			f.checkIDs(t, start)
			f.checkNoLogs(t)
		})
	}
}

// Issue "beyond pam_keyinit" §1: without force, a session keyring another
// uid owns is replaced (pam_keyinit.so keeps it), with one notice line.
func TestWithoutForceReplacesAnotherUsersSessionKeyring(t *testing.T) {
	for _, tc := range []struct {
		user, owner string
		ownerErr    error
		want        string
	}{
		{"alice", "root", nil, "it belongs to uid 0;"},
		{"bob", "alice", nil, "it belongs to uid 1001;"},
		// bob's gid is 1003: a keyring owned by uid 1003 is not bob's.
		{"bob", "uid-1003", nil, "it belongs to uid 1003;"},
		{"alice", "alice", unix.EACCES, "its owner cannot be read (permission denied)"},
	} {
		for _, h := range hooks {
			t.Run(tc.user+"/"+tc.owner+"/"+h.name, func(t *testing.T) {
				f := newFixtureAt(IDs{RUID: 1000, RGID: 1000})
				f.host.user = tc.user
				f.host.users["uid-1003"] = [2]uint32{1003, 1003}
				owner := f.host.users[tc.owner]
				old := f.keys.newKey("theirs", owner[0], owner[1], permSession)
				f.keys.session["main"] = old.serial
				if tc.ownerErr != nil {
					f.keys.failNext("Owner", tc.ownerErr)
				}
				if got := f.m.Init(&f.st, h.hook, nil); got != Success {
					t.Fatalf("%s = %d; want Success", h.name, got)
				}
				target := f.host.users[tc.user]
				f.checkMade(t, target[0], target[1])
				f.checkLogs(t, LogNotice, fmt.Sprintf("replacing session keyring %d with a new one for uid %d: %s", old.serial, target[0], tc.want))
				if len(f.host.logs) != 1 || old.revoked {
					t.Errorf("logs %+v, old keyring revoked %t; want the notice alone and the old keyring left alone", f.host.logs, old.revoked)
				}
				f.checkIDs(t, IDs{RUID: 1000, RGID: 1000})
			})
		}
	}
}

func TestOpenWithOwnSessionKeyringWithForceReplacesIt(t *testing.T) {
	forEachRootStart(t, func(t *testing.T, f *fixture, start IDs) {
		own := f.keys.newKey("mine", aliceUID, aliceGID, permSession)
		f.keys.session["main"] = own.serial
		if got := f.open("force"); got != Success {
			t.Fatalf("open = %d; want Success", got)
		}
		f.checkMade(t, aliceUID, aliceGID)
		if f.keys.count("GetID") != 0 || f.keys.count("Owner") != 1 {
			t.Errorf("with force the module still looked up @s/@us or its owner: %+v", f.keys.calls)
		}
		f.checkIDs(t, start)
	})
}

func TestOpenAgainAfterMakingOneIsANoop(t *testing.T) {
	for _, h := range hooks {
		f := newFixture()
		f.open("force")
		made := f.keys.sessionKey()
		calls := len(f.keys.calls)
		f.host.user = "bob" // would change the owner if the module ran again
		if got := f.m.Init(&f.st, h.hook, []string{"force"}); got != Success {
			t.Fatalf("%s after open = %d; want Success", h.name, got)
		}
		if f.keys.sessionKey() != made || len(f.keys.calls) != calls || len(f.host.lookups) != 1 || len(f.creds.sets) != 4 {
			t.Errorf("%s after open did more work: keyring %+v, %d keyctl calls, lookups %q, sets %q",
				h.name, f.keys.sessionKey(), len(f.keys.calls)-calls, f.host.lookups, f.creds.sets)
		}
	}
}

func TestOpenPassesPamGetUserErrorThrough(t *testing.T) {
	for _, c := range []Code{ConvErr, SystemErr, BufErr, Code(7) /* PAM_AUTH_ERR */} {
		for _, h := range hooks {
			f := newFixture()
			f.host.userCode = c
			if got := f.m.Init(&f.st, h.hook, nil); got != c {
				t.Errorf("%s with pam_get_user failing with %d = %d; want %d", h.name, c, got, c)
			}
			if len(f.creds.sets) != 0 || len(f.keys.calls) != 0 || len(f.host.lookups) != 0 {
				t.Errorf("%s went on after pam_get_user failed: sets %q, keyctl %d, lookups %q", h.name, f.creds.sets, len(f.keys.calls), f.host.lookups)
			}
			f.checkLogs(t, LogErr, fmt.Sprintf("Unable to get the user name: pam_get_user returned PAM code %d;", c))
			if len(f.host.logs) != 1 {
				t.Errorf("log = %+v; want one line", f.host.logs)
			}
		}
	}
}

func TestOpenUnknownOrEmptyUser(t *testing.T) {
	for _, name := range []string{"nobody-here", "", "bad\nname\xff"} {
		for _, h := range hooks {
			f := newFixture()
			f.host.user = name
			if got := f.m.Init(&f.st, h.hook, []string{"force"}); got != UserUnknown {
				t.Errorf("%s for %q = %d; want UserUnknown", h.name, name, got)
			}
			f.checkLogs(t, LogNotice, "Unable to look up user "+fmt.Sprintf("%q", name))
			if len(f.creds.sets) != 0 || len(f.keys.calls) != 0 {
				t.Errorf("%s for unknown %q switched ids (%q) or called keyctl (%d)", h.name, name, f.creds.sets, len(f.keys.calls))
			}
		}
	}
}

// A root target from a root thread switches nothing; from su's ids (real
// uid the caller's) it switches the real ids to 0 and back.
func TestOpenForRoot(t *testing.T) {
	forEachRootStart(t, func(t *testing.T, f *fixture, start IDs) {
		f.host.user = "root"
		if got := f.open("force"); got != Success {
			t.Fatalf("open = %d", got)
		}
		f.checkMade(t, 0, 0)
		if want := switchCalls(start, 0, 0); !slices.Equal(f.creds.sets, want) {
			t.Errorf("id switches = %q; want %q", f.creds.sets, want)
		}
		f.checkIDs(t, start)
	})
}

func TestOpenSameGIDSwitchesOnlyUID(t *testing.T) {
	f := newFixture()
	f.host.users["alice"] = [2]uint32{aliceUID, 0}
	if got := f.open("force"); got != Success {
		t.Fatalf("open = %d", got)
	}
	f.checkMade(t, aliceUID, 0)
	if want := []string{"SetUIDs(1001,-1,-1)", "SetUIDs(0,0,0)"}; !slices.Equal(f.creds.sets, want) {
		t.Errorf("id switches = %q; want %q", f.creds.sets, want)
	}
}

// credFault fails the n-th (1-based) set call of op with err.
func credFault(op string, n int, err error) func(string, uint32, uint32, uint32) error {
	seen := 0
	return func(got string, _, _, _ uint32) error {
		if got != op {
			return nil
		}
		seen++
		if seen == n {
			return err
		}
		return nil
	}
}

func TestOpenIDSwitchFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		op      string
		n       int
		wantLog string
		// left says which real id stays switched when its restore fails.
		left func(IDs) IDs
	}{
		{"gid switch", "SetGIDs", 1, "Unable to change GID to 1001 temporarily: operation not permitted", nil},
		{"uid switch", "SetUIDs", 1, "Unable to change UID to 1001 temporarily: operation not permitted", nil},
		{"uid restore", "SetUIDs", 2, "Unable to change UID back to %d: operation not permitted", func(s IDs) IDs { s.RUID = aliceUID; return s }},
		{"gid restore", "SetGIDs", 2, "Unable to change GID back to %d: operation not permitted", func(s IDs) IDs { s.RGID = aliceGID; return s }},
	} {
		for _, h := range hooks {
			forEachRootStart(t, func(t *testing.T, f *fixture, start IDs) {
				f.creds.fault = credFault(tc.op, tc.n, unix.EPERM)
				if got := f.m.Init(&f.st, h.hook, []string{"force"}); got != h.fail {
					t.Errorf("%s %s = %d; want %d", tc.name, h.name, got, h.fail)
				}
				want := start
				if tc.left != nil {
					want = tc.left(start)
				}
				f.checkIDs(t, want)
				back := start.RUID
				if tc.op == "SetGIDs" {
					back = start.RGID
				}
				f.checkLogs(t, LogErr, strings.Replace(tc.wantLog, "%d", fmt.Sprint(back), 1))
				if tc.n == 1 && len(f.keys.calls) != 0 {
					t.Errorf("keyctl called after a failed switch: %+v", f.keys.calls)
				}
				if tc.op == "SetUIDs" && tc.n == 1 {
					if want := []string{"SetGIDs(1001,-1,-1)", "SetUIDs(1001,-1,-1)", switchCalls(start, aliceUID, aliceGID)[3]}; !slices.Equal(f.creds.sets, want) {
						t.Errorf("id switches = %q; want %q (gid restored)", f.creds.sets, want)
					}
				}
			})
		}
	}
}

// A thread without root may only set ids it already has (the fake applies
// setresuid's rule): it fails cleanly for another user.
func TestOpenAsUnprivilegedCallerFailsCleanly(t *testing.T) {
	start := IDs{RUID: 65534, EUID: 65534, SUID: 65534, RGID: 65534, EGID: 65534, SGID: 65534}
	f := newFixtureAt(start)
	if got := f.open(); got != SessionErr {
		t.Errorf("open by a non-root caller = %d; want SessionErr", got)
	}
	f.checkLogs(t, LogErr, "Unable to change GID to 1001 temporarily")
	f.checkIDs(t, start)
	if len(f.keys.calls) != 0 {
		t.Errorf("keyctl called: %+v", f.keys.calls)
	}
}

// A thread that already is the target user (all six ids its own, no root)
// needs no switch: it makes the keyring itself.
func TestOpenAsTheTargetUserItself(t *testing.T) {
	start := IDs{aliceUID, aliceUID, aliceUID, aliceGID, aliceGID, aliceGID}
	for _, opts := range [][]string{nil, {"force"}} {
		f := newFixtureAt(start)
		if got := f.open(opts...); got != Success {
			t.Fatalf("open %q as alice = %d; want Success", opts, got)
		}
		f.checkMade(t, aliceUID, aliceGID)
		if len(f.creds.sets) != 0 {
			t.Errorf("id switches %q; want none", f.creds.sets)
		}
		f.checkIDs(t, start)
		f.checkNoLogs(t)
	}
}

func TestENOSYSIsToleratedWithAndWithoutForce(t *testing.T) {
	for _, opts := range [][]string{nil, {"force"}, {"force", "revoke"}, {"revoke"}} {
		forEachRootStart(t, func(t *testing.T, f *fixture, start IDs) {
			// Without force the first keyctl is the @s lookup, with force the join.
			f.keys.fault = func(string) error { return unix.ENOSYS }
			if got := f.open(opts...); got != Success {
				t.Errorf("open %q without keyring support = %d; want Success", opts, got)
			}
			f.checkLogs(t, LogNotice, "ENOSYS", "session continues without a session keyring")
			if len(f.host.logs) != 1 {
				t.Errorf("log = %+v; want only the notice", f.host.logs)
			}
			if f.st.Serial != 0 {
				t.Errorf("state records keyring %d; the front would revoke it", f.st.Serial)
			}
			f.checkIDs(t, start)
		})
	}
}

func TestRevokedSessionKeyringIsReplacedWithoutForce(t *testing.T) {
	f := newFixture()
	if got := f.open("revoke"); got != Success {
		t.Fatalf("open = %d", got)
	}
	first := f.checkMade(t, aliceUID, aliceGID)
	if err := f.frontRevoke(); err != nil || !first.revoked {
		t.Fatalf("the front's revoke: %v, revoked %t", err, first.revoked)
	}
	// The thread still holds the revoked keyring: @s lookups say EKEYREVOKED.
	if got := f.open("revoke"); got != Success {
		t.Fatalf("open after a revoking close = %d; want Success (pam_keyinit.so fails here)", got)
	}
	if second := f.checkMade(t, aliceUID, aliceGID); second == first {
		t.Errorf("reused the revoked keyring")
	}
	f.checkIDs(t, IDs{})
	f.checkNoLogs(t)
}

// The keyring the state records is the thread's session keyring, so the
// front, which revokes as the thread is, without any id switch, possesses
// it; the owner alone may not ("_ses" gives it view and read).
func TestFrontCanRevokeWhatInitRecorded(t *testing.T) {
	forEachRootStart(t, func(t *testing.T, f *fixture, start IDs) {
		f.open("force", "revoke")
		made := f.checkMade(t, aliceUID, aliceGID)
		if err := f.frontRevoke(); err != nil || !made.revoked {
			t.Errorf("revoke by the possessing thread: %v, revoked %t", err, made.revoked)
		}
	})
}

func TestKeyctlFailuresOnOpen(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []string
		op       string
		errs     []error
		wantLog  []string
		wantMade bool // the state records a keyring (made before the failure)
	}{
		{"get @s EPERM", nil, "GetID", []error{unix.EPERM},
			[]string{"Unable to get the session keyring for uid 1001: operation not permitted", "seccomp", "allow keyctl(2)"}, false},
		{"get @s EACCES", nil, "GetID", []error{unix.EACCES},
			[]string{"Unable to get the session keyring for uid 1001: permission denied", "seccomp"}, false},
		{"get @us EINVAL", nil, "GetID", []error{nil, unix.EINVAL},
			[]string{"Unable to get the user-session keyring for uid 1001: invalid argument", "see keyctl(2)"}, false},
		{"join EDQUOT", []string{"force"}, "JoinAnonymous", []error{unix.EDQUOT},
			[]string{"Unable to join a new session keyring for uid 1001: disk quota exceeded",
				"the key quota of uid 1001 is full (uses 200/200 keys and 3000/20000 bytes)",
				"kernel.keys.maxkeys", "kernel.keys.maxbytes"}, false},
		{"join EPERM", []string{"force"}, "JoinAnonymous", []error{unix.EPERM},
			[]string{"Unable to join a new session keyring for uid 1001", "seccomp"}, false},
		{"join ENOMEM", nil, "JoinAnonymous", []error{unix.ENOMEM},
			[]string{"Unable to join a new session keyring for uid 1001: cannot allocate memory; see keyctl(2)"}, false},
		{"link EDQUOT", nil, "Link", []error{unix.EDQUOT},
			[]string{"Unable to link the user keyring into the session keyring for uid 1001", "kernel.keys.maxkeys"}, true},
		{"owner EIO", nil, "Owner", []error{unix.EIO},
			[]string{"Unable to check the owner of the user keyring for uid 1001: input/output error"}, true},
	} {
		for _, h := range hooks {
			forEachRootStart(t, func(t *testing.T, f *fixture, start IDs) {
				f.keys.quotaUse = "uses 200/200 keys and 3000/20000 bytes"
				f.keys.failNext(tc.op, tc.errs...)
				if got := f.m.Init(&f.st, h.hook, tc.opts); got != h.fail {
					t.Errorf("%s: %s = %d; want %d", tc.name, h.name, got, h.fail)
				}
				f.checkLogs(t, LogErr, tc.wantLog...)
				f.checkIDs(t, start)
				if made := f.st.Serial != 0; made != tc.wantMade {
					t.Errorf("%s: state serial = %d; want a keyring recorded: %t", tc.name, f.st.Serial, tc.wantMade)
				}
				if tc.op == "Owner" {
					if s := f.keys.sessionKey(); len(s.links) != 0 || f.keys.count("Unlink") != 1 {
						t.Errorf("after a failed owner check the session keyring links %v (unlinks %d); want none", s.links, f.keys.count("Unlink"))
					}
				}
			})
		}
	}
}

func TestEDQUOTMessageWithoutQuotaUse(t *testing.T) {
	f := newFixture()
	f.keys.failNext("JoinAnonymous", unix.EDQUOT)
	if got := f.open("force"); got != SessionErr {
		t.Errorf("open = %d", got)
	}
	f.checkLogs(t, LogErr, "the key quota of uid 1001 is full: raise kernel.keys.maxkeys / kernel.keys.maxbytes")
	if f.keys.count("QuotaUse") != 1 {
		t.Errorf("quota use asked %d times; want once", f.keys.count("QuotaUse"))
	}
}

func TestOwnerCheckUnlinksAnotherUsersKeyring(t *testing.T) {
	for _, h := range hooks {
		forEachRootStart(t, func(t *testing.T, f *fixture, start IDs) {
			// @u resolves to root's _uid.0, as it would if the real uid had
			// not been switched (the misconfiguration reported upstream).
			f.keys.userKeyringOf = func(uint32) uint32 { return 0 }
			if got := f.m.Init(&f.st, h.hook, []string{"force"}); got != h.fail {
				t.Errorf("%s = %d; want %d", h.name, got, h.fail)
			}
			if s := f.keys.sessionKey(); s == nil || len(s.links) != 0 {
				t.Errorf("%s: session keyring %+v still links another user's keyring", h.name, s)
			}
			f.checkLogs(t, LogErr, "the user keyring linked for uid 1001 belongs to uid 0: unlinked it")
			f.checkIDs(t, start)
		})
	}
}

// When even the undo fails, the new keyring is revoked (the thread
// possesses it) so nothing reaches the other user's keyring through it.
func TestOwnerCheckRevokesWhenUnlinkFails(t *testing.T) {
	for _, tc := range []struct {
		name      string
		wrongUser bool
		ownerErr  error
		revokeErr error
		want      string
		revoked   bool
	}{
		{"owner mismatch", true, nil, nil, "the user keyring linked for uid 1001 belongs to uid 0: could not unlink it (cannot allocate memory), so revoked the new session keyring", true},
		{"owner unreadable", false, unix.EIO, nil, "Unable to check the owner of the user keyring for uid 1001: input/output error", true},
		{"revoke fails too", true, nil, unix.EIO, "could neither unlink it (cannot allocate memory) nor revoke the new session keyring (input/output error)", false},
	} {
		forEachRootStart(t, func(t *testing.T, f *fixture, start IDs) {
			if tc.wrongUser {
				f.keys.userKeyringOf = func(uint32) uint32 { return 0 }
			}
			if tc.ownerErr != nil {
				f.keys.failNext("Owner", tc.ownerErr)
			}
			if tc.revokeErr != nil {
				f.keys.failNext("Revoke", tc.revokeErr)
			}
			f.keys.failNext("Unlink", unix.ENOMEM)
			if got := f.open("force", "revoke"); got != SessionErr {
				t.Errorf("%s: open = %d; want SessionErr", tc.name, got)
			}
			s := f.keys.sessionKey()
			if s == nil || s.revoked != tc.revoked || (f.st.Serial == 0) != tc.revoked {
				t.Errorf("%s: session keyring %+v, state %+v; want revoked and forgotten: %t", tc.name, s, f.st, tc.revoked)
			}
			f.checkLogs(t, LogErr, tc.want)
			f.checkIDs(t, start)
		})
	}
}

func TestPanicInKeyctlRestoresIDs(t *testing.T) {
	for _, op := range []string{"GetID", "JoinAnonymous", "Link", "Owner", "Unlink", "Revoke"} {
		forEachRootStart(t, func(t *testing.T, f *fixture, start IDs) {
			// Unlink and Revoke run only when the owner check fails.
			f.keys.userKeyringOf = func(uid uint32) uint32 {
				if op == "Unlink" || op == "Revoke" {
					return 0
				}
				return uid
			}
			if op == "Revoke" {
				f.keys.failNext("Unlink", unix.ENOMEM)
			}
			f.keys.panicOn = op
			func() {
				defer func() {
					if r := recover(); r == nil {
						t.Errorf("the fake %s did not panic", op)
					}
				}()
				f.open("revoke")
			}()
			f.checkIDs(t, start)
			if want := switchCalls(start, aliceUID, aliceGID); !slices.Equal(f.creds.sets, want) {
				t.Errorf("panic in %s: id switches %q; want %q", op, f.creds.sets, want)
			}
		})
	}
}

// Init records "revoke" for the front from every call that may make a
// keyring, also one after the keyring was made; a later call without it
// does not take it back (the front revokes at the last close).
func TestStateRecordsRevokeAndDebug(t *testing.T) {
	for _, tc := range []struct {
		calls      [][]string
		wantRevoke bool
		wantDebug  bool
	}{
		{[][]string{{"force", "revoke"}, {"force"}}, true, false},
		{[][]string{{"force"}, {"revoke", "debug"}}, true, true},
		{[][]string{{"force", "debug"}, {"force"}}, false, false},
		{[][]string{{"Revoke"}, {"revoke=1"}}, false, false},
	} {
		for _, h := range hooks {
			f := newFixture()
			for _, opts := range tc.calls {
				f.m.Init(&f.st, h.hook, opts)
			}
			if f.st.Revoke != tc.wantRevoke || f.st.Debug != tc.wantDebug {
				t.Errorf("%s %q: state revoke %t debug %t; want %t %t", h.name, tc.calls, f.st.Revoke, f.st.Debug, tc.wantRevoke, tc.wantDebug)
			}
		}
	}
}

// Each hook's debug lines name that hook, and only "debug" makes any.
func TestDebugLogsOnlyWithDebug(t *testing.T) {
	for _, debug := range []bool{false, true} {
		f := newFixture()
		opts := []string{"revoke"}
		if debug {
			opts = append(opts, "debug")
		}
		for _, call := range []struct {
			run   func() Code
			first string
		}{
			{func() Code { return f.open(opts...) }, "OPEN 1"},
			{func() Code { return f.establish(opts...) }, "ESTABLISH_CRED"},
		} {
			f.host.logs = nil
			call.run()
			lines := f.host.at(LogDebug)
			if !debug {
				f.checkNoLogs(t)
				continue
			}
			if len(lines) == 0 || lines[0] != call.first || len(lines) != len(f.host.logs) {
				t.Errorf("debug lines %+v; want the first to be %q and no other lines", f.host.logs, call.first)
			}
		}
	}
	// The steps of making a keyring, with the ids they ran with.
	f := newFixtureAt(IDs{RUID: 1000, RGID: 1000})
	f.open("debug")
	for _, prefix := range []string{"UID:1001 [1000]  GID:1001 [1000]", "GET SESSION = ", "GET USER SESSION = ", "JOIN = "} {
		if !slices.ContainsFunc(f.host.at(LogDebug), func(s string) bool { return strings.HasPrefix(s, prefix) }) {
			t.Errorf("no debug line starting %q: %q", prefix, f.host.at(LogDebug))
		}
	}
}

func TestUnknownOptionsLoggedOncePerHook(t *testing.T) {
	f := newFixture()
	opts := []string{"force", "force=1", "", "Revoke", "revoke"}
	f.open(opts...)
	f.establish(opts...)
	f.checkMade(t, aliceUID, aliceGID)
	errs := f.host.at(LogErr)
	want := `ignoring unknown options "force=1", "", "Revoke"; valid options are debug, force and revoke`
	if len(errs) != 2 || len(f.host.logs) != 2 {
		t.Fatalf("log = %+v; want one line per hook", f.host.logs)
	}
	for _, e := range errs {
		if !strings.HasPrefix(e, want) {
			t.Errorf("log line %q; want it to start with %q", e, want)
		}
	}
	if !f.st.Revoke {
		t.Errorf("the known options were not applied (revoke not recorded)")
	}
}

// Errors from the kernel wrappers are errnos, but a wrapped one must be
// recognised too: each errno the policy tells apart, wrapped, takes its path.
func TestWrappedErrnos(t *testing.T) {
	wrap := func(e error) error { return fmt.Errorf("keyctl: %w", e) }

	f := newFixture()
	f.keys.failNext("GetID", wrap(unix.ENOSYS))
	if got := f.open(); got != Success || f.st.Serial != 0 {
		t.Errorf("open with wrapped ENOSYS = %d, serial %d; want Success, none made", got, f.st.Serial)
	}

	f = newFixture()
	f.keys.failNext("GetID", wrap(unix.EKEYREVOKED))
	if got := f.open(); got != Success {
		t.Errorf("open with wrapped EKEYREVOKED on @s = %d; want Success", got)
	}
	f.checkMade(t, aliceUID, aliceGID)

	f = newFixture()
	f.keys.quotaUse = "uses 200/200 keys"
	f.keys.failNext("JoinAnonymous", wrap(unix.EDQUOT))
	if got := f.open("force"); got != SessionErr {
		t.Errorf("open with wrapped EDQUOT = %d; want SessionErr", got)
	}
	f.checkLogs(t, LogErr, "the key quota of uid 1001 is full (uses 200/200 keys)", "kernel.keys.maxkeys")

	f = newFixture()
	f.keys.failNext("Link", wrap(unix.EPERM))
	if got := f.open("force"); got != SessionErr {
		t.Errorf("open with wrapped EPERM = %d; want SessionErr", got)
	}
	f.checkLogs(t, LogErr, "keyctl was denied, likely by a seccomp filter")
}
