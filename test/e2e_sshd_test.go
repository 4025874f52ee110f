package test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"pam_keyinit_go/test/harness"
)

// e2eOptions are the options of the module line the end-to-end tests put in
// place of pam_keyinit.so: Debian's "force revoke", plus "debug" so the
// log proves that our module, and not pam_keyinit.so, made the keyring.
const e2eOptions = "force revoke debug"

// checkModuleLog asserts that the module logged, for service, one open and
// one revoke per login and nothing at LOG_ERR or worse.
func checkModuleLog(t *testing.T, entries []harness.Entry, service string, logins int) {
	t.Helper()
	// Only this service's lines: the capture may also get other programs'
	// syslog from outside the test (when it serves the machine's /dev/log).
	tag := fmt.Sprintf("pam_keyinit_go(%s:session)", service)
	for _, e := range harness.Matching(entries, tag) {
		if e.Severity() <= logErr {
			t.Errorf("the module logged an error: %q", e.Text)
		}
	}
	if n := len(harness.Matching(entries, tag, ": OPEN 1")); n != logins {
		t.Errorf("%d %q OPEN lines; want %d (one per login)", n, tag, logins)
	}
	if n := len(harness.Matching(entries, tag, ": REVOKE ")); n != logins {
		t.Errorf("%d %q REVOKE lines; want %d (one per logout)", n, tag, logins)
	}
}

func dumpLog(t *testing.T, entries []harness.Entry) {
	t.Helper()
	if t.Failed() {
		for _, e := range entries {
			t.Logf("syslog <%d> %s", e.Priority, e.Text)
		}
	}
}

// sshLogin logs u in through s, runs the probe p, and checks the session
// from the inside; it returns the keyring's description ("" on failure).
// It reports with t.Errorf only, so goroutines may call it.
func sshLogin(t *testing.T, s *harness.Sshd, u harness.LoginUser, p *harness.SessionProbe, extra ...string) string {
	t.Helper()
	out, err := s.SSH(u.Name, p.Command(), extra...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "probe-started") {
		t.Errorf("ssh %s@127.0.0.1 (%s): %v\n%s", u.Name, p.Dir, err, out)
		return ""
	}
	return p.CheckInside(t)
}

// TestSshdLogin: a real public-key login through a private sshd whose PAM
// service has our module in place of pam_keyinit.so, without and with a
// pseudo-terminal (sshd opens the session in its monitor; the forked
// post-auth child calls setcred(ESTABLISH) again, which must succeed from C).
func TestSshdLogin(t *testing.T) {
	harness.RequireRoot(t)
	log := harness.Log(t)
	log.Collect()
	harness.ReplaceKeyinitLine(t, "sshd", harness.Module(t), e2eOptions)
	s := harness.StartSshd(t)
	u := harness.TempLoginUser(t)
	s.Authorize(t, u)

	for _, mode := range []struct {
		name  string
		extra []string
	}{{"nopty", []string{"-T"}}, {"pty", []string{"-tt"}}} {
		p := harness.NewSessionProbe(t, u, mode.name)
		line := sshLogin(t, s, u, p, mode.extra...)
		if line != "" {
			p.CheckRevokedAfterLogout(t, line)
		}
	}
	s.Alive(t)
	entries := log.Collect()
	defer dumpLog(t, entries)
	checkModuleLog(t, entries, "sshd", 2)
	if n := len(harness.Matching(entries, "Accepted publickey for "+u.Name+" ")); n != 2 {
		t.Errorf("sshd logged %d accepted logins for %s; want 2", n, u.Name)
	}
}

// TestSshdConcurrentLogins: four users log in at the same time; each
// session gets its own keyring, each is revoked at its logout, and sshd
// still answers a login afterwards.
func TestSshdConcurrentLogins(t *testing.T) {
	harness.RequireRoot(t)
	log := harness.Log(t)
	log.Collect()
	harness.ReplaceKeyinitLine(t, "sshd", harness.Module(t), e2eOptions)
	s := harness.StartSshd(t)

	const n = 4
	users := make([]harness.LoginUser, n)
	for i := range users {
		users[i] = harness.TempLoginUser(t)
		s.Authorize(t, users[i])
	}
	probes := make([]*harness.SessionProbe, n)
	for i := range users {
		probes[i] = harness.NewSessionProbe(t, users[i], "concurrent")
	}
	lines := make([]string, n)
	var wg sync.WaitGroup
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines[i] = sshLogin(t, s, users[i], probes[i])
		}()
	}
	wg.Wait()
	for i := range users {
		if lines[i] != "" {
			probes[i].CheckRevokedAfterLogout(t, lines[i])
		}
	}

	s.Alive(t)
	p := harness.NewSessionProbe(t, users[0], "after")
	after := sshLogin(t, s, users[0], p)
	if after == "" {
		t.Errorf("sshd did not take a login after the concurrent ones")
	} else {
		p.CheckRevokedAfterLogout(t, after)
	}
	entries := log.Collect()
	defer dumpLog(t, entries)
	checkModuleLog(t, entries, "sshd", n+1)
}
