package test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/test/harness"
)

// TestHostIDsAndCapabilitiesKept: a host that starts with unusual ids or
// capabilities gets every one back after each hook, for a "force revoke"
// session. pam_keyinit.so's revoke switches the effective ids to the
// keyring's owner and back, which raised a dropped CAP_DAC_OVERRIDE again
// and left a 0/0/4242 host at 0/USER/0; ours revokes without any switch.
func TestHostIDsAndCapabilitiesKept(t *testing.T) {
	u := harness.TempUser(t)
	// A copy every user can read: one case runs PAM as the user, and the
	// checkout may sit in a directory only root may enter.
	svc := hostService(t, harness.WorldReadableModule(t, harness.Module(t)))
	user := fmt.Sprintf("%d,%d,%d", u.UID, u.UID, u.UID)
	group := fmt.Sprintf("%d,%d,%d", u.GID, u.GID, u.GID)
	for _, tc := range []struct {
		name       string
		uids, gids string
		dropCap    bool
	}{
		{"su and sudo: real 1000, effective and saved 0", "1000,0,0", "1000,0,0", false},
		{"saved uid 4242", "0,0,4242", "0,0,4242", false},
		{"CAP_DAC_OVERRIDE dropped from the effective set", "0,0,0", "0,0,0", true},
		{"running as the target user itself", user, group, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"ids", svc.Name, u.Name, tc.uids, tc.gids}
			if tc.dropCap {
				args = append(args, "drop-dac-override")
			}
			got := runHost(t, args...)
			expect(t, got, u, map[string]string{
				"open":                "0",
				"session":             "user-keyring",
				"close":               "0",
				"session after close": "revoked",
				"end":                 "0",
			})
			start := got["start ids"]
			if start == "" {
				t.Fatal("pamhost printed no starting ids")
			}
			fields := strings.Fields(start)
			eff, err := strconv.ParseUint(fields[len(fields)-1], 16, 64)
			if tc.dropCap && (err != nil || eff&(1<<unix.CAP_DAC_OVERRIDE) != 0 || eff == 0) {
				t.Errorf("starting ids %q: want a root host without CAP_DAC_OVERRIDE in its effective set", start)
			}
			for _, after := range []string{"after start", "after open", "after close", "after end"} {
				if got[after+" ids"] != start {
					t.Errorf("%s: ids/caps %q; want the starting %q", after, got[after+" ids"], start)
				}
			}
		})
	}
}
