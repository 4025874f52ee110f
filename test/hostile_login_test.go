package test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"pam_keyinit_go/internal/runtimefloor"
	"pam_keyinit_go/test/harness"
)

// The real login programs (the setuid su run by an unprivileged user, login
// on a terminal) under what the user or limits.conf can do to the process
// that loads the module: resource limits that leave its Go runtime too
// little, and fault signals sent with kill(). Each run is compared with
// Linux-PAM's pam_keyinit.so in the same place of the same stack: whatever
// login goes on with the C module must go on with ours, and nothing of the
// Go runtime's may reach the user's terminal.

// runtimeText is what the Go runtime writes when it ends a process (fatal
// error, a signal's name, a goroutine dump with its addresses).
var runtimeText = regexp.MustCompile(`(?i)fatal error|runtime|goroutine|SIG(SEGV|BUS|FPE)|segmentation|` +
	`\b0x[0-9a-f]{4,}|pc=|panic`)

// setuidSu is an unprivileged caller who runs the real setuid /bin/su to a
// target user whose password it types at su's prompt on a terminal.
type setuidSu struct {
	caller   harness.User
	target   harness.LoginUser
	password string
}

func newSetuidSu(t *testing.T) setuidSu {
	t.Helper()
	harness.RequirePrivateMounts(t)
	for _, tool := range []string{"su", "keyctl", "setsid", "kill"} {
		if _, err := exec.LookPath(tool); err != nil {
			harness.Lacks(t, "%s (%v)", tool, err)
		}
	}
	if fi, err := os.Stat("/bin/su"); err != nil || fi.Mode()&os.ModeSetuid == 0 {
		harness.Lacks(t, "a setuid-root /bin/su (%v)", err)
	}
	s := setuidSu{caller: harness.TempUser(t), target: harness.TempLoginUser(t), password: harness.RandomName("pw-")}
	chpasswd := exec.Command("chpasswd")
	chpasswd.Stdin = strings.NewReader(s.target.Name + ":" + s.password + "\n")
	if out, err := chpasswd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
	return s
}

// suOutcome is how one run of su went.
type suOutcome struct {
	text   string // everything written to the terminal
	limits string // su's /proc/PID/limits at its password prompt, before PAM's session
	status int    // su's exit status, -1 if a signal ended it
	signal syscall.Signal
}

func (o suOutcome) String() string {
	if o.status < 0 {
		return fmt.Sprintf("su ended by signal %v", o.signal)
	}
	return fmt.Sprintf("su exited with status %d", o.status)
}

// run has the caller's shell (/bin/sh, on a new terminal it controls) run
// prelude and then exec "su - TARGET -c command": su's pid is the shell's.
// The password is typed once su prompts. If during is not nil it runs, in
// the test, once the terminal shows ready, with su's pid; su is waited for
// afterwards.
func (s setuidSu) run(t *testing.T, prelude, command, ready string, during func(pid int)) suOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	master, tty := openPty(t)
	script := `exec su - "$1" -c "$2"`
	if prelude != "" {
		script = prelude + " && " + script
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script, "sh", s.target.Name, command)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=dumb", "LANG=C"}
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid: true, Setctty: true, // su reads the password from its terminal
		Credential: &syscall.Credential{Uid: s.caller.UID, Gid: s.caller.GID, Groups: []uint32{}},
	}
	// Past the time allowed, all of su's process group goes (su leads it:
	// setsid), not only su.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	pid := cmd.Process.Pid
	var out lockedBuffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, master); close(copied) }() // ends with EIO when su's side closes
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	waitFor := func(text string) bool {
		for !strings.Contains(out.String(), text) {
			select {
			case err := <-exited:
				exited <- err
				return strings.Contains(out.String(), text)
			case <-ctx.Done():
				return false
			case <-time.After(20 * time.Millisecond):
			}
		}
		return true
	}
	var limits []byte
	if waitFor("Password:") {
		// The limits su runs under, as exec left them: pam_limits in the
		// session stack may change them later.
		limits, _ = os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
		// su turns echo off (and flushes pending input) after printing
		// the prompt: wait a moment first.
		time.Sleep(300 * time.Millisecond)
		io.WriteString(master, s.password+"\n")
		if during != nil && waitFor(ready) {
			during(pid)
		}
	}
	<-exited
	select {
	case <-copied:
	case <-ctx.Done(): // something su started still holds the terminal
		master.Close()
		<-copied
	}
	o := suOutcome{text: out.String(), limits: strings.Join(strings.Fields(string(limits)), " ")}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	o.status = ws.ExitStatus()
	if ws.Signaled() {
		o.signal = ws.Signal()
	}
	if ctx.Err() != nil {
		t.Errorf("su did not end within the time allowed")
	}
	return o
}

// moduleErrors are the LOG_ERR (or worse) lines of either keyinit module.
func moduleErrors(entries []harness.Entry) []harness.Entry {
	var out []harness.Entry
	for _, e := range entries {
		if (strings.Contains(e.Text, "pam_keyinit_go(") || strings.Contains(e.Text, "pam_keyinit(")) && e.Severity() <= logErr {
			out = append(out, e)
		}
	}
	return out
}

// TestHostileLimitsSetuidSu: an unprivileged user joins a session keyring
// of its own holding a key ("secret"), lowers a resource limit in its shell
// and execs the real setuid "su - TARGET -c ...", types the target's
// password, and su runs the command for the target. The limits su runs
// under are read from its /proc/PID/limits at the password prompt, before
// pam_limits in su's session stack may change them. Our module is su-l's
// keyinit line ("session optional ... force revoke", and "revoke" alone),
// before "session include su" and so before pam_limits. Under a limit the
// Go runtime cannot start in, the front makes the keyring by the plain
// keyinit in C: the target's shell runs in a new _ses of the target's, not
// in the caller's keyring, and cannot find the caller's key; one
// LOG_WARNING line names the limit and the fix; su exits 0 and nothing of
// the runtime's reaches the terminal. Without force too: the caller's
// keyring is not the target's own, so it is replaced, as the Go core does.
//
// The reference, pam_keyinit.so in the same line, showed on Debian 12 (su
// from util-linux 2.38, dash as the target's shell, Linux 6.18): under each
// of these limits su asks for the password, opens the session, runs the
// command and exits 0; with force it gives the target a new _ses, without
// force it keeps the caller's keyring, key and all (its documented
// weakness).
//
// "ulimit -s 100000000" does not reach su: a setuid exec keeps the other
// limits, but the kernel lowers a soft stack limit above 8 MiB (_STK_LIM)
// to 8 MiB for a secure exec (fs/exec.c, since Linux 4.13), so su starts
// with 8388608 (the hard limit stays), its new threads get 8 MiB stacks and
// the Go core runs (TestHostileLimitsLoginStack has a large stack limit
// reach a login host that is not setuid). A small one reaches su, but below
// the runtime's 64 KiB su itself dies of it before the session, with
// pam_keyinit.so as with ours (48, 56 and 60 KiB: SIGSEGV, measured).
//
// su itself raises RLIMIT_AS: util-linux's su (2.38, Debian 12) sets
// RLIMIT_NICE, RTPRIO, FSIZE and AS to fixed values (AS unlimited) in its
// main, after authentication and before the session (gdb: setrlimit called
// from su's main; strace in the arm64 VM stage: the four calls succeed).
// Raising a hard limit needs CAP_SYS_RESOURCE, which su, setuid root, has
// wherever the machine's bounding set holds it: on a real machine and in the
// VM stage, where the caller's "ulimit -v" never reaches the module and the
// Go core makes the keyring. Where root lacks it (this sandbox: EPERM) su
// keeps the caller's limit and the module meets it. RLIMIT_DATA su leaves
// alone.
func TestHostileLimitsSetuidSu(t *testing.T) {
	su := newSetuidSu(t)
	suRaisesAS := boundingSetHas(t, capSysResource)
	t.Logf("CAP_SYS_RESOURCE in the bounding set, so su raises RLIMIT_AS before the session: %v", suRaisesAS)
	log := harness.Log(t)
	// The caller's shell joins a keyring of its own with a key in it.
	const callerRing = `keyctl new_session kig-caller >/dev/null && keyctl add user secret s3cr3t @s >/dev/null`
	const probe = `echo INSIDE; echo "keyring=$(keyctl rdescribe @s 2>&1)"; ` +
		`if keyctl search @s user secret >/dev/null 2>&1; then echo CALLER-KEY-FOUND; else echo NO-CALLER-KEY; fi; ` +
		`grep -E '^Max (address space|data size|stack size)' /proc/$PPID/limits; echo DONE`
	ownSes := fmt.Sprintf("keyring=keyring;%d;%d;3f030000;_ses", su.target.UID, su.target.GID)
	callers := regexp.MustCompile(fmt.Sprintf(`keyring=keyring;%d;%d;[0-9a-f]+;kig-caller`, su.caller.UID, su.caller.GID))

	for _, tc := range []struct {
		name   string
		ulimit string   // run in the caller's shell before it execs su
		limit  string   // what su's /proc/PID/limits must show ("" for the control)
		logged []string // what our one line names; none: the Go core ran, no line
	}{
		{name: "control"},
		{"as-100000", "ulimit -v 100000", "Max address space 102400000 102400000 bytes",
			[]string{"the address space limit (RLIMIT_AS) of 100000 KiB", "ulimit -v"}},
		{"as-1250000", "ulimit -v 1250000", "Max address space 1280000000 1280000000 bytes",
			[]string{"the address space limit (RLIMIT_AS) of 1250000 KiB", "ulimit -v"}},
		{"as-1500000", "ulimit -v 1500000", "Max address space 1536000000 1536000000 bytes",
			[]string{"the address space limit (RLIMIT_AS) of 1500000 KiB", "ulimit -v"}},
		{"data-50000", "ulimit -d 50000", "Max data size 51200000 51200000 bytes",
			[]string{"the data limit (RLIMIT_DATA) of 50000 KiB", "ulimit -d"}},
		{"stack-100000000", "ulimit -s 100000000", "Max stack size 8388608 102400000000 bytes", nil},
	} {
		if suRaisesAS && strings.HasPrefix(tc.name, "as-") {
			tc.logged = nil // the Go core runs: su lifted the limit
		}
		t.Run(tc.name, func(t *testing.T) {
			prelude := callerRing
			if tc.ulimit != "" {
				prelude += " && " + tc.ulimit
			}
			for _, m := range []struct {
				name, module, tag, options string
			}{
				{"pam_keyinit", harness.CModule(t), "pam_keyinit(su-l:session)", "force revoke"},
				{"pam_keyinit-revoke", harness.CModule(t), "pam_keyinit(su-l:session)", "revoke"},
				{"ours", harness.Module(t), "pam_keyinit_go(su-l:session)", "force revoke"},
				{"ours-revoke", harness.Module(t), "pam_keyinit_go(su-l:session)", "revoke"},
			} {
				t.Run(m.name, func(t *testing.T) {
					harness.ReplaceKeyinitLine(t, "su-l", m.module, m.options)
					log.Collect()
					o := su.run(t, prelude, probe, "", nil)
					entries := log.Collect()
					defer dumpLog(t, entries)
					t.Logf("%s as %s, %q: %s; terminal:\n%s", m.name, su.caller.Name, prelude, o, o.text)

					if o.status != 0 || !strings.Contains(o.text, "INSIDE") || !strings.Contains(o.text, "DONE") {
						t.Errorf("%s; want the command run (INSIDE ... DONE) and status 0", o)
					}
					if x := runtimeText.FindString(o.text); x != "" {
						t.Errorf("%q on the caller's terminal", x)
					}
					if tc.limit != "" && !strings.Contains(o.limits, tc.limit) {
						t.Errorf("su's /proc/PID/limits at its prompt has no %q: %s", tc.limit, o.limits)
					}
					if errs := moduleErrors(entries); len(errs) != 0 {
						t.Errorf("error lines: %q", faultTexts(errs))
					}
					if m.name == "pam_keyinit-revoke" {
						// The C module keeps whatever keyring the thread has.
						if !callers.MatchString(o.text) || !strings.Contains(o.text, "CALLER-KEY-FOUND") {
							t.Errorf("pam_keyinit.so without force did not keep the caller's keyring (%s) "+
								"and key: the documented weakness needs revisiting", callers)
						}
						return
					}
					if !strings.Contains(o.text, ownSes) || !strings.Contains(o.text, "NO-CALLER-KEY") {
						t.Errorf("the session's keyring is not the target's own new _ses (%s) without "+
							"the caller's key", ownSes)
					}
					ours := harness.Matching(entries, "pam_keyinit_go(")
					if m.module == harness.CModule(t) || tc.logged == nil {
						// The Go core ran: without force it says it replaced
						// the caller's keyring, with force nothing.
						if len(ours) != 0 && (m.options != "revoke" || len(ours) != 1 ||
							!strings.Contains(ours[0].Text, m.tag+": replacing session keyring ")) {
							t.Errorf("the module logged %q; want nothing, or without force the one line "+
								"that the caller's keyring was replaced", faultTexts(ours))
						}
						return
					}
					line := faultOneLine(t, ours, logWarning, append([]string{m.tag + ": made session keyring ",
						fmt.Sprintf(" for uid %d", su.target.UID), plainKeyinitSays}, tc.logged...)...)
					t.Logf("the module's line: %s", line)
				})
			}
		})
	}
}

// TestHostileLimitsLoginLimitsConf: "login -f USER" on a terminal made by
// script(1), with Debian's own /etc/pam.d/login (pam_limits.so runs before
// the keyinit line, which is ours, "force revoke") and a limits.conf that
// gives the user an address space limit of 600000 KiB, well below what the
// Go runtime reserves. pam_limits sets it in login itself, so our front
// does not start the runtime: the plain keyinit in C gives the session the
// user's new _ses, with one LOG_WARNING line naming RLIMIT_AS and 600000;
// the user's login shell runs its ~/.profile under that limit; nothing of
// the runtime's reaches the terminal. "keyinit-go check --limits" of that stack warns about the same
// limit beforehand (low-limit).
func TestHostileLimitsLoginLimitsConf(t *testing.T) {
	harness.RequirePrivateMounts(t)
	requireLoginTools(t)
	log := harness.Log(t)
	u := harness.TempLoginUser(t)
	stack := harness.ReplaceKeyinitLine(t, "login", harness.Module(t), "force revoke")
	limitsIdx, keyinitIdx := -1, -1
	for i, l := range strings.Split(stack, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "session" && filepath.Base(f[2]) == "pam_limits.so" && limitsIdx < 0 {
			limitsIdx = i
		}
		if len(f) >= 3 && f[2] == harness.Module(t) {
			keyinitIdx = i
		}
	}
	if limitsIdx < 0 || keyinitIdx < limitsIdx {
		t.Fatalf("/etc/pam.d/login does not run pam_limits.so before the keyinit line:\n%s", stack)
	}
	const limitsConf = "/etc/security/limits.conf"
	limits := fmt.Sprintf("# pam_keyinit_go test\n%[1]s hard as 600000\n%[1]s soft as 600000\n", u.Name)
	harness.OverlayFile(t, limitsConf, []byte(limits))

	t.Run("login", func(t *testing.T) {
		text, entries := loginOnPty(t, log, u, "")
		defer dumpLog(t, entries)
		if got := strings.Join(strings.Fields(text), " "); !strings.Contains(got, "Max address space 614400000 614400000 bytes") {
			t.Errorf("the user's shell does not run under limits.conf's as 600000: pam_limits did not set it")
		}
		if !strings.Contains(text, fmt.Sprintf("keyring;%d;%d;3f030000;_ses", u.UID, u.GID)) {
			t.Errorf("the session did not get a new _ses of the user's from the plain keyinit in C")
		}
		if errs := moduleErrors(entries); len(errs) != 0 {
			t.Errorf("error lines: %q", faultTexts(errs))
		}
		e := faultOneLine(t, harness.Matching(entries, "pam_keyinit_go("), logWarning,
			"pam_keyinit_go(login:session): made session keyring ", plainKeyinitSays,
			"RLIMIT_AS", " of 600000 KiB", "limits.conf \"as\"")
		t.Logf("the module's line: %s", e)
	})

	t.Run("check", func(t *testing.T) {
		cmd := exec.Command(harness.Built(t, "keyinit-go"), "check", "--json", "--pam-dir", "/etc/pam.d",
			"--limits", limitsConf, "login")
		out, err := cmd.Output()
		t.Logf("keyinit-go check --json --limits %s login: %v\n%s", limitsConf, err, out)
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 {
			t.Errorf("keyinit-go check exits 1 (errors); want 0: a low limit is a warning")
		} else if err != nil {
			t.Fatalf("keyinit-go check: %v", err)
		}
		var rep struct {
			Findings []struct {
				Pos struct {
					File string `json:"file"`
					Line int    `json:"line"`
				} `json:"pos"`
				Severity, Code, Service, Message string
			} `json:"findings"`
		}
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("keyinit-go check --json: %v\n%s", err, out)
		}
		var low []string
		lines := map[int]bool{}
		for _, f := range rep.Findings {
			if f.Code != "low-limit" {
				continue
			}
			low = append(low, f.Message)
			lines[f.Pos.Line] = true
			if f.Severity != "warning" || f.Service != "login" || f.Pos.File != limitsConf {
				t.Errorf("low-limit finding %+v; want a warning for service login at %s", f, limitsConf)
			}
			// The need it states is the floor the front refuses below
			// (floor.h), with room for the login process's own mappings.
			need := fmt.Sprintf("below the %d KiB the module needs", runtimefloor.AddressSpaceLimitKiB())
			for _, want := range []string{u.Name, " as limit of ", " to 600000 KiB", "pam_limits.so", "pam_keyinit_go.so", need} {
				if !strings.Contains(f.Message, want) {
					t.Errorf("low-limit message %q does not contain %q", f.Message, want)
				}
			}
		}
		// One for each of limits.conf's two lines (2: hard, 3: soft).
		if len(low) != 2 || !lines[2] || !lines[3] {
			t.Errorf("low-limit findings %q; want one for each of %s's lines 2 and 3\n%s", low, limitsConf, out)
		}
	})
}

// TestCallerFaultSignalsToSu: an unprivileged user runs the real setuid su
// to another user (typing its password), with our module as su-l's keyinit
// line, "force revoke". While the session runs (su's watching parent waits
// for the command, with every signal but SIGTERM, SIGALRM, SIGINT and
// SIGQUIT blocked) the caller sends su kill -SEGV, -BUS and -FPE, which it
// may: su's real uid is the caller's. They must stay pending, as without a
// Go runtime in su: su does not die, the command finishes, su closes the
// session (the keyring is revoked, seen by a process the session left
// behind) and exits 0, and nothing of the runtime's reaches the terminal.
// pam_keyinit.so in the same line is the reference, and ours must behave
// the same way.
//
// Before the runtime's threads were made to block every signal, the
// runtime unblocked SIGSEGV, SIGBUS and SIGFPE on each of its threads: the
// first kill() to su landed there, in the runtime's handler, which wrote
// "SIGSEGV: segmentation violation" and a goroutine dump to the caller's
// terminal and ended su (by SIGQUIT): the command's DONE never came from a
// live su, the session never closed and the keyring stayed valid. (Checked
// with a copy of the tree that does not clear the runtime's _SigUnblock
// flags: the mutant sigtable-keeps-unblock, test/mutate/mutants.txt.)
func TestCallerFaultSignalsToSu(t *testing.T) {
	su := newSetuidSu(t)
	const faults = 1<<(syscall.SIGSEGV-1) | 1<<(syscall.SIGBUS-1) | 1<<(syscall.SIGFPE-1)
	type result struct {
		status  int
		done    bool
		pending uint64 // su's process-wide pending signals after the kills
	}
	results := map[string]result{}
	for _, m := range []struct{ name, module string }{
		{"pam_keyinit", harness.CModule(t)},
		{"ours", harness.Module(t)},
	} {
		t.Run(m.name, func(t *testing.T) {
			harness.ReplaceKeyinitLine(t, "su-l", m.module, "force revoke")
			p := harness.NewSessionProbe(t, su.target, "su-signals-"+m.name)
			// The process the probe leaves behind ends at once once told.
			t.Cleanup(func() { os.WriteFile(filepath.Join(p.Dir, "go"), nil, 0o644) })
			var pending uint64
			var blocking []string
			o := su.run(t, "", p.Command()+"; sleep 3; echo DONE", "probe-started", func(pid int) {
				for _, sig := range []string{"-SEGV", "-BUS", "-FPE"} {
					kill := exec.Command("kill", sig, strconv.Itoa(pid))
					kill.SysProcAttr = &syscall.SysProcAttr{
						Credential: &syscall.Credential{Uid: su.caller.UID, Gid: su.caller.GID, Groups: []uint32{}},
					}
					if out, err := kill.CombinedOutput(); err != nil {
						t.Errorf("kill %s %d as %s: %v: %s", sig, pid, su.caller.Name, err, out)
					}
					time.Sleep(200 * time.Millisecond)
				}
				pending = statusMask(t, fmt.Sprintf("/proc/%d/status", pid), "ShdPnd")
				tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
				for _, task := range tasks {
					if blk := statusMask(t, task, "SigBlk"); blk&faults != faults {
						blocking = append(blocking, fmt.Sprintf("%s SigBlk %016x", task, blk))
					}
				}
			})
			t.Logf("%s: %s; terminal:\n%s", m.name, o, o.text)
			done := strings.Contains(o.text, "DONE")
			results[m.name] = result{o.status, done, pending & faults}
			if !strings.Contains(o.text, "probe-started") {
				t.Fatalf("the session's command did not start: %s", o)
			}
			if o.status != 0 || !done {
				t.Errorf("%s, DONE written: %v; want su alive to the end and status 0", o, done)
			}
			if x := runtimeText.FindString(o.text); x != "" {
				t.Errorf("%q on the caller's terminal", x)
			}
			if pending&faults != faults {
				t.Errorf("su's pending signals %016x after the kills; want SIGSEGV, SIGBUS and SIGFPE pending (blocked by every thread)", pending)
			}
			for _, b := range blocking {
				t.Errorf("a thread of su does not block SIGSEGV, SIGBUS and SIGFPE while the session runs: %s", b)
			}
			if line := p.CheckInside(t); line != "" {
				p.CheckRevokedAfterLogout(t, line)
			}
		})
	}
	if ours, theirs := results["ours"], results["pam_keyinit"]; len(results) == 2 && ours != theirs {
		t.Errorf("with our module %+v; with pam_keyinit.so %+v: want the same", ours, theirs)
	}
}

// statusMask reads a hexadecimal mask field (SigBlk, ShdPnd) of a
// /proc/PID/status file.
func statusMask(t *testing.T, path, field string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("read %s: %v", path, err)
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Errorf("%s in %s: %v", field, path, err)
			}
			return n
		}
	}
	t.Errorf("no %s in %s", field, path)
	return 0
}

// loginOnPty runs "login -f USER" on a terminal made by script(1), after
// prelude in root's shell (the shell that starts script, as a getty's
// parent would), as TestLoginUnderPty does. The user's ~/.profile prints a
// marker, the limits and the session keyring, and logs out. It asserts
// that the login went on to the user's shell and that nothing of the Go
// runtime's reached the terminal, and returns the terminal's text and the
// syslog of the login.
func loginOnPty(t *testing.T, log *harness.Syslog, u harness.LoginUser, prelude string) (string, []harness.Entry) {
	t.Helper()
	u.WriteFileAs(t, ".profile", []byte(`echo LOGIN-MARKER; grep -E '^Max (address space|data size|stack size)' /proc/self/limits; `+
		`echo "keyring=$(keyctl rdescribe @s 2>&1)"; exit 0`+"\n"), 0o644)
	script := `exec script -q -e -c "login -f $1" /dev/null`
	if prelude != "" {
		script = prelude + " && " + script
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log.Collect()
	out, err := exec.CommandContext(ctx, "/bin/sh", "-c", script, "sh", u.Name).CombinedOutput()
	entries := log.Collect()
	text := string(out)
	t.Logf("%s; script -c 'login -f %s': %v\n%s", prelude, u.Name, err, text)
	if err != nil || !strings.Contains(text, "LOGIN-MARKER") {
		t.Errorf("the login did not go on to the user's shell (%v)", err)
	}
	if x := runtimeText.FindString(text); x != "" {
		t.Errorf("%q on the terminal", x)
	}
	return text, entries
}

// TestHostileLimitsLoginStack: the stack limit where it can reach a login
// host (through a setuid program it cannot, see TestHostileLimitsSetuidSu):
// root's shell, as the parent of a getty or telnetd would, sets a soft
// stack limit of 100000000 KiB and starts "login -f USER" on a terminal;
// glibc gives login's new threads stacks of that size, far more than the
// runtime's threads can have. pam_keyinit.so, the reference, opens the
// session with a new _ses; with ours the plain keyinit in C does the same,
// with exactly one LOG_WARNING line about the stack limit.
func TestHostileLimitsLoginStack(t *testing.T) {
	harness.RequirePrivateMounts(t)
	requireLoginTools(t)
	log := harness.Log(t)
	u := harness.TempLoginUser(t)
	ownSes := fmt.Sprintf("keyring=keyring;%d;%d;3f030000;_ses", u.UID, u.GID)
	for _, m := range []struct{ name, module string }{
		{"pam_keyinit", harness.CModule(t)},
		{"ours", harness.Module(t)},
	} {
		t.Run(m.name, func(t *testing.T) {
			harness.ReplaceKeyinitLine(t, "login", m.module, "force revoke")
			text, entries := loginOnPty(t, log, u, "ulimit -S -s 100000000")
			defer dumpLog(t, entries)
			errs := moduleErrors(entries)
			if !strings.Contains(text, ownSes) || len(errs) != 0 {
				t.Errorf("the session did not get a new _ses (%s) without errors: %q", ownSes, faultTexts(errs))
			}
			if m.name == "pam_keyinit" {
				return
			}
			line := faultOneLine(t, harness.Matching(entries, "pam_keyinit_go("), logWarning,
				"pam_keyinit_go(login:session): made session keyring ", plainKeyinitSays,
				"new threads get 100000000 KiB stacks", "RLIMIT_STACK", "ulimit -s")
			t.Logf("the module's line: %s", line)
		})
	}
}

// requireLoginTools stops a test that drives the real login on a terminal
// (script) and looks at keyrings (keyctl) on a machine without them.
func requireLoginTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"login", "script", "keyctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			harness.Lacks(t, "%s (%v)", tool, err)
		}
	}
}

// capSysResource is CAP_SYS_RESOURCE's bit (linux/capability.h).
const capSysResource = 24

// boundingSetHas says whether this process's capability bounding set holds
// the capability: what a setuid-root program it runs can have.
func boundingSetHas(t *testing.T, capability uint) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			set, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("CapBnd %q: %v", v, err)
			}
			return set&(1<<capability) != 0
		}
	}
	t.Fatal("/proc/self/status has no CapBnd line")
	return false
}
