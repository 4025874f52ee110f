package keyinit

import (
	"fmt"
	"testing"
)

// A hook must restore all six ids exactly, whatever they were. Tests that
// start only from all-zero ids cannot tell the real, effective and saved ids
// apart, so mix-ups on restore (SetUIDs(saved.RUID, saved.RUID, saved.RUID))
// went unnoticed: every test that switches ids runs from each of these.
var rootStarts = []struct {
	name string
	ids  IDs
}{
	{"root", IDs{}},
	// su and sudo open the session as a setuid-root program: real ids the
	// caller's, effective and saved 0.
	{"setuid-root", IDs{RUID: 1000, RGID: 1000}},
	// A host that parked an id in its saved set (to drop root later).
	{"saved-4242", IDs{SUID: 4242, SGID: 4242}},
}

// forEachRootStart runs body in a subtest per starting ids, each with a
// fresh fixture whose thread starts with them.
func forEachRootStart(t *testing.T, body func(t *testing.T, f *fixture, start IDs)) {
	t.Helper()
	for _, s := range rootStarts {
		t.Run(s.name, func(t *testing.T) { body(t, newFixtureAt(s.ids), s.ids) })
	}
}

// switched is start with the real ids replaced by the target user's: what
// the thread holds while the module makes the keyring.
func switched(start IDs, uid, gid uint32) IDs {
	start.RUID, start.RGID = uid, gid
	return start
}

// switchCalls are the set*id calls that switch the real ids to uid/gid and
// back to start, in the order the module must make them (restores in
// reverse); a switch to an id the thread already has is left out.
func switchCalls(start IDs, uid, gid uint32) []string {
	var pre, post []string
	if gid != start.RGID {
		pre = append(pre, fmt.Sprintf("SetGIDs(%d,-1,-1)", gid))
		post = append(post, fmt.Sprintf("SetGIDs(%d,%d,%d)", start.RGID, start.EGID, start.SGID))
	}
	if uid != start.RUID {
		pre = append(pre, fmt.Sprintf("SetUIDs(%d,-1,-1)", uid))
		post = append([]string{fmt.Sprintf("SetUIDs(%d,%d,%d)", start.RUID, start.EUID, start.SUID)}, post...)
	}
	return append(pre, post...)
}
