package test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// The module exports the four PAM hooks and nothing else: no Go runtime, cgo
// or bridge symbols that another module or the host could bind to.
func TestModuleExportsOnlyThePAMHooks(t *testing.T) {
	out, err := exec.Command("nm", "-D", "--defined-only", harness.Module(t)).Output()
	if err != nil {
		t.Fatalf("nm: %v", err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			got = append(got, f[2])
		}
	}
	slices.Sort(got)
	want := []string{"pam_sm_authenticate", "pam_sm_close_session", "pam_sm_open_session", "pam_sm_setcred"}
	if !slices.Equal(got, want) {
		t.Errorf("exported symbols %v; want %v", got, want)
	}
}
