package test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// TestCoreImportsNoOS: the Go core links neither os nor what imports it (fmt,
// net). os's initialisation wraps fds 0, 1 and 2, and a non-blocking one
// starts the runtime's network poller in the host: an epoll and an eventfd
// it never opened, and a runtime that throws "netpoll failed" if the host
// later closes them (systemd closes every fd it does not know).
func TestCoreImportsNoOS(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./pam")
	cmd.Dir = harness.RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./pam: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "pam_keyinit_go/keyinit") {
		t.Fatalf("go list -deps ./pam printed %d packages without keyinit: %q", len(deps), deps)
	}
	for _, banned := range []string{"os", "fmt", "net", "runtime/debug"} {
		if slices.Contains(deps, banned) {
			t.Errorf("the core links %s", banned)
		}
	}
}
