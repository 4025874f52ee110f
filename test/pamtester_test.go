package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// probeScript is run by pam_exec after our module, in a child of pamtester,
// so it sees what a user's process started by the session would see. It
// appends "PAM_TYPE;description of @s;names of the keys @s links".
const probeScript = `#!/bin/sh
out="$1"
desc=$(keyctl rdescribe @s 2>&1)
links=""
for k in $(keyctl rlist @s 2>/dev/null); do links="$links $(keyctl rdescribe "$k" 2>&1)"; done
echo "$PAM_TYPE;$desc;$links" >> "$out"
`

func TestPamtesterSessionWithProbe(t *testing.T) {
	u := harness.TempUser(t)
	dir := t.TempDir()
	probe, out := filepath.Join(dir, "probe.sh"), filepath.Join(dir, "probe.out")
	if err := os.WriteFile(probe, []byte(probeScript), 0o755); err != nil {
		t.Fatal(err)
	}
	svc := harness.SystemService(t, fmt.Sprintf(
		"auth required pam_permit.so\naccount required pam_permit.so\n"+
			"session required %s force revoke\nsession optional pam_exec.so quiet %s %s\n",
		harness.Module(t), probe, out))

	cmd := exec.Command("pamtester", "-v", svc.Name, u.Name, "open_session", "close_session")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pamtester: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the pam_exec probe left no output: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("probe output %q; want one line for open and one for close", b)
	}
	wantOpen := fmt.Sprintf("open_session;keyring;%d;%d;3f030000;_ses; keyring;%d;", u.UID, u.GID, u.UID)
	if !strings.HasPrefix(lines[0], wantOpen) || !strings.HasSuffix(lines[0], fmt.Sprintf(";_uid.%d", u.UID)) {
		t.Errorf("the session's child saw %q; want %q... linking only _uid.%d", lines[0], wantOpen, u.UID)
	}
	if !strings.HasPrefix(lines[1], "close_session;") || !strings.Contains(lines[1], "revoked") {
		t.Errorf("at close the child saw %q; want the session keyring revoked", lines[1])
	}
}
