package test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/test/harness"
)

// TestKerberosTicketsThroughSetuidSu: where pam_krb5's Kerberos tickets
// end up when a user logs in with the real setuid "su -l", and what
// "keyinit-go check" says about the stack. su (like login, sudo and display
// managers) calls pam_setcred(ESTABLISH) before pam_open_session, and
// pam_krb5 stores the TGT at setcred: with a KEYRING:session: cache it goes
// into whatever session keyring su has at that moment.
//
// An unprivileged caller, in a session keyring of its own that the test
// makes for it ("kig-caller"), runs "su - TARGET -c PROBE" on a terminal and
// types the target's Kerberos password (pam_krb5 authenticates against a
// throwaway MIT KDC, the local password is never asked: pam_deny follows).
// For each keyinit module (ours, and Linux-PAM's pam_keyinit.so in the same
// lines with the same options) and each of two su-l stacks:
//
//   - session-only: "session optional MODULE force revoke" before
//     pam_krb5's session line, nothing in auth. The TGT lands in the
//     caller's keyring, at setcred, before the module makes the user's _ses
//     at open_session. In the user's shell KRB5CCNAME names a
//     KEYRING:session: cache, but klist finds no such keyring in the _ses.
//     At logout the _ses is revoked, and the TGT stays behind in the
//     caller's keyring, where the caller's own klist lists it: pam_krb5
//     destroys the cache it finds in su's session keyring then, which is
//     the user's _ses by that time, never the caller's.
//     keyinit-go check warns (keys-before-session).
//   - auth-line: also "auth optional MODULE force revoke" first in the auth
//     stack. The module makes the user's _ses at setcred, pam_krb5 stores the
//     TGT there, the session line keeps that keyring: klist in the shell
//     lists krbtgt/REALM@REALM, the caller's keyring stays clean, and at
//     logout the _ses is revoked (revoke) and the ticket keys are gone.
//     keyinit-go check is clean.
//
// Both modules behave the same: pam_keyinit.so's pam_sm_setcred also makes
// the keyring on PAM_ESTABLISH_CRED, so its auth line moves the tickets into
// the user's keyring too. (Debian 12's build, libpam-modules 1.5.2, seen
// disassembled: pam_sm_setcred jumps to the open code for ESTABLISH_CRED and
// to the close code for DELETE_CRED once a keyring was made; its
// pam_sm_authenticate returns PAM_IGNORE.)
func TestKerberosTicketsThroughSetuidSu(t *testing.T) {
	harness.RequirePrivateMounts(t)
	requireKerberosClient(t)
	checkKrb5ProfileDisabled(t)
	kdc := harness.StartKDC(t)
	// su is setuid: libkrb5 ignores KRB5_CONFIG there (secure_getenv) and
	// reads /etc/krb5.conf, so the test's realm must be seen there.
	harness.OverlayFile(t, "/etc/krb5.conf", []byte(kdc.Krb5Conf))
	log := harness.Log(t)
	tool := harness.Built(t, "keyinit-go")

	for _, c := range []struct {
		name     string
		module   string
		authLine bool // "auth optional MODULE force revoke" first in auth
		// The codes of keyinit-go check's findings for the stack, all of them.
		findings []string
	}{
		{name: "ours/session-only", module: harness.Module(t), findings: []string{"keys-before-session"}},
		{name: "ours/auth-line", module: harness.Module(t), authLine: true},
		{name: "pam_keyinit/session-only", module: harness.CModule(t), findings: []string{"keys-before-session"}},
		{name: "pam_keyinit/auth-line", module: harness.CModule(t), authLine: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			su := newSetuidSu(t)
			kdc.AddPrincipal(t, su.target.Name, su.password)
			principal := su.target.Name + "@" + kdc.Realm
			tgt := "krbtgt/" + kdc.Realm + "@" + kdc.Realm
			// pam_krb5 substitutes %u itself; the name is spelled out
			// here for the caller's klist and the key names.
			cacheName := fmt.Sprintf("krb5cc_%d", su.target.UID)
			ccache := "KEYRING:session:" + cacheName
			harness.OverlayFile(t, "/etc/pam.d/su-l", []byte(krb5SuStack(c.module, ccache, c.authLine)))

			// The user's shell: its session keyring and what it links
			// (harness.SessionProbe, which also watches the keyring past
			// logout), the cache pam_krb5 named, and klist.
			p := harness.NewSessionProbe(t, su.target, "krb5")
			probe := p.Command() + `; echo "KRB5CCNAME=$KRB5CCNAME"; klist 2>&1; echo "klist-exit=$?"`
			// The caller's shell: a new session keyring of its own
			// (keyctl new_session gives it to the shell, its parent), else
			// it would share the test process's keyring; then su, and once
			// su has ended, the keyring and the target's cache in it as
			// the caller sees them. It exits itself: the "&& exec su" that
			// run appends to a prelude is never reached.
			prelude := fmt.Sprintf(`keyctl new_session kig-caller >/dev/null && su - "$1" -c "$2"; st=$?; `+
				`echo "su-exit=$st"; echo "caller-keyring=$(keyctl rdescribe @s)"; keyctl show @s; `+
				`KRB5CCNAME=%s klist 2>&1; echo "caller-klist-exit=$?"; exit $st`, ccache)
			log.Collect()
			o := su.run(t, prelude, probe, "", nil)
			entries := log.Collect()
			defer dumpLog(t, entries)
			t.Logf("caller %s, target %s: %s; terminal:\n%s", su.caller.Name, su.target.Name, o, o.text)
			shell, caller, found := strings.Cut(o.text, "su-exit=")
			if o.status != 0 || !found || !strings.Contains(shell, "probe-started") {
				t.Fatalf("%s; want su and the session's command to run to the end with status 0", o)
			}
			if len(harness.Matching(entries, "pam_krb5(su-l:auth): user "+su.target.Name+" authenticated as "+principal)) != 1 {
				t.Errorf("syslog has no pam_krb5 authentication of %s through su-l", principal)
			}
			for _, e := range moduleErrors(entries) {
				t.Errorf("a keyinit module logged an error: %q", e.Text)
			}
			wantCaller := fmt.Sprintf("caller-keyring=keyring;%d;%d;3f130000;kig-caller", su.caller.UID, su.caller.GID)
			if !strings.Contains(caller, wantCaller) {
				t.Errorf("the caller's shell is not in the keyring the test gave it (%s)", wantCaller)
			}
			if !strings.Contains(shell, "KRB5CCNAME="+ccache) {
				t.Errorf("the user's shell does not have KRB5CCNAME=%s from pam_krb5", ccache)
			}

			// Where the TGT is: in the _ses of the user's session, or left in
			// the caller's keyring (past su's end, for the caller's klist).
			inside, err := os.ReadFile(filepath.Join(p.Dir, "inside"))
			if err != nil {
				t.Fatalf("the session's command wrote nothing: %v", err)
			}
			inSession := keysNamed(string(inside), "keyring: "+cacheName, "user: "+tgt)
			inCaller := strings.Contains(caller, "keyring: "+cacheName) && strings.Contains(caller, "user: "+tgt)
			shellKlistOK := strings.Contains(shell, "Default principal: "+principal) && strings.Contains(shell, tgt) &&
				strings.Contains(shell, "klist-exit=0")
			shellKlistNotFound := strings.Contains(shell, "klist: Credentials cache keyring 'session:"+cacheName) &&
				strings.Contains(shell, "not found") && strings.Contains(shell, "klist-exit=1")
			callerKlistOK := strings.Contains(caller, "Default principal: "+principal) && strings.Contains(caller, "caller-klist-exit=0")
			t.Logf("TGT in the user's _ses: %v; in the caller's keyring after su: %v; klist in the shell lists it: %v",
				len(inSession) == 2, inCaller, shellKlistOK)
			if c.authLine {
				if len(inSession) != 2 || inCaller || callerKlistOK {
					t.Errorf("with the auth line the TGT is not in the user's _ses alone (session has %s and %s: %v; caller's keyring: %v, its klist lists it: %v)\nsession keyring:\n%s",
						cacheName, tgt, inSession, inCaller, callerKlistOK, inside)
				}
				if !shellKlistOK {
					t.Errorf("klist in the user's shell does not list %s for %s", tgt, principal)
				}
			} else {
				if len(inSession) != 0 || !inCaller || !callerKlistOK {
					t.Errorf("without the auth line the TGT is not left in the caller's keyring alone (session has %v; caller's keyring: %v, its klist lists it: %v)\nsession keyring:\n%s",
						inSession, inCaller, callerKlistOK, inside)
				}
				if !shellKlistNotFound {
					t.Errorf("klist in the user's shell does not say that keyring %s is not found", cacheName)
				}
			}

			// At logout: the user's _ses is revoked (the modules' revoke),
			// and the ticket keys it held are gone. Either of two things
			// removes them: revoking a keyring drops its links, and
			// pam_krb5 destroys its cache in su's session keyring, this
			// _ses (a run without revoke: the _ses stays, the keys go).
			if line := p.CheckInside(t); line != "" {
				p.CheckRevokedAfterLogout(t, line)
			}
			for _, id := range inSession {
				k := waitKeyGone(id, 10*time.Second)
				t.Logf("after logout, the session's ticket key %d: %v", id, k)
				if k.Err == nil && !k.Revoked {
					t.Errorf("after logout the session's ticket key is still there: %v", k)
				}
			}

			checkKeysBeforeSession(t, tool, c.findings)
		})
	}
}

// krb5SuStack is a self-contained /etc/pam.d/su-l (what "su -l" and
// "su -" read): Kerberos authentication only, the keyinit module in the
// session stack before pam_krb5's session line, and, with authLine, first
// in the auth stack too. minimum_uid=1000 as Debian's pam-auth-update
// profile for pam_krb5 has it (the temporary users are far above).
func krb5SuStack(module, ccache string, authLine bool) string {
	var b strings.Builder
	if authLine {
		fmt.Fprintf(&b, "auth     optional   %s force revoke\n", module)
	}
	fmt.Fprintf(&b, "auth     sufficient pam_krb5.so minimum_uid=1000 ccache=%s\n", ccache)
	b.WriteString("auth     required   pam_deny.so\n")
	b.WriteString("account  required   pam_unix.so\n")
	fmt.Fprintf(&b, "session  optional   %s force revoke\n", module)
	fmt.Fprintf(&b, "session  optional   pam_krb5.so minimum_uid=1000 ccache=%s\n", ccache)
	b.WriteString("session  required   pam_unix.so\n")
	return b.String()
}

// showLine is one line of "keyctl show": the key's id, then its name.
var showLine = regexp.MustCompile(`(?m)^\s*(\d+) \S+\s+\d+\s+\d+\s+(?:\\_ )*(.+)$`)

// keysNamed are the ids of the keys that "keyctl show" output lists with
// one of the names ("keyring: NAME", "user: NAME"), in the order found.
func keysNamed(show string, names ...string) []int {
	var ids []int
	for _, m := range showLine.FindAllStringSubmatch(show, -1) {
		for _, n := range names {
			if strings.TrimSpace(m[2]) == n {
				id, _ := strconv.Atoi(m[1])
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// waitKeyGone waits until key id is revoked or gone (the garbage collector
// frees a key with no references left in its own time) and returns what
// Describe last said of it.
func waitKeyGone(id int, timeout time.Duration) harness.Key {
	deadline := time.Now().Add(timeout)
	for {
		k := harness.Describe(id)
		if k.Revoked || errors.Is(k.Err, unix.ENOKEY) || time.Now().After(deadline) {
			return k
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkKeysBeforeSession runs "keyinit-go check --json su-l" on the stack
// the test shows at /etc/pam.d/su-l and asserts that its findings have
// exactly the codes want, as warnings only.
func checkKeysBeforeSession(t *testing.T, tool string, want []string) {
	t.Helper()
	out, err := exec.Command(tool, "check", "--json", "--pam-dir", "/etc/pam.d", "su-l").Output()
	var rep struct {
		Errors   int `json:"errors"`
		Findings []struct {
			Severity string `json:"severity"`
			Code     string `json:"code"`
		} `json:"findings"`
	}
	if jerr := json.Unmarshal(out, &rep); err != nil || jerr != nil || rep.Errors != 0 {
		t.Fatalf("keyinit-go check --json su-l: %v, %v, %d error(s); want exit 0 and no errors\n%s", err, jerr, rep.Errors, out)
	}
	var got []string
	for _, f := range rep.Findings {
		if f.Severity != "warning" {
			t.Errorf("keyinit-go check: %s finding %s; want warnings only", f.Severity, f.Code)
		}
		got = append(got, f.Code)
	}
	t.Logf("keyinit-go check su-l: findings %q", got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("keyinit-go check su-l finds %q; want %q\n%s", got, want, out)
	}
}

// requireKerberosClient stops the test on a machine without what the
// client side needs: pam_krb5 (libpam-krb5), klist (krb5-user) and an
// /etc/krb5.conf to overlay (krb5-config, which krb5-user depends on).
func requireKerberosClient(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("klist"); err != nil {
		harness.Lacks(t, "klist (%v): install krb5-user ('make deps' does)", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(harness.CModule(t)), "pam_krb5.so")); err != nil {
		harness.Lacks(t, "pam_krb5.so (%v): install libpam-krb5 ('make deps' does)", err)
	}
	if _, err := os.Stat("/etc/krb5.conf"); err != nil {
		harness.Lacks(t, "an /etc/krb5.conf for the test to cover with its own (%v): install krb5-config ('make deps' does, with krb5-user)", err)
	}
}

// checkKrb5ProfileDisabled fails the test if pam_krb5 is in the machine's
// /etc/pam.d/common-* files: libpam-krb5's pam-auth-update profile puts it
// there on install, for every service of the machine (login, sshd, sudo),
// and "make deps" disables it again. These tests use private stacks and
// need it in none of the real ones.
func checkKrb5ProfileDisabled(t *testing.T) {
	t.Helper()
	files, _ := filepath.Glob("/etc/pam.d/common-*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("read %s: %v", f, err)
			continue
		}
		for i, l := range strings.Split(string(b), "\n") {
			if fields := strings.Fields(l); len(fields) > 0 && !strings.HasPrefix(fields[0], "#") && strings.Contains(l, "pam_krb5") {
				t.Errorf("%s:%d: %q: libpam-krb5's pam-auth-update profile is enabled, so every PAM service of this machine "+
					"authenticates with Kerberos; it must not stay enabled: run 'pam-auth-update --package --remove krb5' "+
					"('make deps' does when it installs libpam-krb5)", f, i+1, strings.TrimSpace(l))
			}
		}
	}
}
