package keyring

import (
	"strings"
	"testing"
)

var (
	rootUS  = Key{Serial: 1, Type: "keyring", Name: "_uid_ses.0", UID: 0, Owner: "root"}
	rootSes = Key{Serial: 2, Type: "keyring", Name: "_ses", UID: 0, Owner: "root"}
	aliceU  = Key{Serial: 3, Type: "keyring", Name: "_uid.1001", UID: 1001, Owner: "alice"}
	aliceS  = Key{Serial: 4, Type: "keyring", Name: "_ses", UID: 1001, Owner: "alice", Links: []Key{aliceU}}
	bare    = Key{Serial: 5, Type: "keyring", Name: "_ses", UID: 1001, Owner: "alice"}
	revoked = Key{Serial: 4, Revoked: true}
)

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Outcome
		ok   bool
		want string
	}{
		{"new, linked, revoked", Outcome{Before: &rootUS, AfterOpen: &aliceS, AfterClose: &revoked},
			true, "new session keyring _ses (serial 4) owned by alice, linked to alice's user keyring _uid.1001; revoked at close"},
		{"new, kept at close", Outcome{Before: &rootUS, AfterOpen: &aliceS, AfterClose: &aliceS},
			true, "; kept at close (no revoke"},
		{"not linked", Outcome{Before: &rootUS, AfterOpen: &bare},
			true, "not linked to alice's user keyring _uid.1001"},
		{"kept own", Outcome{Before: &aliceS, AfterOpen: &aliceS},
			true, "kept the session keyring the process already had, _ses (serial 4), owned by alice"},
		{"no module", Outcome{Before: &rootUS, AfterOpen: &rootUS, AfterClose: &rootUS},
			false, "no session keyring of its own after open: @s is the user-session keyring _uid_ses.0 (serial 1) owned by root (uid 0)"},
		{"no force", Outcome{Before: &rootSes, AfterOpen: &rootSes},
			false, "kept the session keyring the process already had, _ses (serial 2) owned by root (uid 0), not alice's: without force"},
		{"someone else's new keyring", Outcome{Before: &rootUS, AfterOpen: &rootSes},
			false, "new session keyring _ses (serial 2) owned by root (uid 0), not by alice (uid 1001)"},
		{"open failed", Outcome{Before: &rootUS, AfterOpen: &aliceS, OpenErr: "Cannot make/remove an entry for the specified session (PAM code 14)"},
			false, "open_session failed: Cannot make"},
		{"revoked after open", Outcome{AfterOpen: &revoked}, false, "the session keyring after open (serial 4) is revoked"},
		{"unknown", Outcome{}, false, "the session keyring after open is unknown"},
		{"close failed", Outcome{Before: &rootUS, AfterOpen: &aliceS, AfterClose: &revoked, CloseErr: "x"}, true, "revoked at close; close_session failed: x"},
	} {
		tc.o.User, tc.o.UID = "alice", 1001
		v := Judge(tc.o)
		if v.OK != tc.ok || !strings.Contains(v.Text, tc.want) {
			t.Errorf("%s: Judge = %t %q; want %t and %q", tc.name, v.OK, v.Text, tc.ok, tc.want)
		}
	}
	v := Judge(Outcome{User: "alice", UID: 1001, Before: &rootUS, AfterOpen: &aliceS, AfterClose: &revoked})
	if !v.Own || !v.New || !v.LinkedUserKeyring || !v.RevokedAtClose {
		t.Errorf("flags = %+v; want all true", v)
	}
}
