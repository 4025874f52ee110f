package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/test/harness"
)

// TestHostileEnvironmentThroughSetuidSu: an unprivileged user runs the real
// setuid /bin/su with the Go settings of hostileEnv in its environment and
// types the target user's password on a terminal. The session still gets
// the target's _ses, nothing of the runtime's reaches the terminal (its
// schedtrace and inittrace would), and su runs with no more threads than
// the module's runtime has anywhere.
func TestHostileEnvironmentThroughSetuidSu(t *testing.T) {
	harness.RequirePrivateMounts(t)
	caller := harness.TempUser(t)
	target := harness.TempLoginUser(t)
	password := harness.RandomName("pw-")
	chpasswd := exec.Command("chpasswd")
	chpasswd.Stdin = strings.NewReader(target.Name + ":" + password + "\n")
	if out, err := chpasswd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
	su, err := os.ReadFile("/etc/pam.d/su")
	if err != nil {
		t.Fatal(err)
	}
	harness.OverlayFile(t, "/etc/pam.d/su", append(su, []byte("session required "+harness.Module(t)+" force revoke\n")...))

	// What the target's shell runs: its session keyring, and su's threads
	// (su forks the shell and waits for it with the session open).
	probe := `echo "keyring=$(keyctl rdescribe @s)"; echo "su-$(grep ^Threads: /proc/$PPID/status)"`
	env := append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=dumb"}, hostileEnv...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	master, tty := openPty(t)
	cmd := exec.CommandContext(ctx, "su", target.Name, "-c", probe)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid: true, Setctty: true, // su reads the password from its terminal
		Credential: &syscall.Credential{Uid: caller.UID, Gid: caller.GID, Groups: []uint32{}},
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var out lockedBuffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, master); close(copied) }() // ends with EIO when su's side closes
	// Type the password once the prompt is up. su turns echo off (and
	// flushes pending input) after printing it, so wait a moment first.
	for !strings.Contains(out.String(), "Password:") && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	io.WriteString(master, password+"\n")
	err = cmd.Wait()
	<-copied
	text := out.String()
	t.Logf("su as %s with %q:\n%s", caller.Name, hostileEnv, text)
	if err != nil {
		t.Fatalf("su: %v", err)
	}
	if want := fmt.Sprintf("keyring=keyring;%d;%d;3f030000;_ses", target.UID, target.GID); !strings.Contains(text, want) {
		t.Errorf("the session's keyring is not the target's own _ses (%s)", want)
	}
	if m := regexp.MustCompile(`SCHED|(?m)^init |gomaxprocs|goroutine|GODEBUG`).FindString(text); m != "" {
		t.Errorf("the runtime wrote %q to the caller's terminal", m)
	}
	m := regexp.MustCompile(`su-Threads:\s+(\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("no thread count of su")
	}
	if n, _ := strconv.Atoi(m[1]); n > 1+maxRuntimeThreads {
		t.Errorf("su has %d threads in the session; want at most %d", n, 1+maxRuntimeThreads)
	}
}

// openPty opens a new pseudo-terminal pair as root: the caller may not open
// /dev/ptmx in the test's private /dev.
func openPty(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// lockedBuffer is a bytes.Buffer that the command's copier goroutine and
// the test may use at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
