package keyinit

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// checkIDs fails the test unless the fake thread has root's ids again.
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
	if s == nil || s.name != "_ses" || s.uid != uid || s.gid != gid || s.revoked {
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

func TestOpenWithoutSessionKeyringMakesOne(t *testing.T) {
	f := newFixture()
	if got := f.m.OpenSession(&f.st, nil); got != Success {
		t.Fatalf("open = %d; want Success", got)
	}
	f.checkIDs(t, IDs{})
	f.checkMade(t, aliceUID, aliceGID)
	f.checkNoLogs(t)
	// The lookups and the join ran with the real ids switched, euid root.
	for _, op := range []string{"GetID", "JoinAnonymous", "Link", "Owner"} {
		ids, ok := f.keys.callIDs(op)
		if want := (IDs{RUID: aliceUID, RGID: aliceGID}); !ok || ids != want {
			t.Errorf("%s ran with ids %+v (called: %t); want %+v", op, ids, ok, want)
		}
	}
	wantSets := []string{"SetGIDs(1001,-1,-1)", "SetUIDs(1001,-1,-1)", "SetUIDs(0,0,0)", "SetGIDs(0,0,0)"}
	if !slices.Equal(f.creds.sets, wantSets) {
		t.Errorf("id switches = %q; want %q", f.creds.sets, wantSets)
	}
	if f.st.Opens != 1 {
		t.Errorf("open counter = %d; want 1", f.st.Opens)
	}
}

func TestOpenWithOwnSessionKeyringWithoutForceKeepsIt(t *testing.T) {
	f := newFixture()
	own := f.keys.newKey("mine", 0, 0)
	f.keys.session["main"] = own.serial
	if got := f.m.OpenSession(&f.st, []string{"revoke"}); got != Success {
		t.Fatalf("open = %d; want Success", got)
	}
	if f.keys.sessionKey() != own || f.st.Serial != 0 || f.keys.count("JoinAnonymous") != 0 {
		t.Errorf("without force the module replaced the session keyring (state %+v)", f.st)
	}
	f.checkIDs(t, IDs{})
	if got := f.m.CloseSession(&f.st, []string{"revoke"}); got != Success || own.revoked {
		t.Errorf("close = %d, own keyring revoked %t; want Success and a keyring the module did not make left alone", got, own.revoked)
	}
}

func TestOpenWithOwnSessionKeyringWithForceReplacesIt(t *testing.T) {
	f := newFixture()
	own := f.keys.newKey("mine", 0, 0)
	f.keys.session["main"] = own.serial
	if got := f.m.OpenSession(&f.st, []string{"force"}); got != Success {
		t.Fatalf("open = %d; want Success", got)
	}
	f.checkMade(t, aliceUID, aliceGID)
	if f.keys.count("GetID") != 0 {
		t.Errorf("with force the module still looked up @s/@us")
	}
	f.checkIDs(t, IDs{})
}

func TestOpenAgainAfterMakingOneIsANoop(t *testing.T) {
	f := newFixture()
	f.m.OpenSession(&f.st, []string{"force"})
	made := f.keys.sessionKey()
	calls := len(f.keys.calls)
	f.host.user = "bob" // would change the owner if the module ran again
	if got := f.m.OpenSession(&f.st, []string{"force"}); got != Success {
		t.Fatalf("second open = %d; want Success", got)
	}
	if f.keys.sessionKey() != made || len(f.keys.calls) != calls || len(f.host.lookups) != 1 {
		t.Errorf("second open did more work: keyring %+v, %d keyctl calls, lookups %q", f.keys.sessionKey(), len(f.keys.calls)-calls, f.host.lookups)
	}
	if f.st.Opens != 2 {
		t.Errorf("open counter = %d; want 2", f.st.Opens)
	}
}

func TestOpenPassesPamGetUserErrorThrough(t *testing.T) {
	for _, c := range []Code{ConvErr, SystemErr, BufErr, Code(7) /* PAM_AUTH_ERR */} {
		for _, fail := range []struct {
			name string
			call func(*fixture) Code
		}{
			{"open", func(f *fixture) Code { return f.m.OpenSession(&f.st, nil) }},
			{"setcred", func(f *fixture) Code { return f.m.Setcred(&f.st, FlagEstablishCred, nil) }},
		} {
			f := newFixture()
			f.host.userCode = c
			if got := fail.call(f); got != c {
				t.Errorf("%s with pam_get_user failing with %d = %d; want %d", fail.name, c, got, c)
			}
			if len(f.creds.sets) != 0 || len(f.keys.calls) != 0 || len(f.host.lookups) != 0 {
				t.Errorf("%s went on after pam_get_user failed: sets %q, keyctl %d, lookups %q", fail.name, f.creds.sets, len(f.keys.calls), f.host.lookups)
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
		f := newFixture()
		f.host.user = name
		if got := f.m.OpenSession(&f.st, []string{"force"}); got != UserUnknown {
			t.Errorf("open for %q = %d; want UserUnknown", name, got)
		}
		f.checkLogs(t, LogNotice, "Unable to look up user "+fmt.Sprintf("%q", name))
		if len(f.creds.sets) != 0 || len(f.keys.calls) != 0 {
			t.Errorf("open for unknown %q switched ids (%q) or called keyctl (%d)", name, f.creds.sets, len(f.keys.calls))
		}
		f.st = State{}
		if got := f.m.Setcred(&f.st, FlagEstablishCred, nil); got != UserUnknown {
			t.Errorf("setcred for %q = %d; want UserUnknown", name, got)
		}
	}
}

func TestOpenAsRootSwitchesNothing(t *testing.T) {
	f := newFixture()
	f.host.user = "root"
	if got := f.m.OpenSession(&f.st, []string{"force"}); got != Success {
		t.Fatalf("open = %d", got)
	}
	f.checkMade(t, 0, 0)
	if len(f.creds.sets) != 0 {
		t.Errorf("ids switched for root: %q", f.creds.sets)
	}
}

func TestOpenSameGIDSwitchesOnlyUID(t *testing.T) {
	f := newFixture()
	f.host.users["alice"] = [2]uint32{aliceUID, 0}
	if got := f.m.OpenSession(&f.st, []string{"force"}); got != Success {
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
		restore IDs // what the thread must have afterwards
	}{
		{"gid switch", "SetGIDs", 1, "Unable to change GID to 1001 temporarily: operation not permitted", IDs{}},
		{"uid switch", "SetUIDs", 1, "Unable to change UID to 1001 temporarily: operation not permitted", IDs{}},
		{"uid restore", "SetUIDs", 2, "Unable to change UID back to 0: operation not permitted", IDs{RUID: aliceUID}},
		{"gid restore", "SetGIDs", 2, "Unable to change GID back to 0: operation not permitted", IDs{RGID: aliceGID}},
	} {
		for _, hook := range []struct {
			name string
			want Code
			call func(*fixture) Code
		}{
			{"open", SessionErr, func(f *fixture) Code { return f.m.OpenSession(&f.st, []string{"force"}) }},
			{"setcred", CredErr, func(f *fixture) Code { return f.m.Setcred(&f.st, FlagEstablishCred, []string{"force"}) }},
		} {
			t.Run(tc.name+"/"+hook.name, func(t *testing.T) {
				f := newFixture()
				f.creds.fault = credFault(tc.op, tc.n, unix.EPERM)
				if got := hook.call(f); got != hook.want {
					t.Errorf("%s = %d; want %d", hook.name, got, hook.want)
				}
				f.checkLogs(t, LogErr, tc.wantLog)
				f.checkIDs(t, tc.restore)
				if tc.n == 1 && len(f.keys.calls) != 0 {
					t.Errorf("keyctl called after a failed switch: %+v", f.keys.calls)
				}
				if tc.op == "SetGIDs" && tc.n == 1 && len(f.creds.sets) != 1 {
					t.Errorf("went on after the gid switch failed: %q", f.creds.sets)
				}
				if tc.op == "SetUIDs" && tc.n == 1 {
					if want := []string{"SetGIDs(1001,-1,-1)", "SetUIDs(1001,-1,-1)", "SetGIDs(0,0,0)"}; !slices.Equal(f.creds.sets, want) {
						t.Errorf("id switches = %q; want %q (gid restored)", f.creds.sets, want)
					}
				}
			})
		}
	}
}

func TestOpenAsUnprivilegedCallerFailsCleanly(t *testing.T) {
	f := newFixture()
	start := IDs{RUID: 65534, EUID: 65534, SUID: 65534, RGID: 65534, EGID: 65534, SGID: 65534}
	f.creds.ids = start
	if got := f.m.OpenSession(&f.st, nil); got != SessionErr {
		t.Errorf("open by a non-root caller = %d; want SessionErr", got)
	}
	f.checkLogs(t, LogErr, "Unable to change GID to 1001 temporarily")
	f.checkIDs(t, start)
	if len(f.keys.calls) != 0 {
		t.Errorf("keyctl called: %+v", f.keys.calls)
	}
}

func TestENOSYSIsToleratedWithAndWithoutForce(t *testing.T) {
	for _, opts := range [][]string{nil, {"force"}, {"force", "revoke"}, {"revoke"}} {
		f := newFixture()
		// Without force the first keyctl is the @s lookup, with force the join.
		f.keys.fault = func(string) error { return unix.ENOSYS }
		if got := f.m.OpenSession(&f.st, opts); got != Success {
			t.Errorf("open %q without keyring support = %d; want Success", opts, got)
		}
		f.checkLogs(t, LogNotice, "ENOSYS", "session continues without a session keyring")
		if len(f.host.logs) != 1 {
			t.Errorf("log = %+v; want only the notice", f.host.logs)
		}
		if f.st.Serial != 0 {
			t.Errorf("state records keyring %d", f.st.Serial)
		}
		f.checkIDs(t, IDs{})
		if got := f.m.CloseSession(&f.st, opts); got != Success || f.keys.count("Revoke") != 0 {
			t.Errorf("close = %d with %d revokes; want Success and none", got, f.keys.count("Revoke"))
		}
	}
}

func TestRevokedSessionKeyringIsReplacedWithoutForce(t *testing.T) {
	f := newFixture()
	if got := f.m.OpenSession(&f.st, []string{"revoke"}); got != Success {
		t.Fatalf("open = %d", got)
	}
	first := f.checkMade(t, aliceUID, aliceGID)
	f.m.CloseSession(&f.st, []string{"revoke"})
	if !first.revoked || f.st.Serial != 0 {
		t.Fatalf("close did not revoke: %+v, state %+v", first, f.st)
	}
	// The thread still holds the revoked keyring: @s lookups say EKEYREVOKED.
	if got := f.m.OpenSession(&f.st, []string{"revoke"}); got != Success {
		t.Fatalf("open after a revoking close = %d; want Success (pam_keyinit.so fails here)", got)
	}
	second := f.checkMade(t, aliceUID, aliceGID)
	if second == first {
		t.Errorf("reused the revoked keyring")
	}
	f.checkIDs(t, IDs{})
	f.checkNoLogs(t)
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
		for _, hook := range []struct {
			name string
			want Code
			call func(*fixture, []string) Code
		}{
			{"open", SessionErr, func(f *fixture, o []string) Code { return f.m.OpenSession(&f.st, o) }},
			{"setcred", CredErr, func(f *fixture, o []string) Code { return f.m.Setcred(&f.st, FlagEstablishCred, o) }},
		} {
			t.Run(tc.name+"/"+hook.name, func(t *testing.T) {
				f := newFixture()
				f.keys.quotaUse = "uses 200/200 keys and 3000/20000 bytes"
				f.keys.failNext(tc.op, tc.errs...)
				if got := hook.call(f, tc.opts); got != hook.want {
					t.Errorf("%s = %d; want %d", hook.name, got, hook.want)
				}
				f.checkLogs(t, LogErr, tc.wantLog...)
				f.checkIDs(t, IDs{})
				if made := f.st.Serial != 0; made != tc.wantMade {
					t.Errorf("state serial = %d; want a keyring recorded: %t", f.st.Serial, tc.wantMade)
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
	if got := f.m.OpenSession(&f.st, []string{"force"}); got != SessionErr {
		t.Errorf("open = %d", got)
	}
	f.checkLogs(t, LogErr, "the key quota of uid 1001 is full: raise kernel.keys.maxkeys / kernel.keys.maxbytes")
	if f.keys.count("QuotaUse") != 1 {
		t.Errorf("quota use asked %d times; want once", f.keys.count("QuotaUse"))
	}
}

func TestOwnerCheckUnlinksAnotherUsersKeyring(t *testing.T) {
	for _, hook := range []struct {
		name string
		want Code
		call func(*fixture) Code
	}{
		{"open", SessionErr, func(f *fixture) Code { return f.m.OpenSession(&f.st, []string{"force"}) }},
		{"setcred", CredErr, func(f *fixture) Code { return f.m.Setcred(&f.st, FlagEstablishCred, []string{"force"}) }},
	} {
		f := newFixture()
		// @u resolves to root's _uid.0, as it would if the real uid had
		// not been switched (the misconfiguration reported upstream).
		f.keys.userKeyringOf = func(uint32) uint32 { return 0 }
		if got := hook.call(f); got != hook.want {
			t.Errorf("%s = %d; want %d", hook.name, got, hook.want)
		}
		s := f.keys.sessionKey()
		if s == nil || len(s.links) != 0 {
			t.Errorf("%s: session keyring %+v still links another user's keyring", hook.name, s)
		}
		f.checkLogs(t, LogErr, "the user keyring linked for uid 1001 belongs to uid 0: unlinked it")
		f.checkIDs(t, IDs{})
	}
}

// When even the undo fails, the new keyring is revoked so nothing reaches
// the other user's keyring through it.
func TestOwnerCheckRevokesWhenUnlinkFails(t *testing.T) {
	for _, tc := range []struct {
		name      string
		wrongUser bool
		ownerErr  error
		want      string
	}{
		{"owner mismatch", true, nil, "the user keyring linked for uid 1001 belongs to uid 0: could not unlink it (out of memory... "},
		{"owner unreadable", false, unix.EIO, "Unable to check the owner of the user keyring for uid 1001: input/output error"},
	} {
		f := newFixture()
		if tc.wrongUser {
			f.keys.userKeyringOf = func(uint32) uint32 { return 0 }
		}
		if tc.ownerErr != nil {
			f.keys.failNext("Owner", tc.ownerErr)
		}
		f.keys.failNext("Unlink", unix.ENOMEM)
		if got := f.m.OpenSession(&f.st, []string{"force", "revoke"}); got != SessionErr {
			t.Errorf("%s: open = %d; want SessionErr", tc.name, got)
		}
		s := f.keys.sessionKey()
		if s == nil || !s.revoked || f.st.Serial != 0 {
			t.Errorf("%s: session keyring %+v, state %+v; want it revoked and forgotten", tc.name, s, f.st)
		}
		want := strings.Replace(tc.want, "out of memory... ", "cannot allocate memory), so revoked the new session keyring", 1)
		f.checkLogs(t, LogErr, want)
		f.checkIDs(t, IDs{})
		if got := f.m.CloseSession(&f.st, []string{"force", "revoke"}); got != Success || f.keys.count("Revoke") != 1 {
			t.Errorf("%s: close = %d after %d revokes; want Success and no second revoke", tc.name, got, f.keys.count("Revoke"))
		}
	}
}

func TestPanicInKeyctlRestoresIDs(t *testing.T) {
	for _, op := range []string{"GetID", "JoinAnonymous", "Link", "Owner", "Revoke"} {
		t.Run(op, func(t *testing.T) {
			f := newFixture()
			opts := []string{"revoke"}
			if op == "Revoke" {
				if got := f.m.OpenSession(&f.st, opts); got != Success {
					t.Fatalf("open = %d", got)
				}
			}
			f.keys.panicOn = op
			func() {
				defer func() {
					if r := recover(); r == nil {
						t.Errorf("the fake %s did not panic", op)
					}
				}()
				if op == "Revoke" {
					f.m.CloseSession(&f.st, opts)
				} else {
					f.m.OpenSession(&f.st, opts)
				}
			}()
			f.checkIDs(t, IDs{})
			if n := len(f.creds.sets); n%2 != 0 || n == 0 {
				t.Errorf("id switches %q: want each switch undone", f.creds.sets)
			}
		})
	}
}

func TestCloseRevokesAsOwnerAtLastClose(t *testing.T) {
	f := newFixture()
	opts := []string{"force", "revoke"}
	f.m.OpenSession(&f.st, opts)
	f.m.OpenSession(&f.st, opts)
	made := f.checkMade(t, aliceUID, aliceGID)
	if got := f.m.CloseSession(&f.st, opts); got != Success || made.revoked {
		t.Fatalf("first of two closes = %d, revoked %t; want Success, not revoked", got, made.revoked)
	}
	f.creds.sets = nil
	// Revoke as the owner: the thread's session keyring is now another one,
	// so only the owner may revoke it (no possession).
	f.keys.session["main"] = 0
	if got := f.m.CloseSession(&f.st, opts); got != Success || !made.revoked {
		t.Fatalf("last close = %d, revoked %t; want Success, revoked", got, made.revoked)
	}
	ids, _ := f.keys.callIDs("Revoke")
	if want := (IDs{EUID: aliceUID, EGID: aliceGID}); ids != want {
		t.Errorf("revoked with ids %+v; want %+v (effective owner, root kept as saved uid)", ids, want)
	}
	if want := []string{"SetGIDs(-1,1001,-1)", "SetUIDs(-1,1001,0)", "SetUIDs(0,0,0)", "SetGIDs(0,0,0)"}; !slices.Equal(f.creds.sets, want) {
		t.Errorf("id switches = %q; want %q", f.creds.sets, want)
	}
	if f.st.Serial != 0 || f.st.Opens != 0 {
		t.Errorf("state after the last close = %+v; want serial 0, opens 0", f.st)
	}
	f.checkIDs(t, IDs{})
	f.checkNoLogs(t)
	// A third close (more closes than opens) does nothing.
	if got := f.m.CloseSession(&f.st, opts); got != Success || f.keys.count("Revoke") != 1 || f.st.Opens != -1 {
		t.Errorf("extra close = %d, %d revokes, opens %d", got, f.keys.count("Revoke"), f.st.Opens)
	}
}

func TestCloseWithoutRevokeOrWithoutOpen(t *testing.T) {
	f := newFixture()
	if got := f.m.CloseSession(&f.st, []string{"revoke"}); got != Success {
		t.Errorf("close without open = %d; want Success", got)
	}
	if f.st.Opens != -1 || len(f.keys.calls) != 0 || len(f.creds.sets) != 0 {
		t.Errorf("close without open did something: state %+v, calls %+v, sets %q", f.st, f.keys.calls, f.creds.sets)
	}
	f.checkNoLogs(t)

	f = newFixture()
	f.m.OpenSession(&f.st, []string{"force"})
	made := f.checkMade(t, aliceUID, aliceGID)
	// "revoke" given to close only does not revoke: it is recorded by the
	// hooks that make the keyring.
	if got := f.m.CloseSession(&f.st, []string{"force", "revoke"}); got != Success || made.revoked {
		t.Errorf("close = %d, revoked %t; want Success, keyring kept", got, made.revoked)
	}
}

func TestRevokeOfAKeyringAlreadyGone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(f *fixture, serial int)
	}{
		{"revoked", func(f *fixture, s int) { f.keys.keys[s].revoked = true }},
		{"gone", func(f *fixture, s int) { delete(f.keys.keys, s) }},
		{"unlinked and replaced", func(f *fixture, s int) { f.keys.session["main"] = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			opts := []string{"force", "revoke"}
			f.m.OpenSession(&f.st, opts)
			serial := int(f.st.Serial)
			tc.break_(f, serial)
			if got := f.m.CloseSession(&f.st, opts); got != Success {
				t.Errorf("close = %d; want Success", got)
			}
			f.checkIDs(t, IDs{})
			f.checkNoLogs(t)
			if f.st.Serial != 0 {
				t.Errorf("state still records %d", f.st.Serial)
			}
		})
	}
}

func TestRevokeFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(f *fixture)
		wantLog string
		restore IDs
	}{
		{"revoke EPERM", func(f *fixture) { f.keys.failNext("Revoke", unix.EPERM) },
			"Unable to revoke the session keyring for uid 1001: operation not permitted", IDs{}},
		{"gid switch", func(f *fixture) { f.creds.fault = credFault("SetGIDs", 1, unix.EPERM) },
			"Unable to change GID to 1001 temporarily", IDs{}},
		{"uid switch", func(f *fixture) { f.creds.fault = credFault("SetUIDs", 1, unix.EPERM) },
			"Unable to change UID to 1001 temporarily", IDs{}},
		{"uid restore", func(f *fixture) { f.creds.fault = credFault("SetUIDs", 2, unix.EPERM) },
			"Unable to change UID back to 0", IDs{EUID: aliceUID}},
		{"gid restore", func(f *fixture) { f.creds.fault = credFault("SetGIDs", 2, unix.EPERM) },
			"Unable to change GID back to 0", IDs{EGID: aliceGID}},
	} {
		for _, hook := range []struct {
			name string
			want Code
			call func(*fixture, []string) Code
		}{
			{"close", Success, func(f *fixture, o []string) Code { return f.m.CloseSession(&f.st, o) }},
			{"setcred delete", CredErr, func(f *fixture, o []string) Code { return f.m.Setcred(&f.st, FlagDeleteCred, o) }},
		} {
			t.Run(tc.name+"/"+hook.name, func(t *testing.T) {
				f := newFixture()
				opts := []string{"force", "revoke"}
				if got := f.m.OpenSession(&f.st, opts); got != Success {
					t.Fatalf("open = %d", got)
				}
				f.creds.sets = nil
				tc.setup(f)
				if got := hook.call(f, opts); got != hook.want {
					t.Errorf("%s = %d; want %d", hook.name, got, hook.want)
				}
				f.checkLogs(t, LogErr, tc.wantLog)
				f.checkIDs(t, tc.restore)
			})
		}
	}
}

func TestSetcredFlags(t *testing.T) {
	for _, tc := range []struct {
		flags    int
		opts     []string
		open     bool // a keyring was made before
		want     Code
		wantMade bool
		revoked  bool
	}{
		{FlagEstablishCred, []string{"force"}, false, Success, true, false},
		{FlagEstablishCred | FlagSilent, nil, false, Success, true, false},
		{FlagDeleteCred, []string{"force", "revoke"}, true, Success, false, true},
		{FlagDeleteCred | FlagSilent, []string{"force", "revoke"}, true, Success, false, true},
		{FlagDeleteCred, []string{"force"}, true, Ignore, true, false},             // no revoke option
		{FlagDeleteCred, []string{"force", "revoke"}, false, Ignore, false, false}, // nothing made
		{FlagReinitializeCred, []string{"force", "revoke"}, true, Ignore, true, false},
		{FlagRefreshCred, []string{"force", "revoke"}, true, Ignore, true, false},
		{0, []string{"force", "revoke"}, false, Ignore, false, false},
	} {
		f := newFixture()
		if tc.open {
			f.m.OpenSession(&f.st, tc.opts)
		}
		opens := f.st.Opens
		var before *fakeKey
		if tc.open {
			before = f.keys.sessionKey()
		}
		if got := f.m.Setcred(&f.st, tc.flags, tc.opts); got != tc.want {
			t.Errorf("setcred(%#x) %q after open %t = %d; want %d", tc.flags, tc.opts, tc.open, got, tc.want)
		}
		if f.st.Opens != opens {
			t.Errorf("setcred(%#x) changed the open counter to %d", tc.flags, f.st.Opens)
		}
		if made := f.st.Serial != 0; made != tc.wantMade {
			t.Errorf("setcred(%#x): state serial %d; want a keyring: %t", tc.flags, f.st.Serial, tc.wantMade)
		}
		if before != nil && before.revoked != tc.revoked {
			t.Errorf("setcred(%#x): revoked %t; want %t", tc.flags, before.revoked, tc.revoked)
		}
		f.checkIDs(t, IDs{})
	}
}

func TestSetcredThenOpenThenDeleteThenClose(t *testing.T) {
	f := newFixture()
	opts := []string{"force", "revoke"}
	if got := f.m.Setcred(&f.st, FlagEstablishCred, opts); got != Success {
		t.Fatalf("establish = %d", got)
	}
	made := f.checkMade(t, aliceUID, aliceGID)
	if got := f.m.OpenSession(&f.st, opts); got != Success || f.keys.sessionKey() != made {
		t.Fatalf("open after establish = %d, made another keyring", got)
	}
	if got := f.m.Setcred(&f.st, FlagDeleteCred, opts); got != Success || !made.revoked {
		t.Fatalf("delete = %d, revoked %t", got, made.revoked)
	}
	if got := f.m.CloseSession(&f.st, opts); got != Success || f.keys.count("Revoke") != 1 {
		t.Errorf("close after delete = %d with %d revokes; want Success and no second revoke", got, f.keys.count("Revoke"))
	}
}

func TestDebugLogsOnlyWithDebug(t *testing.T) {
	for _, debug := range []bool{false, true} {
		f := newFixture()
		opts := []string{"revoke"}
		if debug {
			opts = append(opts, "debug")
		}
		f.m.OpenSession(&f.st, opts)
		f.m.Setcred(&f.st, FlagEstablishCred, opts)
		f.m.CloseSession(&f.st, opts)
		n := len(f.host.at(LogDebug))
		if debug != (n > 0) || len(f.host.logs) != n {
			t.Errorf("debug %t: %d debug lines of %d: %+v", debug, n, len(f.host.logs), f.host.logs)
		}
		if debug && !slices.ContainsFunc(f.host.at(LogDebug), func(s string) bool { return strings.HasPrefix(s, "REVOKE ") }) {
			t.Errorf("no REVOKE debug line: %q", f.host.at(LogDebug))
		}
	}
}

func TestUnknownOptionsLoggedOncePerHook(t *testing.T) {
	f := newFixture()
	opts := []string{"force", "force=1", "", "Revoke", "revoke"}
	f.m.OpenSession(&f.st, opts)
	f.m.Setcred(&f.st, FlagReinitializeCred, opts)
	made := f.checkMade(t, aliceUID, aliceGID)
	f.m.CloseSession(&f.st, opts)
	errs := f.host.at(LogErr)
	want := `ignoring unknown options "force=1", "", "Revoke"; valid options are debug, force and revoke`
	if len(errs) != 3 || len(f.host.logs) != 3 {
		t.Fatalf("log = %+v; want one line per hook", f.host.logs)
	}
	for _, e := range errs {
		if !strings.HasPrefix(e, want) {
			t.Errorf("log line %q; want it to start with %q", e, want)
		}
	}
	if !made.revoked {
		t.Errorf("the known options were not applied (keyring not revoked)")
	}
}

// The step list's errors are all errnos; a wrapped one must be recognised too.
func TestWrappedErrnos(t *testing.T) {
	f := newFixture()
	f.keys.failNext("GetID", fmt.Errorf("wrapped: %w", unix.ENOSYS))
	if got := f.m.OpenSession(&f.st, nil); got != Success {
		t.Errorf("open with wrapped ENOSYS = %d", got)
	}
	if !errors.Is(fmt.Errorf("x: %w", unix.EDQUOT), unix.EDQUOT) {
		t.Fatal("errors.Is broken")
	}
}

// EACCES at revoke means the owner lost possession (the host replaced the
// thread's session keyring): say that, not "seccomp".
func TestRevokeWithoutPossession(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func(f *fixture) Code
		want Code
	}{
		{"close", func(f *fixture) Code { return f.m.CloseSession(&f.st, []string{"force", "revoke"}) }, Success},
		{"setcred delete", func(f *fixture) Code { return f.m.Setcred(&f.st, FlagDeleteCred, []string{"force", "revoke"}) }, CredErr},
	} {
		f := newFixture()
		if got := f.m.OpenSession(&f.st, []string{"force", "revoke"}); got != Success {
			t.Fatalf("%s: open = %d", tc.name, got)
		}
		f.checkMade(t, aliceUID, aliceGID)
		f.keys.failNext("Revoke", unix.EACCES)
		if got := tc.call(f); got != tc.want {
			t.Errorf("%s = %d; want %d", tc.name, got, tc.want)
		}
		f.checkLogs(t, LogErr, "for uid 1001: it is no longer this thread's session keyring, so its owner may not revoke it")
		f.checkIDs(t, IDs{})
	}
}
