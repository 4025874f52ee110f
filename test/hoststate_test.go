package test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"pam_keyinit_go/internal/runtimefloor"
	"pam_keyinit_go/test/harness"
)

// These tests run build/test/hoststate (test/hosts/hoststate.c), a C host
// that ignores SIGPIPE, has handlers for SIGUSR1, SIGURG and SIGCHLD, and
// prints its process state before and after a PAM transaction: the module
// must leave it as it found it (README, "What the module does to the process
// that loads it").

// The caller's environment an unprivileged user of a setuid host could set.
var hostileEnv = []string{"GOMAXPROCS=5000", "GODEBUG=inittrace=1,schedtrace=20", "GOGC=1", "GOMEMLIMIT=1", "GOTRACEBACK=crash"}

// Only these may differ after a session hook: the runtime keeps its handler
// for a synchronous fault the host left at its default (SIGBUS, SIGFPE,
// SIGSEGV), and its threads stay.
var runtimeMayKeep = map[string]bool{"sigaction 7": true, "sigaction 8": true, "sigaction 11": true}

// The runtime's threads after a session hook: its first thread, sysmon, the
// template thread cgo needs and one the garbage collector's start hands off
// to, and now and then a fifth (README, "What the module does to the
// process that loads it"): the front's floor counts five, and so do the
// tests (TestThreadsStayFewAfterManyHooks once saw five, from the first
// hook on, with the machine loaded by an emulated arm64 build).
var maxRuntimeThreads = int(runtimefloor.Threads)

type hostState struct {
	before, after map[string][]string
	results       map[string]string
	stderr        string
}

func runHostState(t *testing.T, env []string, mode, service, user string) hostState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Built(t, "test/hoststate"), mode, service, user)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hoststate %s: %v\n%s%s", mode, err, out, stderr.String())
	}
	st := hostState{before: map[string][]string{}, after: map[string][]string{}, results: map[string]string{}, stderr: stderr.String()}
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		name, value, _ := strings.Cut(s.Text(), ": ")
		switch {
		case strings.HasPrefix(name, "before "):
			st.before[name[7:]] = append(st.before[name[7:]], value)
		case strings.HasPrefix(name, "after "):
			st.after[name[6:]] = append(st.after[name[6:]], value)
		default:
			st.results[name] = value
		}
	}
	if st.results["done"] != "yes" {
		t.Fatalf("hoststate %s did not finish:\n%s%s", mode, out, stderr.String())
	}
	return st
}

// changes lists what differs between before and after, but for allowed.
func (st hostState) changes(allowed map[string]bool) []string {
	var out []string
	for name, b := range st.before {
		a := st.after[name]
		if allowed[name] && len(b) == 1 && b[0] == "(nil) 0" {
			continue // a default the runtime may take over
		}
		if strings.Join(a, "\n") != strings.Join(b, "\n") {
			out = append(out, name+": "+strings.Join(b, " | ")+" -> "+strings.Join(a, " | "))
		}
	}
	return out
}

func (st hostState) threads(t *testing.T, when string) int {
	t.Helper()
	var v string
	if when == "in session" {
		v = st.results["threads in session"]
	} else if len(st.after["threads"]) == 1 {
		v = st.after["threads"][0]
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("no thread count %s: %q", when, v)
	}
	return n
}

// hostStateService has the module with debug, so that the Go core writes
// syslog lines too.
func hostStateService(t *testing.T) harness.Service {
	return harness.SystemService(t, "auth required pam_permit.so\naccount required pam_permit.so\n"+
		"session required "+harness.Module(t)+" force revoke debug\n")
}

// TestHostStateKeptAfterSession: signal dispositions and flags, the
// sigaltstack, the ignored set an exec'd child inherits and the environment
// are as the host left them after open and close; the runtime adds at most
// maxRuntimeThreads threads.
func TestHostStateKeptAfterSession(t *testing.T) {
	u := harness.TempUser(t)
	svc := hostStateService(t)
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"no sigaltstack", os.Environ()},
		{"a sigaltstack of the host's", append(os.Environ(), "HOSTSTATE_ALTSTACK=1")},
		{"a sigaltstack the host sets after a first session", append(os.Environ(), "HOSTSTATE_ALTSTACK=late")},
		{"user name from the conversation", append(os.Environ(), "HOSTSTATE_PROMPT=1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := runHostState(t, tc.env, "session", svc.Name, u.Name)
			for _, r := range []string{"pam_start", "open", "close", "pam_end"} {
				if st.results[r] != "0" {
					t.Errorf("%s: %q; want 0", r, st.results[r])
				}
			}
			if want := "keyring;" + strconv.Itoa(int(u.UID)) + ";" + strconv.Itoa(int(u.GID)) + ";3f030000;_ses"; st.results["session keyring"] != want {
				t.Errorf("session keyring %q; want %q", st.results["session keyring"], want)
			}
			if len(st.before["sigaction 13"]) != 1 || !strings.HasPrefix(st.before["sigaction 13"][0], "0x1 ") {
				t.Fatalf("the host did not start with SIGPIPE ignored: %q", st.before["sigaction 13"])
			}
			for _, c := range st.changes(runtimeMayKeep) {
				if !strings.HasPrefix(c, "threads:") {
					t.Errorf("changed by the module: %s", c)
				}
			}
			// The runtime's threads stay out of the host's way: batch work
			// on one CPU (README, "Threads").
			if n, of, _ := strings.Cut(st.results["other threads batch on one cpu"], " of "); n != of || n == "0" {
				t.Errorf("runtime threads batch on one CPU: %q; want all of them", st.results["other threads batch on one cpu"])
			}
			// They take none of the host's signals: one sent to the process
			// reaches the host's threads, as without the module.
			if n, of, _ := strings.Cut(st.results["other threads blocking every signal"], " of "); n != of || n == "0" {
				t.Errorf("runtime threads blocking every signal: %q; want all of them", st.results["other threads blocking every signal"])
			}
			if n := st.threads(t, "after"); n > 1+maxRuntimeThreads {
				t.Errorf("%d threads after the session; want at most %d (the host's one and the runtime's)", n, 1+maxRuntimeThreads)
			}
			if st.stderr != "" {
				t.Errorf("the host's stderr got %q", st.stderr)
			}
			// The syslog lines, the Go core's included, were written with
			// the host's own signal mask, as without the module, not with
			// the one Go code runs with: a stuck /dev/log holds up none of
			// the host's signals (pam/shims.c).
			if st.results["syslog calls"] == "0" || st.results["syslog calls"] == "" {
				t.Errorf("hoststate saw no syslog line; with debug the module writes some")
			} else if len(st.before["sigmask"]) != 1 || st.results["syslog sigmasks"] != st.before["sigmask"][0] {
				t.Errorf("syslog lines were written with signal masks %q; the host's is %q", st.results["syslog sigmasks"], st.before["sigmask"])
			}
			// The module's pam_get_user ran the host's conversation: with
			// the host's own signal mask, not the one Go code runs with.
			if m, asked := st.results["conversation sigmask"]; asked && (len(st.before["sigmask"]) != 1 || m != st.before["sigmask"][0]) {
				t.Errorf("the conversation ran with signal mask %s; the host's is %q", m, st.before["sigmask"])
			} else if !asked && strings.Contains(tc.name, "conversation") {
				t.Errorf("the module did not ask the conversation for the user")
			}
		})
	}
}

// TestNoSessionHookNoRuntime: a process that only authenticates and checks
// the account (su before the password, passwd) never loads the Go core: one
// thread, every disposition as it was, and unshare(CLONE_NEWUSER), which
// only a single-threaded process may call, still works.
func TestNoSessionHookNoRuntime(t *testing.T) {
	u := harness.TempUser(t)
	svc := harness.SystemService(t, "auth optional "+harness.Module(t)+"\nauth required pam_permit.so\n"+
		"account required pam_permit.so\nsession required "+harness.Module(t)+" force revoke\n")
	st := runHostState(t, os.Environ(), "auth", svc.Name, u.Name)
	for _, r := range []string{"pam_start", "authenticate", "acct_mgmt", "pam_end"} {
		if st.results[r] != "0" {
			t.Errorf("%s: %q; want 0", r, st.results[r])
		}
	}
	if c := st.changes(nil); len(c) != 0 {
		t.Errorf("changed without a session hook: %q", c)
	}
	if st.results["core mapped"] != "no" {
		t.Errorf("the Go core was loaded without a session hook")
	}
	if st.results["unshare user"] != "ok" {
		t.Errorf("unshare(CLONE_NEWUSER) after authenticate: %s; want ok", st.results["unshare user"])
	}
}

// TestHostileEnvironmentIgnored: the Go settings an unprivileged caller can
// put in a setuid host's environment reach neither the runtime nor the
// terminal, and an empty environment (no slot to lend settings in) gives
// the same threads.
func TestHostileEnvironmentIgnored(t *testing.T) {
	u := harness.TempUser(t)
	svc := hostStateService(t)
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"hostile", append(append([]string{}, hostileEnv...), os.Environ()...)},
		{"empty", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := runHostState(t, tc.env, "session", svc.Name, u.Name)
			if st.stderr != "" {
				t.Errorf("the runtime wrote to the host's stderr: %q", st.stderr)
			}
			if st.results["open"] != "0" || !strings.HasSuffix(st.results["session keyring"], ";3f030000;_ses") {
				t.Errorf("open %q, keyring %q; want 0 and the user's _ses", st.results["open"], st.results["session keyring"])
			}
			if n := st.threads(t, "in session"); n > 1+maxRuntimeThreads {
				t.Errorf("%d threads in the session; want at most %d", n, 1+maxRuntimeThreads)
			}
			for _, c := range st.changes(runtimeMayKeep) {
				if strings.HasPrefix(c, "environ") || strings.HasPrefix(c, "env block") {
					t.Errorf("the host's environment changed: %s", c)
				}
			}
		})
	}
}
