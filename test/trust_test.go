package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// TestUntrustedCoreRefused: a root process (pamtester here) loads the Go
// core only if the core and its directory are root's and neither group nor
// others may write them, as sudo checks its plugins; otherwise the session
// fails with one LOG_ERR line that says what to fix, and no Go code runs.
func TestUntrustedCoreRefused(t *testing.T) {
	u := harness.TempUser(t)
	logs := harness.Log(t)
	for _, tc := range []struct {
		name   string
		spoil  func(core string) error
		refuse string // "" for the control case, which must work
	}{
		{"as installed", func(string) error { return nil }, ""},
		{"core owned by nobody", func(core string) error { return os.Chown(core, 65534, 65534) }, "must be a root-owned file"},
		{"core writable by its group", func(core string) error { return os.Chmod(core, 0o664) }, "must be a root-owned file"},
		{"core directory writable by others", func(core string) error { return os.Chmod(filepath.Dir(core), 0o757) }, "must be a root-owned directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			front := harness.WorldReadableModule(t, harness.Module(t))
			core := filepath.Join(filepath.Dir(front), "pam_keyinit_go", "core.so")
			if err := tc.spoil(core); err != nil {
				t.Fatal(err)
			}
			svc := harness.SystemService(t, "session required "+front+" force revoke\n")
			logs.Collect()
			out, err := exec.Command("pamtester", svc.Name, u.Name, "open_session", "close_session").CombinedOutput()
			lines := harness.Matching(logs.Collect(), "pam_keyinit_go(", "refusing to load the Go core")
			if tc.refuse == "" {
				if err != nil || len(lines) != 0 {
					t.Fatalf("pamtester: %v, %s; refusals %v: the control case must work", err, out, lines)
				}
				return
			}
			if err == nil {
				t.Errorf("pamtester opened a session with an untrusted core:\n%s", out)
			}
			if len(lines) != 1 || lines[0].Severity() != logErr || !strings.Contains(lines[0].Text, tc.refuse) {
				t.Errorf("log lines %v; want one LOG_ERR saying the core %s", lines, tc.refuse)
			}
		})
	}

	// A setuid-root host that dropped only its effective ids for now is
	// still root in its saved uid: it checks too.
	t.Run("effective uid dropped, saved uid 0", func(t *testing.T) {
		front := harness.WorldReadableModule(t, harness.Module(t))
		if err := os.Chown(filepath.Join(filepath.Dir(front), "pam_keyinit_go", "core.so"), 65534, 65534); err != nil {
			t.Fatal(err)
		}
		svc := harness.SystemService(t, "session required "+front+" force revoke\n")
		logs.Collect()
		got := runHost(t, "ids", svc.Name, u.Name, "65534,65534,0", "65534,65534,0")
		if got["open"] != strconv.Itoa(pamSessionErr) {
			t.Errorf("open with euid 65534 and saved uid 0 = %q; want %d", got["open"], pamSessionErr)
		}
		if lines := harness.Matching(logs.Collect(), "pam_keyinit_go(", "refusing to load the Go core"); len(lines) != 1 {
			t.Errorf("log lines %v; want one refusal", lines)
		}
	})
}
