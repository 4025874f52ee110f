package keyinit

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzParseOptions: the arguments are the input split at NUL bytes (a pam.d
// argument cannot hold one). Known words set their flag, everything else is
// kept in order as unknown, and the log line stays one short, printable line.
func FuzzParseOptions(f *testing.F) {
	for _, seed := range []string{"", "force", "force\x00revoke\x00debug", "force=1", "\xff\xfe\x00revoke",
		strings.Repeat("x", 4096), strings.Repeat("a\x00", 300)} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		args := strings.Split(string(data), "\x00")
		o := ParseOptions(args)
		if o.Debug != slices.Contains(args, "debug") || o.Force != slices.Contains(args, "force") ||
			o.Revoke != slices.Contains(args, "revoke") {
			t.Errorf("ParseOptions(%q) = %+v: flags do not match the words", args, o)
		}
		var unknown []string
		for _, a := range args {
			if a != "debug" && a != "force" && a != "revoke" {
				unknown = append(unknown, a)
			}
		}
		if !slices.Equal(o.Unknown, unknown) {
			t.Errorf("ParseOptions(%q).Unknown = %q; want %q", args, o.Unknown, unknown)
		}
		msg := o.UnknownMessage()
		if (msg == "") != (len(unknown) == 0) {
			t.Fatalf("UnknownMessage = %q for unknown %q", msg, unknown)
		}
		if msg == "" {
			return
		}
		checkLogLine(t, msg)
		if !strings.HasPrefix(msg, "ignoring unknown option") || !strings.HasSuffix(msg, validTail) {
			t.Errorf("UnknownMessage = %q", msg)
		}
		for _, a := range unknown[:min(len(unknown), maxLoggedArgs)] {
			if q := quoteArg(a); !strings.Contains(msg, q) {
				t.Errorf("UnknownMessage %q does not name %s", msg, q)
			}
		}
		if n := len(unknown) - maxLoggedArgs; n > 0 && !strings.Contains(msg, fmt.Sprintf("(and %d more)", n)) {
			t.Errorf("UnknownMessage %q does not count the %d more", msg, n)
		}
	})
}

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

// FuzzSessionStateMachine drives one PAM handle's state through a random
// sequence of open, close and setcred calls with random options and
// injected kernel and id-switch faults (including panics), against the fake
// kernel. After every call: the thread's ids are what they were, the code is
// one the hook may return, at most one line besides the unknown-options and
// debug lines was logged, and a keyring the module made is owned by the
// target user and links only that user's keyring. At the last close (or
// setcred DELETE) with revoke, the keyring made is revoked unless a fault
// was injected into that call.
func FuzzSessionStateMachine(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 6, 0, 1, 6, 0})                   // open/close force revoke
	f.Add([]byte{0, 1, 0, 0, 4, 0, 0, 4, 0, 1, 4, 0, 1, 4, 0}) // nested opens, own keyring
	f.Add([]byte{1, 2, 0, 2, 6, 0, 0, 6, 0, 3, 6, 0, 1, 6, 0}) // setcred around open/close
	f.Add([]byte{0, 0, 0, 0, 2, 0x80, 1, 2, 0})                // ENOSYS on @s
	f.Add([]byte{0, 0, 0, 0, 6, 0x8b, 1, 6, 0})                // EDQUOT on join
	f.Add([]byte{0, 0, 0, 0, 6, 0, 1, 6, 0xc5})                // panic in revoke
	f.Add([]byte{3, 0, 0, 0, 6, 0})                            // unknown user
	f.Add([]byte{5, 0, 0, 2, 6, 0})                            // pam_get_user fails
	f.Add([]byte{0, 0, 9, 0, 6, 0})                            // non-root caller
	f.Add([]byte{0, 0, 0, 0, 4, 0, 1, 4, 0, 5, 0, 0, 0, 4, 0}) // revoked externally, reopen
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data}
		fx := newFixture()
		users := []string{"alice", "bob", "root", "nobody-here", "", "alice"}
		fx.host.user = users[int(in.next())%len(users)]
		if fx.host.user == "alice" && len(data) > 0 && data[0] == 5 {
			fx.host.userCode = ConvErr
		}
		target := fx.host.users[fx.host.user]
		switch in.next() % 3 {
		case 1:
			fx.keys.session["main"] = fx.keys.newKey("mine", 0, 0).serial
		case 2:
			k := fx.keys.newKey("old", 0, 0)
			k.revoked = true
			fx.keys.session["main"] = k.serial
		}
		switch in.next() % 8 {
		case 1: // a caller that is not root
			fx.creds.ids = IDs{65534, 65534, 65534, 65534, 65534, 65534}
		case 2: // @u resolves to root's keyring: the owner check must undo the link
			fx.keys.userKeyringOf = func(uint32) uint32 { return 0 }
		}
		start := fx.creds.ids
		revokeSeen := false // a hook that can make a keyring was given "revoke"
		// Keyrings that existed when an injected panic cut a hook short: a
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
			if kind == 5 { // someone else revokes or destroys the keyring made
				if k := fx.keys.keys[int(fx.st.Serial)]; k != nil {
					if optBits&1 != 0 {
						delete(fx.keys.keys, k.serial)
					} else {
						k.revoked = true
					}
				}
				continue
			}

			faulted, panicky := false, false
			fx.keys.queued = map[string][]error{}
			fx.keys.panicOn = ""
			fx.creds.fault = nil
			if faultByte >= 0x80 {
				faulted = true
				op := fuzzOps[int(faultByte)%len(fuzzOps)]
				errno := fuzzErrnos[int(faultByte>>3)%len(fuzzErrnos)]
				switch {
				case faultByte >= 0xc0 && op != "SetUIDs" && op != "SetGIDs":
					fx.keys.panicOn, panicky = op, true
				case op == "SetUIDs" || op == "SetGIDs":
					// Only switches fail; a restore from root cannot.
					used := false
					fx.creds.fault = func(got string, r, e, s uint32) error {
						if got == op && !used && (r == Keep || e == Keep || s == Keep) {
							used = true
							return errno
						}
						return nil
					}
				default:
					fx.keys.failNext(op, errno)
				}
			}

			madeBefore := fx.st.Serial
			if (kind == 0 || kind == 2) && slices.Contains(opts, "revoke") {
				revokeSeen = true
			}
			logsBefore := len(fx.host.logs)
			var code Code
			var name string
			var allowed []Code
			panicked := func() (p any) {
				defer func() { p = recover() }()
				switch kind {
				case 0:
					name, allowed = "open", []Code{Success, UserUnknown, SessionErr, ConvErr}
					code = fx.m.OpenSession(&fx.st, opts)
				case 1:
					name, allowed = "close", []Code{Success}
					code = fx.m.CloseSession(&fx.st, opts)
				case 2:
					name, allowed = "setcred establish", []Code{Success, UserUnknown, CredErr, ConvErr}
					code = fx.m.Setcred(&fx.st, FlagEstablishCred, opts)
				case 3:
					name, allowed = "setcred delete", []Code{Success, CredErr, Ignore}
					code = fx.m.Setcred(&fx.st, FlagDeleteCred, opts)
				case 4:
					name, allowed = "setcred other", []Code{Ignore}
					flags := []int{0, FlagReinitializeCred, FlagRefreshCred, FlagSilent}
					code = fx.m.Setcred(&fx.st, flags[int(optBits>>4)%len(flags)], opts)
				}
				return nil
			}()
			step := fmt.Sprintf("step %d: %s %q (fault %#x)", steps, name, opts, faultByte)

			if fx.creds.ids != start {
				t.Fatalf("%s: thread ids %+v; want %+v restored", step, fx.creds.ids, start)
			}
			if fx.st.Revoke != revokeSeen {
				t.Fatalf("%s: state records revoke %t; want %t", step, fx.st.Revoke, revokeSeen)
			}
			if panicked != nil {
				if !panicky {
					t.Fatalf("%s: panic: %v", step, panicked)
				}
				for serial := range fx.keys.keys {
					cutShort[serial] = true
				}
				continue // the bridge turns it into an error; the state goes on
			}
			if !slices.Contains(allowed, code) {
				t.Fatalf("%s = %d; want one of %v", step, code, allowed)
			}
			other := 0
			for _, l := range fx.host.logs[logsBefore:] {
				if l.prio != LogDebug && !strings.HasPrefix(l.msg, "ignoring unknown option") {
					other++
				}
			}
			if other > 1 {
				t.Fatalf("%s logged %d lines: %+v", step, other, fx.host.logs[logsBefore:])
			}

			if fx.st.Serial > 0 {
				k := fx.keys.keys[int(fx.st.Serial)]
				if k != nil && (k.uid != target[0] || k.gid != target[1]) {
					t.Fatalf("%s: keyring %+v made for %q, not owned by %v", step, k, fx.host.user, target)
				}
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
			lastClose := kind == 1 && fx.st.Opens <= 0 || kind == 3
			if lastClose && madeBefore > 0 && revokeSeen {
				if !faulted && fx.st.Serial != 0 {
					t.Fatalf("%s: state still records keyring %d", step, fx.st.Serial)
				}
				if k := fx.keys.keys[int(madeBefore)]; !faulted && k != nil && !k.revoked {
					t.Fatalf("%s: keyring %d made with revoke is not revoked", step, madeBefore)
				}
			}
		}
	})
}
