package keyinit

import "testing"

// Without root, a thread may set an id only to one of its own real,
// effective or saved ids. A thread whose real id it holds nowhere else (a
// setgid program run by alice: real gid hers, effective and saved the
// program's) could switch that real id to the user's, but never back: the
// module must refuse before switching anything, and leave the ids alone.
func TestSwitchThatCannotBeUndoneIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start IDs
	}{
		// Alice's own uids, a real gid only in the real slot: the switch to
		// her gid would be allowed (she holds it as effective and saved).
		{"real gid held nowhere else", IDs{RUID: aliceUID, EUID: aliceUID, SUID: aliceUID, RGID: 50, EGID: aliceGID, SGID: aliceGID}},
		{"real uid held nowhere else", IDs{RUID: 50, EUID: aliceUID, SUID: aliceUID, RGID: aliceGID, EGID: aliceGID, SGID: aliceGID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixtureAt(tc.start)
			if got := f.open("force"); got != SessionErr {
				t.Errorf("open = %d; want %d", got, SessionErr)
			}
			f.checkIDs(t, tc.start)
			f.checkLogs(t, LogErr, "Unable to switch ids for uid 1001 temporarily: without root this thread could not switch its real ids back")
			if f.st.Serial != 0 {
				t.Errorf("a keyring was made: %d", f.st.Serial)
			}
		})
	}
}

// The other side of the rule: without root, a switch to ids the thread holds
// (here bob's, parked in the saved slots) whose real ids it also holds
// elsewhere is made, and undone.
func TestSwitchThatCanBeUndoneIsMade(t *testing.T) {
	start := IDs{RUID: aliceUID, EUID: aliceUID, SUID: bobUID, RGID: aliceGID, EGID: aliceGID, SGID: bobGID}
	f := newFixtureAt(start)
	f.host.user = "bob"
	if got := f.open("force"); got != Success {
		t.Fatalf("open = %d; want %d (logs %+v)", got, Success, f.host.logs)
	}
	f.checkIDs(t, start)
	f.checkMade(t, bobUID, bobGID)
}
