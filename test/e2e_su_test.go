package test

import (
	"os/exec"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// TestSuRunuserLogin: "su -l USER -c CMD" and "runuser -l USER -c CMD" as
// root, with our module in place of the pam_keyinit.so line of su-l and
// runuser-l. These hosts open the session in the process that loaded the
// module, fork, call pam_end(PAM_DATA_SILENT) in the child and exec the
// shell; the parent closes (and so revokes) when the command ends.
func TestSuRunuserLogin(t *testing.T) {
	harness.RequireRoot(t)
	for _, host := range []struct{ program, service string }{
		{"su", "su-l"},
		{"runuser", "runuser-l"},
	} {
		t.Run(host.program, func(t *testing.T) {
			log := harness.Log(t)
			log.Collect()
			harness.ReplaceKeyinitLine(t, host.service, harness.Module(t), e2eOptions)
			u := harness.TempLoginUser(t)
			p := harness.NewSessionProbe(t, u, host.program)

			out, err := exec.Command(host.program, "-l", u.Name, "-c", p.Command()).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "probe-started") {
				t.Fatalf("%s -l %s -c ...: %v\n%s", host.program, u.Name, err, out)
			}
			if line := p.CheckInside(t); line != "" {
				p.CheckRevokedAfterLogout(t, line)
			}
			entries := log.Collect()
			defer dumpLog(t, entries)
			checkModuleLog(t, entries, host.service, 1)
		})
	}
}

// TestLoginUnderPty: "login -f USER" on a pseudo-terminal made by script(1),
// the way a getty or telnetd starts a console login. The probe runs from
// the user's ~/.profile (the login shell reads it), so nothing has to be
// typed at the terminal and no prompt has to be waited for.
func TestLoginUnderPty(t *testing.T) {
	harness.RequireRoot(t)
	log := harness.Log(t)
	log.Collect()
	harness.ReplaceKeyinitLine(t, "login", harness.Module(t), e2eOptions)
	u := harness.TempLoginUser(t)
	p := harness.NewSessionProbe(t, u, "login")
	u.WriteFileAs(t, ".profile", []byte(p.Command()+"\nexit 0\n"), 0o644)

	cmd := exec.Command("script", "-q", "-e", "-c", "login -f "+u.Name, "/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "probe-started") {
		t.Fatalf("script -c 'login -f %s': %v\n%s", u.Name, err, out)
	}
	if line := p.CheckInside(t); line != "" {
		p.CheckRevokedAfterLogout(t, line)
	}
	entries := log.Collect()
	defer dumpLog(t, entries)
	checkModuleLog(t, entries, "login", 1)
}
