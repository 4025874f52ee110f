package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"pam_keyinit_go/test/harness"
)

// sshBenchSessions and sshBenchIdle: how many concurrent sessions
// BenchmarkSSHSessions keeps open, and how long it watches them idle.
const (
	sshBenchSessions = 10
	sshBenchIdle     = 60 * time.Second
)

// BenchmarkSSHSessions ('make bench', test/bench/run.sh; not in 'make
// test'): what a real ssh session costs the processes that keep it, with
// this module and with pam_keyinit.so in sshd's PAM stack (a private copy
// of /etc/pam.d/sshd, "force revoke"). A private sshd on a loopback port
// takes sshBenchSessions key logins that each run "sleep"; then, per
// session, it reports the threads of sshd's per-connection [priv] process
// (which keeps the PAM handle, and so the runtime, for the session's life),
// the PSS of [priv] and the child it forked for the user, and the context
// switches of both while every session idles, per minute.
func BenchmarkSSHSessions(b *testing.B) {
	harness.RequirePrivateMounts(b)
	for _, m := range []struct{ name, module string }{{"ours", harness.Module(b)}, {"c", harness.CModule(b)}} {
		b.Run(m.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				sshSessionsOnce(b, m.module)
			}
		})
	}
}

func sshSessionsOnce(b *testing.B, module string) {
	harness.ReplaceKeyinitLine(b, "sshd", module, "force revoke")
	s := harness.StartSshd(b)
	u := harness.TempLoginUser(b)
	s.Authorize(b, u)
	// Closing a connection leaves its command running (no terminal): end
	// the user's processes, and with them the sessions, before the user's
	// cleanup waits for them.
	b.Cleanup(func() { exec.Command("pkill", "-KILL", "-U", strconv.FormatUint(uint64(u.UID), 10)).Run() })
	for i := 0; i < sshBenchSessions; i++ {
		c := s.SSH(u.Name, "exec sleep 3600")
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	var privs []sshSession
	deadline := time.Now().Add(time.Minute)
	for len(privs) < sshBenchSessions && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		privs = sshSessionsOf(u.Name)
	}
	if len(privs) != sshBenchSessions {
		b.Fatalf("%d of %d sessions came up in a minute", len(privs), sshBenchSessions)
	}
	b.StopTimer()
	time.Sleep(2 * time.Second) // the runtime's threads settle after the hooks
	before := map[int]int64{}
	for _, p := range privs {
		before[p.priv] = switchesOf(p.priv) + switchesOf(p.child)
	}
	time.Sleep(sshBenchIdle)
	var threads, pss, wakes float64
	for _, p := range privs {
		threads += float64(statusField(p.priv, "Threads:"))
		pss += float64(pssKiB(p.priv) + pssKiB(p.child))
		wakes += float64(switchesOf(p.priv) + switchesOf(p.child) - before[p.priv])
	}
	n := float64(len(privs))
	b.ReportMetric(threads/n, "priv-threads")
	b.ReportMetric(pss/n, "pss-KiB/session")
	b.ReportMetric(wakes/n/sshBenchIdle.Minutes(), "wakeups/min/session")
	b.StartTimer()
}

// sshSession is one session's [priv] process and the child it forked.
type sshSession struct{ priv, child int }

// sshSessionsOf finds "sshd: USER [priv]" processes with a child
// "sshd: USER@notty" running a sleep.
func sshSessionsOf(user string) []sshSession {
	byParent := map[int][]int{}
	cmd := map[int]string{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		cmd[pid] = strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
		ppid := int(statusField(pid, "PPid:"))
		byParent[ppid] = append(byParent[ppid], pid)
	}
	var out []sshSession
	for pid, c := range cmd {
		if c != "sshd: "+user+" [priv]" {
			continue
		}
		for _, child := range byParent[pid] {
			if cmd[child] != "sshd: "+user+"@notty" {
				continue
			}
			for _, gc := range byParent[child] {
				if strings.HasPrefix(cmd[gc], "sleep") {
					out = append(out, sshSession{pid, child})
				}
			}
		}
	}
	return out
}

func statusField(pid int, field string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return -1
}

func pssKiB(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Pss:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

// switchesOf is the context switches of all threads of pid so far.
func switchesOf(pid int) (n int64) {
	for _, v := range threadSwitches(pid) {
		n += v
	}
	return n
}
