package keys

import (
	"reflect"
	"testing"
)

func TestParseKeyUsers(t *testing.T) {
	got, err := ParseKeyUsers([]byte("    0:     9 8/8 3/1000000 56/25000000\n 1001:     2 2/2 170/200 28/20000\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []KeyUser{
		{UID: 0, Usage: 9, Keys: 8, InstantiatedKeys: 8, QuotaKeys: 3, MaxKeys: 1000000, QuotaBytes: 56, MaxBytes: 25000000},
		{UID: 1001, Usage: 2, Keys: 2, InstantiatedKeys: 2, QuotaKeys: 170, MaxKeys: 200, QuotaBytes: 28, MaxBytes: 20000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseKeyUsers = %+v; want %+v", got, want)
	}
	if q := got[1].Quota(); q != "170/200 keys and 28/20000 bytes" {
		t.Errorf("Quota() = %q", q)
	}
	for _, bad := range []string{"0: 9 8/8 3/1000000", "x: 9 8/8 3/1 5/6", "0: 9 8-8 3/1 5/6", "0 9 8/8 3/1 5/6"} {
		if _, err := ParseKeyUsers([]byte(bad)); err == nil {
			t.Errorf("ParseKeyUsers(%q) accepted it", bad)
		}
	}
}

func TestParseDescription(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  Description
		ok    bool
		owner uint32 // ParseOwner reads only the uid
	}{
		{"keyring;1001;1001;3f030000;_ses\x00", Description{"keyring", 1001, 1001, 0x3f030000, "_ses"}, true, 1001},
		{"user;0;0;3f010000;a;b;c", Description{"user", 0, 0, 0x3f010000, "a;b;c"}, true, 0},
		{"keyring;1001;1001;3f030000", Description{}, false, 0},
		{"keyring;x;1001;3f030000;_ses", Description{}, false, 0},
		{"keyring;1001;1001;zz;_ses", Description{}, false, 1001},
		{"keyring;-2147483648;-1;3f030000;_ses", Description{"keyring", 1 << 31, 1<<32 - 1, 0x3f030000, "_ses"}, true, 1 << 31},
		{"keyring;4294967296;0;3f030000;_ses", Description{}, false, 0},
		{"", Description{}, false, 0},
	} {
		got, err := ParseDescription([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDescription(%q) = %+v, %v; want %+v, ok %t", tc.in, got, err, tc.want, tc.ok)
		}
		owner, err := ParseOwner([]byte(tc.in))
		if ownerOK := tc.ok || tc.owner != 0; (err == nil) != ownerOK || owner != tc.owner {
			t.Errorf("ParseOwner(%q) = %d, %v; want %d, ok %t", tc.in, owner, err, tc.owner, ownerOK)
		}
	}
}

// The module parses the owner at every open, on a stack buffer: nothing of
// it may reach the heap ('make bench' counts 0 allocations per pair).
func TestParseOwnerAllocatesNothing(t *testing.T) {
	var buf [256]byte
	n := copy(buf[:], "keyring;4242;100;1f3f0000;_uid.4242")
	if a := testing.AllocsPerRun(100, func() {
		if u, err := ParseOwner(buf[:n]); err != nil || u != 4242 {
			t.Fatal(u, err)
		}
	}); a != 0 {
		t.Errorf("ParseOwner allocates %v times per call; want 0", a)
	}
}
