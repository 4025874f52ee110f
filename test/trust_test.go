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
// others may write them, as sudo checks its plugins; otherwise no Go code
// runs, and the plain keyinit in C makes the keyring, with one LOG_WARNING
// line that says what to fix.
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
			lines := harness.Matching(logs.Collect(), "pam_keyinit_go(")
			if err != nil {
				t.Fatalf("pamtester: %v, %s", err, out)
			}
			if tc.refuse == "" {
				if len(lines) != 0 {
					t.Fatalf("log lines %v: the control case must load the core", lines)
				}
				return
			}
			faultOneLine(t, lines, logWarning, "made session keyring ", plainKeyinitSays,
				"is not trusted: ", tc.refuse)
		})
	}

	// A setuid-root host that dropped only its effective ids for now is
	// still root in its saved uid: it checks too, even with every
	// capability dropped as well (its saved uid can make it root again).
	t.Run("effective uid dropped, saved uid 0, no capabilities", func(t *testing.T) {
		front := harness.WorldReadableModule(t, harness.Module(t))
		if err := os.Chown(filepath.Join(filepath.Dir(front), "pam_keyinit_go", "core.so"), 65534, 65534); err != nil {
			t.Fatal(err)
		}
		svc := harness.SystemService(t, "session required "+front+" force revoke\n")
		logs.Collect()
		got := runHost(t, "ids", svc.Name, u.Name, "65534,65534,0", "65534,65534,0", "no-caps")
		if f := strings.Fields(got["start ids"]); len(f) < 3 || strings.Trim(strings.Join(f[len(f)-3:], ""), "0") != "" {
			t.Fatalf("pamhost's starting ids and capabilities %q; want no capability left", got["start ids"])
		}
		// The plain keyinit in C then fails as the Go core would: with
		// euid 65534 the thread may not take the user's gid.
		if got["open"] != strconv.Itoa(pamSessionErr) {
			t.Errorf("open with euid 65534 and saved uid 0 = %q; want %d", got["open"], pamSessionErr)
		}
		faultOneLine(t, harness.Matching(logs.Collect(), "pam_keyinit_go("), logErr, "Unable to change GID to ",
			plainKeyinitSays, "is not trusted: ")
	})
}
