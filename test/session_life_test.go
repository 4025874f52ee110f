package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
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

// What a session costs the process that keeps it for the session's life
// (sshd's [priv], login, su's watching parent, systemd's (sd-pam)), measured
// with build/test/lifehost (test/hosts/lifehost.c).

// idleFor is how long TestIdleSessionHasNoWakeups watches: longer than
// sysmon's once-a-minute sleep cap, which pam/sysmon_sleep.go lifts.
const idleFor = 3 * time.Minute

// TestIdleSessionHasNoWakeups: a process that opened a session and then
// waits makes no context switch in any of its threads (the runtime's
// included) in three minutes; pam_keyinit.so's host, side by side, shows
// the count is the host's own.
func TestIdleSessionHasNoWakeups(t *testing.T) {
	harness.RequireRoot(t)
	u := harness.TempUser(t)
	type host struct {
		name    string
		pid     int
		threads int
		stdin   io.WriteCloser
		out     *bufio.Reader
		cmd     *exec.Cmd
		before  map[string]int64
	}
	var hosts []*host
	for _, m := range []struct{ name, module string }{{"ours", harness.Module(t)}, {"pam_keyinit.so", harness.CModule(t)}} {
		svc := harness.ConfDirService(t, "session required "+m.module+" force revoke\n")
		cmd := exec.Command(harness.Built(t, "test/lifehost"), "idle", svc.Dir, svc.Name, u.Name)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		h := &host{name: m.name, pid: cmd.Process.Pid, stdin: stdin, out: bufio.NewReader(stdout), cmd: cmd}
		t.Cleanup(func() { h.stdin.Close(); h.cmd.Process.Kill(); h.cmd.Wait() })
		opened := readKV(t, h.out, 2)
		if opened["opened"] != "1" {
			t.Fatalf("%s: the session did not open: %v", m.name, opened)
		}
		h.threads, _ = strconv.Atoi(opened["threads"])
		hosts = append(hosts, h)
	}
	// Let the runtime settle: sysmon backs off from 20 us to its deep sleep
	// within milliseconds of the last hook.
	time.Sleep(2 * time.Second)
	for _, h := range hosts {
		h.before = contextSwitches(t, h.pid)
	}
	time.Sleep(idleFor)
	for _, h := range hosts {
		after := contextSwitches(t, h.pid)
		var total int64
		var detail []string
		for tid, n := range after {
			d := n - h.before[tid]
			total += d
			detail = append(detail, fmt.Sprintf("%s:+%d", tid, d))
		}
		t.Logf("%s: %d threads, %d context switches in %v idle (%s)", h.name, len(after), total, idleFor, strings.Join(detail, " "))
		if len(after) != len(h.before) {
			t.Errorf("%s: %d threads after idling, %d before", h.name, len(after), len(h.before))
		}
		if total != 0 {
			t.Errorf("%s: %d context switches while the session idled %v; want 0", h.name, total, idleFor)
		}
		h.stdin.Close()
		if closed := readKV(t, h.out, 1); closed["closed"] != "1" {
			t.Errorf("%s: the session did not close: %v", h.name, closed)
		}
		if err := h.cmd.Wait(); err != nil {
			t.Errorf("%s: lifehost: %v", h.name, err)
		}
	}
}

// contextSwitches is threadSwitches, failing the test if pid is gone.
func contextSwitches(t *testing.T, pid int) map[string]int64 {
	t.Helper()
	out := threadSwitches(pid)
	if len(out) == 0 {
		t.Fatalf("no threads of %d", pid)
	}
	return out
}

// threadSwitches is, by thread id, the voluntary and involuntary context
// switches of each thread of pid so far.
func threadSwitches(pid int) map[string]int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	out := map[string]int64{}
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		var n int64
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 && strings.HasSuffix(f[0], "ctxt_switches:") {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				n += v
			}
		}
		out[filepath.Base(filepath.Dir(p))] = n
	}
	return out
}

// readKV reads n "name: value" lines.
func readKV(t *testing.T, r *bufio.Reader, n int) map[string]string {
	t.Helper()
	kv := map[string]string{}
	for i := 0; i < n; i++ {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the host's output: %v (so far %v)", err, kv)
		}
		k, v, _ := strings.Cut(strings.TrimSpace(l), ": ")
		kv[k] = v
	}
	return kv
}

// TestThreadsStayFewAfterManyHooks: after 1, 100 and 1,000 open+close
// pairs, the last 999 on 8 host threads at once, the process has at most
// maxRuntimeThreads threads beyond its own, and no more than after the
// first, with the machine idle and with every CPU kept busy by other
// processes.
func TestThreadsStayFewAfterManyHooks(t *testing.T) {
	harness.RequireRoot(t)
	u := harness.TempUser(t)
	svc := harness.ConfDirService(t, "session required "+harness.Module(t)+" force revoke\n")
	for _, busy := range []bool{false, true} {
		name := "idle machine"
		if busy {
			name = "every CPU busy"
		}
		t.Run(name, func(t *testing.T) {
			if busy {
				keepCPUsBusy(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, harness.Built(t, "test/lifehost"), "hooks", svc.Dir, svc.Name, u.Name,
				strconv.FormatUint(uint64(u.UID), 10)).CombinedOutput()
			if err != nil {
				t.Fatalf("lifehost: %v: %s", err, out)
			}
			kv := readKV(t, bufio.NewReader(strings.NewReader(string(out))), 6)
			var first int
			for _, n := range []string{"1", "100", "1000"} {
				threads, err := strconv.Atoi(kv["after_"+n])
				if err != nil {
					t.Fatalf("no thread count after %s pairs: %s", n, out)
				}
				// README: the hooks after the first add no thread.
				if n == "1" {
					first = threads
				} else if threads > first {
					t.Errorf("after %s pairs: %d threads, %d after the first; the hooks after it must add none", n, threads, first)
				}
				t.Logf("after %s pairs: %d threads (the host's own: 1)", n, threads)
				if threads-1 > maxRuntimeThreads {
					t.Errorf("after %s pairs: %d threads beyond the host's 1; want at most %d", n, threads-1, maxRuntimeThreads)
				}
				if kv["failed_"+n] != "0" {
					t.Errorf("after %s pairs: %s failed", n, kv["failed_"+n])
				}
			}
		})
	}
}

// keepCPUsBusy runs a spinning process per CPU until the test ends.
func keepCPUsBusy(t *testing.T) {
	t.Helper()
	n, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		t.Fatal(err)
	}
	cpus := 0
	for _, r := range strings.Split(strings.TrimSpace(string(n)), ",") {
		lo, hi, found := strings.Cut(r, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if found {
			b, _ = strconv.Atoi(hi)
		}
		cpus += b - a + 1
	}
	for i := 0; i < cpus; i++ {
		spin := exec.Command("sh", "-c", "while :; do :; done")
		if err := spin.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { spin.Process.Kill(); spin.Wait() })
	}
}

// warmPairSyscalls are the system calls the calling thread makes in a warm
// open+close pair with "force revoke", besides futex (below), as counted on
// this module: libpam's own (its audit records, reading /etc/passwd through
// NSS), the hooks' and the runtime's. A change shows here first; update the
// numbers only with a reason in the commit.
//
// futex is left out: how often the calling thread waits for the runtime's P
// or wakes sysmon depends on timing, and strace's own slowness makes
// sysmon take the P away mid-hook.
var warmPairSyscalls = map[string]int{
	// the module's own: one check that Go may run here, one signal mask
	// and one signal stack switch each way, the ids read and switched and
	// switched back, the keyring made, linked and its owner checked, the
	// revoke at close
	"getpid": 1, "rt_sigprocmask": 2, "sigaltstack": 2,
	"getresuid": 1, "getresgid": 1, "setresuid": 2, "setresgid": 2,
	"keyctl": 4,
}

// warmPairExtraSyscalls are the module's own calls of kinds libpam and NSS
// make too, beyond pam_keyinit.so's count of them: the open reads
// /proc/thread-self/status (openat, read, close), the calling thread's
// seccomp mode and filter count, since a thread may carry a filter of its
// own, installed at any time, that would kill Go on it
// (pam/front/seccomp_probe.c). No cheaper call says whether a thread has a
// filter: prctl(PR_GET_SECCOMP) is one a filter may kill.
var warmPairExtraSyscalls = map[string]int{"openat": 1, "read": 1, "close": 1}

// TestWarmPairSystemCalls counts, with strace, the system calls of one warm
// open+close pair on the thread that makes it, next to pam_keyinit.so's.
func TestWarmPairSystemCalls(t *testing.T) {
	harness.RequireRoot(t)
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace not found: make deps installs it")
	}
	u := harness.TempUser(t)
	counts := map[string]map[string]int{}
	for _, m := range []struct{ name, module string }{{"ours", harness.Module(t)}, {"pam_keyinit.so", harness.CModule(t)}} {
		svc := harness.ConfDirService(t, "session required "+m.module+" force revoke\n")
		trace := filepath.Join(t.TempDir(), "trace")
		out, err := exec.Command("strace", "-f", "-qq", "-o", trace, harness.Built(t, "test/lifehost"), "pair",
			svc.Dir, svc.Name, u.Name).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: strace lifehost pair: %v: %s", m.name, err, out)
		}
		if !strings.Contains(string(out), fmt.Sprintf("rc: %d %d", 0, 0)) {
			t.Fatalf("%s: the warm pair failed: %s", m.name, out)
		}
		counts[m.name] = pairSyscalls(t, trace)
		t.Logf("%s: %d system calls in a warm pair (futex left out): %v", m.name, total(counts[m.name]), counts[m.name])
	}
	ours := counts["ours"]
	for name, want := range warmPairSyscalls {
		if ours[name] != want {
			t.Errorf("%s: %d calls in a warm pair; want %d", name, ours[name], want)
		}
	}
	// Everything else is libpam's and NSS's, as with pam_keyinit.so, but
	// the status read.
	rest := map[string]int{}
	for name, n := range ours {
		if _, mine := warmPairSyscalls[name]; !mine {
			rest[name] = n
		}
	}
	for name, n := range counts["pam_keyinit.so"] {
		if _, mine := warmPairSyscalls[name]; mine || strings.HasPrefix(name, "setre") || strings.HasPrefix(name, "get") {
			continue // the C module's own ids and keyrings
		}
		if want := n + warmPairExtraSyscalls[name]; rest[name] != want {
			t.Errorf("%s: %d calls with this module, %d with pam_keyinit.so; libpam's and NSS's should be the same, and the module's own %d more", name, rest[name], n, warmPairExtraSyscalls[name])
		}
		delete(rest, name)
	}
	for name, n := range rest {
		if n != warmPairExtraSyscalls[name] {
			t.Errorf("%s: %d calls in a warm pair with this module, none with pam_keyinit.so", name, n)
		}
	}
}

func total(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// pairSyscalls counts, by name, the system calls strace saw the marking
// thread make between its two getppid() calls (lifehost pair), futex left
// out.
func pairSyscalls(t *testing.T, trace string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	call := regexp.MustCompile(`^(\d+)\s+([a-z0-9_]+)\(`)
	var tid string
	marks := 0
	counts := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		m := call.FindStringSubmatch(l)
		if m == nil || (tid != "" && m[1] != tid) {
			continue // "<... resumed>", exits, other threads
		}
		if m[2] == "getppid" {
			tid = m[1]
			if marks++; marks == 2 {
				return counts
			}
			continue
		}
		if marks == 1 && m[2] != "futex" {
			counts[m[2]]++
		}
	}
	t.Fatalf("%s: no two getppid() marks", trace)
	return nil
}
