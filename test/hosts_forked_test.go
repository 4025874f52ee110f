package test

import (
	"testing"

	"pam_keyinit_go/test/harness"
)

// The C paths of a child forked after the parent opened the session (as
// systemd's "(sd-pam)" is), one at a time: each must do its own part of the
// unmaking, and none may touch the child's ids or capabilities.

func TestForkedChildCloseOnlyRevokes(t *testing.T) {
	got := runForkedChild(t, "child-close")
	expect(t, got, harness.User{}, map[string]string{
		"child close":                "0",
		"child session after close":  "revoked",
		"parent session after child": "revoked",
		// The host left SIGSEGV at its default: the runtime's handler
		// serves the parent, and is gone in the child, where Go cannot run.
		"parent SIGSEGV": "a handler",
		"child SIGSEGV":  "default",
	})
}

func TestForkedChildDeleteCredOnlyRevokes(t *testing.T) {
	got := runForkedChild(t, "child-delete")
	expect(t, got, harness.User{}, map[string]string{
		"child setcred delete":       "0",
		"child session after delete": "revoked",
		"parent session after child": "revoked",
	})
}

// Two opens, two closes: the first close leaves a session open, so it must
// not revoke; the last one must.
func TestForkedChildNestedClosesRevokeAtTheLast(t *testing.T) {
	got := runForkedChild(t, "child-nested-close")
	expect(t, got, harness.User{}, map[string]string{
		"child close 1":               "0",
		"child session after close 2": "revoked",
		"parent session after child":  "revoked",
	})
	if k := got["child session after close 1"]; k != got["parent session"] {
		t.Errorf("after the first of two closes the keyring is %q; want it intact, %q", k, got["parent session"])
	}
}

// runForkedChild runs a child-* pattern of pamhost for a new user and checks
// what every such pattern shares: the parent's open made the user's keyring,
// and the child ended with the ids and capabilities it started with.
func runForkedChild(t *testing.T, pattern string) map[string]string {
	t.Helper()
	u := harness.TempUser(t)
	got := runHost(t, pattern, hostService(t, harness.Module(t)).Name, u.Name)
	expect(t, got, u, map[string]string{
		"parent open":    "0",
		"parent session": "user-keyring",
		"child exit":     "0",
		"parent end":     "0",
	})
	if got["child before ids"] == "" || got["child after ids"] != got["child before ids"] {
		t.Errorf("the child's ids and capabilities went from %q to %q", got["child before ids"], got["child after ids"])
	}
	return got
}
