package test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"pam_keyinit_go/test/harness"
)

// A seccomp filter is a thread's (issue 23, items 3 and 4): one a thread
// installs without TSYNC applies to it alone, and the front must see it
// (/proc/thread-self/status, not /proc/self/status) on every hook, before
// the runtime starts and after, and give that thread the plain keyinit in
// C wherever the filter would kill Go. Its probe (pam/front/seccomp_probe.c)
// must tell the filter's verdict from what others do to its child: reap
// it, stop it, kill it. The host is test/hosts/filterhost.c.

// filterHost runs filterhost with the module for a temporary user.
type filterHost struct {
	logs    *harness.Syslog
	service string
	user    harness.User
}

func newFilterHost(t *testing.T) filterHost {
	t.Helper()
	svc := harness.SystemService(t, "auth required pam_permit.so\naccount required pam_permit.so\n"+
		"session required "+harness.Module(t)+" force revoke\n")
	return filterHost{harness.Log(t), svc.Name, harness.TempUser(t)}
}

// filterRun is what one filterhost run reported, and the module's log lines.
type filterRun struct {
	user   harness.User
	report map[string][]string
	lines  []harness.Entry
	output string // what reached the host's stdout and stderr
	err    error
}

func (h filterHost) run(t *testing.T, mode, rules string) filterRun {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report")
	h.logs.Collect()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Built(t, "test/filterhost"), mode, out, h.service, h.user.Name, rules)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	r := filterRun{user: h.user, report: map[string][]string{}, err: cmd.Run()}
	r.output = output.String()
	r.lines = faultLines(h.logs.Collect(), "pam_keyinit_go", h.service)
	b, _ := os.ReadFile(out)
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			r.report[k] = append(r.report[k], v)
		}
	}
	return r
}

// sessions checks that the host lived and that each of its n opens gave
// the opening thread the user's new _ses, with the user keyring linked.
func (r filterRun) sessions(t *testing.T, n int) {
	t.Helper()
	u := r.user
	if r.err != nil || len(r.report["alive"]) != 1 {
		t.Fatalf("the host died (%v); report %v; output %q; log %q", r.err, r.report, r.output, faultTexts(r.lines))
	}
	if r.output != "" {
		t.Errorf("output on the host's stdout or stderr: %q", r.output)
	}
	ses := fmt.Sprintf("keyring;%d;%d;3f030000;_ses", u.UID, u.GID)
	userKeyring := fmt.Sprintf("_uid.%d", u.UID)
	if got := r.report["open"]; len(got) != n || strings.Trim(strings.Join(got, ""), "0") != "" {
		t.Errorf("opens returned %v; want %d times 0 (PAM_SUCCESS)", got, n)
	}
	for i, k := range r.report["session keyring"] {
		if k != ses {
			t.Errorf("session keyring after open %d: %q; want %q", i+1, k, ses)
		}
	}
	linked := r.report["linked"]
	if len(linked) != n {
		t.Errorf("keys linked in the session keyrings: %q; want the user keyring in each of %d", linked, n)
	}
	for _, l := range linked {
		if f := strings.Split(l, ";"); len(f) != 5 || f[0] != "keyring" || f[1] != strconv.Itoa(int(u.UID)) || f[4] != userKeyring {
			t.Errorf("linked in a session keyring: %q; want the user keyring %s of uid %d", l, userKeyring, u.UID)
		}
	}
	if got := r.report["close"]; len(got) != n || strings.Trim(strings.Join(got, ""), "0") != "" {
		t.Errorf("closes returned %v; want %d times 0", got, n)
	}
}

// warning checks that the module logged exactly one line, a LOG_WARNING
// saying that the plain keyinit in C made the keyring, with one of reasons.
func (r filterRun) warning(t *testing.T, reasons ...string) string {
	t.Helper()
	if len(r.lines) != 1 {
		t.Fatalf("log lines %q; want exactly one, from the plain keyinit in C", faultTexts(r.lines))
	}
	e := r.lines[0]
	if e.Severity() != logWarning || e.Facility() != logAuthpriv {
		t.Errorf("log line %q at facility %d severity %d; want authpriv and LOG_WARNING", e.Text, e.Facility()>>3, e.Severity())
	}
	said := regexp.MustCompile(fmt.Sprintf(`: made session keyring \d+ for uid %d`, r.user.UID) + regexp.QuoteMeta(plainKeyinitSays))
	if !said.MatchString(e.Text) {
		t.Errorf("log line %q; want it to match %q", e.Text, said)
	}
	for _, reason := range reasons {
		if strings.Contains(e.Text, reason) {
			return e.Text
		}
	}
	t.Errorf("log line %q names none of the reasons %q", e.Text, reasons)
	return e.Text
}

// A thread with a filter of its own that kills on a call Go makes: before
// the runtime started (cold: its hook is the process's first) and after
// (warm: the main thread, which has no filter, opened a session first).
// Go must not run on it, the host must live, and the thread must get the
// user's _ses from the plain keyinit. getpid: telling a fork of the
// runtime's process takes a getpid, made only after the filter is checked.
// wait4: the probe cannot wait for its child, which the filter says.
func TestThreadFilterGetsThePlainKeyinit(t *testing.T) {
	h := newFilterHost(t)
	kills := "this thread's seccomp filter kills on %s (SIGSYS), which the Go runtime needs: allow it in the service's filter"
	for _, mode := range []string{"cold", "warm"} {
		for _, c := range []struct{ rules, reason string }{
			{"clone3=kill", fmt.Sprintf(kills, "clone3")},
			{"sched_setaffinity=kill", fmt.Sprintf(kills, "sched_setaffinity")},
			{"sigaltstack=kill", fmt.Sprintf(kills, "sigaltstack")},
			{"gettid=kill", fmt.Sprintf(kills, "gettid, getpid or tgkill")},
			{"getpid=kill", fmt.Sprintf(kills, "gettid, getpid or tgkill")},
			{"wait4=EPERM", "this thread's seccomp filter makes wait4 fail (Operation not permitted), which the probe of the filter needs: allow it in the service's filter"},
		} {
			t.Run(mode+" "+c.rules, func(t *testing.T) {
				r := h.run(t, mode, c.rules)
				r.sessions(t, map[string]int{"cold": 1, "warm": 2}[mode])
				r.warning(t, c.reason)
			})
		}
	}
}

// The verdict is kept per thread, and for the filters the thread has: a
// new thread is probed anew (pair: its filter kills where the first
// thread's did not), and so is a thread that adds a filter (grow). Either
// would die if the first verdict were taken: Go's entry on a thread calls
// sigaltstack.
func TestThreadFilterVerdictKeptPerThreadAndFilter(t *testing.T) {
	h := newFilterHost(t)
	for _, mode := range []string{"pair", "grow"} {
		t.Run(mode, func(t *testing.T) {
			r := h.run(t, mode, "sigaltstack=kill")
			r.sessions(t, 2)
			r.warning(t, "this thread's seccomp filter kills on sigaltstack (SIGSYS)")
		})
	}
}

// A host thread that reaps any child (waitpid(-1, ..., __WALL)) takes the
// probe's child too. That is no timeout: a child that finished its steps
// says so on the shared page (the filter lets Go run: no line at all), and
// one the filter killed before the host reaped it is either seen killed
// or said to be reaped. Three runs at least, and more (up to ten) until
// the reaper has won one: on a busy machine the front's poll wins some.
func TestSeccompProbeReapedByTheHost(t *testing.T) {
	h := newFilterHost(t)
	for _, rules := range []string{"request_key=EPERM", "clone3=kill"} {
		t.Run(rules, func(t *testing.T) {
			reaped, round := 0, 0
			for ; round < 3 || (reaped == 0 && round < 10); round++ {
				r := h.run(t, "reap", rules)
				r.sessions(t, 1)
				for _, l := range r.lines {
					if strings.Contains(l.Text, "did not finish") {
						t.Errorf("round %d: a reaped probe is no timeout: %q", round, l.Text)
					}
				}
				if rules == "clone3=kill" {
					r.warning(t, "the probe of this thread's seccomp filter was reaped by another thread of the host "+
						"(a wait for any child with __WALL or __WCLONE) before it finished, at clone3, which is not the filter's doing",
						"this thread's seccomp filter kills on clone3 (SIGSYS)")
				} else if len(r.lines) != 0 {
					t.Errorf("round %d: the filter lets Go run, yet the module logged %q", round, faultTexts(r.lines))
				}
				if us, _ := strconv.Atoi(first(r.report["open_us"])); us >= 1000000 {
					t.Errorf("round %d: the open took %d us", round, us)
				}
				n, _ := strconv.Atoi(first(r.report["reaped"]))
				reaped += n
			}
			if reaped == 0 {
				t.Errorf("the host's reaper never reaped the probe's child in %d runs: the case was not tested", round)
			}
			t.Logf("the host's reaper reaped %d probe children in %d runs", reaped, round)
		})
	}
}

// The probe's child stopped, or killed, from outside (as the caller of su
// could: it has the caller's real uid). filterhost's supervisor finds it as
// the process that makes getcpu, which its filter hands to the supervisor.
// Neither is the filter's verdict: the hook says what happened, gives the
// thread its keyring in C, and takes no longer than the probe's deadline
// (2 s) and a margin.
func TestSeccompProbeStoppedOrKilledFromOutside(t *testing.T) {
	h := newFilterHost(t)
	for _, c := range []struct{ mode, reason string }{
		{"stop", "the probe of this thread's seccomp filter did not finish in 2 s: it was stopped, by a signal or a tracer, at getcpu, which is not the filter's doing"},
		{"kill", "the probe of this thread's seccomp filter was killed from outside by signal 9 while at getcpu, which is not the filter's doing"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			r := h.run(t, c.mode, "")
			r.sessions(t, 1)
			if len(r.report["signalled"]) != 1 {
				t.Errorf("the supervisor signalled %v; want the probe's child", r.report["signalled"])
			}
			r.warning(t, c.reason)
			us, _ := strconv.Atoi(first(r.report["open_us"]))
			if us >= 2500000 {
				t.Errorf("the open took %d us; want less than the probe's deadline, 2 s, and 500 ms", us)
			}
			t.Logf("the open took %d us", us)
		})
	}
}
