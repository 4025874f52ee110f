package keyinit

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// The fake kernel must refuse what the real one refuses, or the policy
// tests could assert the impossible (they once had an owner revoke a "_ses"
// it no longer possessed). keyctl(2): KEYCTL_REVOKE needs write or setattr
// permission; "_ses" (0x3f030000) grants its owner only view and read, so
// only possession lets anyone revoke it, root included.
func TestFakeRevokeFollowsKeyctl(t *testing.T) {
	for _, tc := range []struct {
		name      string
		perm      uint32
		euid      uint32
		possessed bool
		want      error
	}{
		{"_ses, owner, possessed", permSession, aliceUID, true, nil},
		{"_ses, root, possessed", permSession, 0, true, nil},
		{"_ses, owner, not possessed", permSession, aliceUID, false, unix.EACCES},
		{"_ses, root, not possessed", permSession, 0, false, unix.EACCES},
		{"_uid.N, owner, not possessed", permUser, aliceUID, false, nil},
		{"_uid.N, another uid, not possessed", permUser, bobUID, false, unix.EACCES},
	} {
		f := newFixtureAt(IDs{EUID: tc.euid})
		key := f.keys.newKey("k", aliceUID, aliceGID, tc.perm)
		if tc.possessed {
			// Possessed through a link from the thread's session keyring.
			ring := f.keys.newKey("ring", 0, 0, permSession)
			ring.links = []int{key.serial}
			f.keys.session["main"] = ring.serial
		}
		if err := f.keys.Revoke(key.serial); !errors.Is(err, tc.want) || key.revoked != (tc.want == nil) {
			t.Errorf("%s: Revoke = %v, revoked %t; want %v", tc.name, err, key.revoked, tc.want)
		}
	}
}
