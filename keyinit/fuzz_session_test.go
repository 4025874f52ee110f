package keyinit

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fuzzInput hands out the fuzzer's bytes, zeros once they run out.
type fuzzInput struct{ b []byte }

func (in *fuzzInput) next() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

var (
	fuzzOps    = []string{"GetID", "JoinAnonymous", "Link", "Owner", "Unlink", "Revoke", "SetUIDs", "SetGIDs"}
	fuzzErrnos = []error{unix.ENOSYS, unix.EPERM, unix.EACCES, unix.EDQUOT, unix.EKEYREVOKED, unix.ENOKEY, unix.EINVAL, unix.ENOMEM}
)

// fuzzStart sets up the fixture's thread from the input: the target user,
// the session keyring the thread starts with, and its six ids.
//
//	byte 0: user (alice, bob, root, unknown, empty; 5: alice with pam_get_user failing)
//	byte 1: session keyring: none, the user's own, revoked, root's
//	byte 2: ids: root; nobody; root with @u resolved to root's keyring;
//	        su's (real 1000, effective and saved 0); saved 4242; all the
//	        user's own; then six bytes of ids, effective 0 (mode 6) or
//	        without root with each real id one of its effective or saved (7)
func fuzzStart(in *fuzzInput) *fixture {
	users := []string{"alice", "bob", "root", "nobody-here", "", "alice"}
	fx := newFixture()
	u := in.next()
	fx.host.user = users[int(u)%len(users)]
	if u%6 == 5 {
		fx.host.userCode = ConvErr
	}
	target, ok := fx.host.users[fx.host.user]
	if !ok {
		target = [2]uint32{4242, 4242}
	}
	switch in.next() % 4 {
	case 1:
		fx.keys.session["main"] = fx.keys.newKey("mine", target[0], target[1], permSession).serial
	case 2:
		k := fx.keys.newKey("old", 0, 0, permSession)
		k.revoked = true
		fx.keys.session["main"] = k.serial
	case 3:
		fx.keys.session["main"] = fx.keys.newKey("root's", 0, 0, permSession).serial
	}
	pick := func(own uint32) uint32 {
		palette := []uint32{0, 1000, 4242, own, 65534}
		return palette[int(in.next())%len(palette)]
	}
	switch in.next() % 8 {
	case 1:
		fx.creds.ids = IDs{65534, 65534, 65534, 65534, 65534, 65534}
	case 2:
		fx.keys.userKeyringOf = func(uint32) uint32 { return 0 }
	case 3:
		fx.creds.ids = IDs{RUID: 1000, RGID: 1000}
	case 4:
		fx.creds.ids = IDs{SUID: 4242, SGID: 4242}
	case 5:
		fx.creds.ids = IDs{target[0], target[0], target[0], target[1], target[1], target[1]}
	case 6:
		fx.creds.ids = IDs{pick(target[0]), 0, pick(target[0]), pick(target[1]), pick(target[1]), pick(target[1])}
	case 7:
		e, s := pick(target[0]), pick(target[0])
		eg, sg := pick(target[1]), pick(target[1])
		r, rg := e, eg
		if in.next()&1 != 0 {
			r, rg = s, sg
		}
		fx.creds.ids = IDs{r, e, s, rg, eg, sg}
	}
	return fx
}

// fault is one injected fault and whether the call it targets happened.
type fault struct {
	op      string
	errno   error
	panicky bool
	hit     func() bool
}

// injectFault arms the fault the byte names (none below 0x80): an errno
// from the next call of an op, or (from 0xc0) a panic in it. A set*id
// fault hits only a switch, never a restore.
func injectFault(fx *fixture, b byte) *fault {
	fx.keys.queued = map[string][]error{}
	fx.keys.panicOn = ""
	fx.creds.fault = nil
	if b < 0x80 {
		return nil
	}
	op := fuzzOps[int(b)%len(fuzzOps)]
	errno := fuzzErrnos[int(b>>3)%len(fuzzErrnos)]
	calls := fx.keys.count(op)
	switch {
	case op == "SetUIDs" || op == "SetGIDs":
		used := false
		fx.creds.fault = func(got string, r, e, s uint32) error {
			if got == op && !used && (r == Keep || e == Keep || s == Keep) {
				used = true
				return errno
			}
			return nil
		}
		return &fault{op, errno, false, func() bool { return used }}
	case b >= 0xc0:
		fx.keys.panicOn = op
		return &fault{op, nil, true, func() bool { return fx.keys.count(op) > calls }}
	default:
		fx.keys.failNext(op, errno)
		return &fault{op, errno, false, func() bool { return len(fx.keys.queued[op]) == 0 }}
	}
}

// FuzzSessionStateMachine drives one PAM handle through a random sequence
// of hooks: Init for open and setcred(ESTABLISH), and what the C front does
// for close, setcred(DELETE) and the other setcred flags (count, revoke as
// the thread is), with random options, random starting ids and session
// keyrings, and injected kernel and id-switch faults (including panics).
//
// After every Init: the six ids are the starting ones; "revoke" is recorded
// exactly when a call that may make a keyring was given it; with no fault
// that actually hit, the code, the keyring made (or kept) and the notice
// are exactly the reference's (fuzz_reference_test.go); with one, the code
// is Success or the hook's error. At most one line besides the
// unknown-option, debug and replaced-keyring lines is logged, exactly one
// when the hook fails. A keyring made is owned by the
// user and links only that user's keyring, and the front can revoke it.
func FuzzSessionStateMachine(f *testing.F) {
	addSessionSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data}
		fx := fuzzStart(in)
		target := fx.host.users[fx.host.user]
		start := fx.creds.ids
		revokeSeen := false
		// Keyrings that existed when an injected panic cut Init short: a
		// panic between the link and the owner check leaves the link, which
		// only the ids-restored invariant covers.
		cutShort := map[int]bool{}

		for steps := 0; len(in.b) > 0 && steps < 64; steps++ {
			kind, optBits, faultByte := in.next()%6, in.next(), in.next()
			var opts []string
			for i, o := range []string{"debug", "force", "revoke", "force=1"} {
				if optBits&(1<<i) != 0 {
					opts = append(opts, o)
				}
			}
			step := fmt.Sprintf("step %d: kind %d %q (fault %#x)", steps, kind, opts, faultByte)
			if kind != 0 && kind != 2 {
				frontStep(t, fx, step, kind, optBits)
				continue
			}
			hook, fail := HookOpenSession, SessionErr
			if kind == 2 {
				hook, fail = HookEstablishCred, CredErr
			} else {
				fx.st.Opens++
			}
			o := ParseOptions(opts)
			want := expectInit(fx, hook, o)
			revokeSeen = revokeSeen || o.Revoke
			before := fx.st
			logsBefore := len(fx.host.logs)
			flt := injectFault(fx, faultByte)
			var code Code
			panicked := func() (p any) {
				defer func() { p = recover() }()
				code = fx.m.Init(&fx.st, hook, opts)
				return nil
			}()
			hit := flt != nil && flt.hit()
			fx.keys.panicOn, fx.creds.fault, fx.keys.queued = "", nil, map[string][]error{}

			if fx.creds.ids != start {
				t.Fatalf("%s: thread ids %+v; want %+v restored", step, fx.creds.ids, start)
			}
			if fx.st.Revoke != revokeSeen || fx.st.Debug != o.Debug {
				t.Fatalf("%s: state records revoke %t debug %t; want %t %t", step, fx.st.Revoke, fx.st.Debug, revokeSeen, o.Debug)
			}
			if panicked != nil {
				if !hit || !flt.panicky {
					t.Fatalf("%s: panic: %v", step, panicked)
				}
				for serial := range fx.keys.keys {
					cutShort[serial] = true
				}
				continue // the bridge turns it into an error; the state goes on
			}
			logs := fx.host.logs[logsBefore:]
			if hit {
				if code != Success && code != fail {
					t.Fatalf("%s = %d after an injected %s fault; want %d or %d", step, code, flt.op, Success, fail)
				}
				// No keyring support where the first keyctl of either path
				// meets it: the session goes on, with or without force.
				if flt.errno == unix.ENOSYS && (flt.op == "GetID" || flt.op == "JoinAnonymous") && code != Success {
					t.Fatalf("%s = %d after ENOSYS from %s; want Success", step, code, flt.op)
				}
			} else {
				checkReference(t, fx, step, want, code, before, logs)
			}
			if n := countOther(logs); n > 1 || (code != Success && n != 1) {
				t.Fatalf("%s = %d logged %d lines: %+v", step, code, n, logs)
			}
			if k := fx.keys.keys[int(fx.st.Serial)]; fx.st.Serial > 0 && fx.st.Serial != before.Serial &&
				(k == nil || k.uid != target[0] || k.gid != target[1] || fx.st.UID != k.uid || fx.st.GID != k.gid || k.revoked) {
				t.Fatalf("%s: state %+v records keyring %+v made for %q; want a live one owned by %v", step, fx.st, k, fx.host.user, target)
			}
			for _, k := range fx.keys.keys {
				if k.name != "_ses" || k.revoked || cutShort[k.serial] { // a revoked keyring reaches nothing
					continue
				}
				for _, l := range k.links {
					if fx.keys.keys[l].uid != k.uid {
						t.Fatalf("%s: %+v links %+v, another user's keyring", step, k, fx.keys.keys[l])
					}
				}
			}
		}
	})
}

// checkReference fails unless an Init with no fault did exactly what the
// reference says.
func checkReference(t *testing.T, fx *fixture, step string, want reference, code Code, before State, logs []logLine) {
	t.Helper()
	if code != want.code {
		t.Fatalf("%s = %d; the reference says %d (logs %+v)", step, code, want.code, logs)
	}
	s := fx.keys.sessionKey()
	switch {
	case want.makes && (fx.st.Serial == before.Serial || s == nil || int(fx.st.Serial) != s.serial || s.name != "_ses"):
		t.Fatalf("%s: state %+v, session keyring %+v; want a new _ses recorded", step, fx.st, s)
	case !want.makes && fx.st.Serial != before.Serial:
		t.Fatalf("%s: state records keyring %d; want %d kept", step, fx.st.Serial, before.Serial)
	}
	var notices []string
	for _, l := range logs {
		if l.prio == LogNotice && strings.HasPrefix(l.msg, "replacing session keyring") {
			notices = append(notices, l.msg)
		}
	}
	if want.notice == noNotice {
		if len(notices) != 0 {
			t.Fatalf("%s: notices %q; want none", step, notices)
		}
		return
	}
	if len(notices) != 1 || !strings.Contains(notices[0], fmt.Sprintf("belongs to uid %d;", want.notice)) {
		t.Fatalf("%s: notices %q; want one naming uid %d", step, notices, want.notice)
	}
}

// countOther counts the lines other than debug, unknown-option and
// replaced-keyring ones (the last are checked against the reference).
func countOther(logs []logLine) int {
	n := 0
	for _, l := range logs {
		if l.prio != LogDebug && !strings.HasPrefix(l.msg, "ignoring unknown option") && !strings.HasPrefix(l.msg, "replacing session keyring") {
			n++
		}
	}
	return n
}

// frontStep is what the C front does for the hooks that need no Go:
// close (kind 1) counts and revokes at the last one; setcred(DELETE) (3)
// revokes; other setcred flags (4) do nothing; kind 5 is someone else
// revoking (optBits odd: destroying) the keyring made. The front revokes as
// the thread is: it must possess the keyring, so anything but success or
// "already gone" means Init recorded a keyring the thread does not hold.
func frontStep(t *testing.T, fx *fixture, step string, kind, optBits byte) {
	t.Helper()
	k := fx.keys.keys[int(fx.st.Serial)]
	switch kind {
	case 1:
		fx.st.Opens--
		if fx.st.Opens > 0 {
			return
		}
	case 5:
		if k != nil && optBits&1 != 0 {
			delete(fx.keys.keys, k.serial)
		} else if k != nil {
			k.revoked = true
		}
		return
	case 4:
		return
	}
	if fx.st.Serial <= 0 || !fx.st.Revoke {
		return
	}
	gone := k == nil || k.revoked
	err := fx.frontRevoke()
	if gone && (errors.Is(err, unix.EKEYREVOKED) || errors.Is(err, unix.ENOKEY)) {
		return
	}
	if err != nil || !k.revoked {
		t.Fatalf("%s: the front's revoke of %+v: %v; want it revoked by the thread that possesses it", step, k, err)
	}
}

// addSessionSeeds are the inputs the fuzzer starts from, each a case once
// missed or worth keeping (testdata/fuzz has more).
func addSessionSeeds(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 6, 0, 1, 6, 0})                   // open/close force revoke
	f.Add([]byte{0, 1, 0, 0, 4, 0, 0, 4, 0, 1, 4, 0, 1, 4, 0}) // nested opens, own keyring
	f.Add([]byte{1, 2, 0, 2, 6, 0, 0, 6, 0, 3, 6, 0, 1, 6, 0}) // setcred around open/close
	f.Add([]byte{0, 0, 0, 0, 2, 0x80, 1, 2, 0})                // ENOSYS on @s
	f.Add([]byte{0, 0, 0, 0, 6, 0x8b, 1, 6, 0})                // EDQUOT on join
	f.Add([]byte{3, 0, 0, 0, 6, 0})                            // unknown user
	f.Add([]byte{5, 0, 0, 2, 6, 0})                            // pam_get_user fails
	f.Add([]byte{0, 0, 9, 0, 6, 0})                            // non-root caller
	f.Add([]byte{0, 0, 0, 0, 4, 0, 1, 4, 0, 5, 0, 0, 0, 4, 0}) // revoked externally, reopen
	f.Add([]byte{0, 0, 3, 0, 2, 0, 1, 2, 0})                   // su's ids
	f.Add([]byte{1, 0, 4, 2, 2, 0, 1, 2, 0})                   // saved 4242, bob by setcred
	f.Add([]byte{0, 0, 5, 0, 0, 0})                            // alice opens her own session
	f.Add([]byte{0, 3, 3, 0, 0, 0})                            // root's keyring, no force: replaced
	f.Add([]byte{1, 1, 0, 0, 0, 0})                            // bob's own keyring, no force: kept
	f.Add([]byte{1, 0, 0, 0, 4, 0, 0, 0, 0})                   // revoke, then open without it
	f.Add([]byte{0, 0, 1, 2, 0, 0})                            // establish by nobody: PAM_CRED_ERR
	f.Add([]byte{0, 0, 0, 0, 2, 0x81})                         // ENOSYS on join under force
	f.Add([]byte{1, 0, 2, 0, 2, 0xa4})                         // @u is root's and unlink fails: revoked
}
