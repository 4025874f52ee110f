package harness

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Entry is one syslog message.
type Entry struct {
	Priority int    // facility<<3 | severity
	Text     string // the message after the timestamp: "ident: pam_keyinit_go(service:session): ..."
}

// Severity is the entry's syslog level (LOG_ERR, LOG_NOTICE, ...).
func (e Entry) Severity() int { return e.Priority & 7 }

// Facility is the entry's syslog facility (LOG_AUTHPRIV is 10<<3).
func (e Entry) Facility() int { return e.Priority &^ 7 }

// Syslog receives the datagrams that syslog(3), and so pam_syslog, sends to
// /dev/log from this process and its children. A goroutine reads them as they
// come: a unix datagram socket queues only a few, and a full queue would
// block every sender (useradd, sshd, the module itself).
type Syslog struct {
	path    string
	mu      sync.Mutex
	cond    *sync.Cond
	entries []Entry
	markers map[string]bool
	seq     int
}

func newSyslog(conn *net.UnixConn, path string) *Syslog {
	s := &Syslog{path: path, markers: make(map[string]bool)}
	s.cond = sync.NewCond(&s.mu)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			s.mu.Lock()
			if strings.HasPrefix(msg, markerPrefix) {
				s.markers[msg] = true
			} else {
				s.entries = append(s.entries, parseEntry(msg))
			}
			s.cond.Broadcast()
			s.mu.Unlock()
		}
	}()
	return s
}

const markerPrefix = "kig-harness-marker-"

var capture *Syslog

const nsEnv = "KIG_TEST_PRIVATE_MOUNTS"

// Main runs the tests of a package; call it from TestMain. As root it re-runs
// the test binary in a private mount namespace and captures /dev/log there:
// an existing /dev/log (a syslog daemon's) is covered by a bind mount that
// only the tests see; with none, the namespace gets a /dev of its own that
// has one. Not as root it just runs the tests (the root ones skip).
func Main(m *testing.M) int {
	if os.Geteuid() != 0 {
		return m.Run()
	}
	if os.Getenv(nsEnv) == "" {
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), nsEnv+"=1")
		// Go makes the new namespace's mounts private (MS_REC|MS_PRIVATE).
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode()
			}
			fmt.Fprintln(os.Stderr, "harness: cannot re-run the tests in a private mount namespace:", err)
			return 1
		}
		return 0
	}
	// One test run at a time per machine: runs own /dev/log in turn, and
	// share the machine's key quotas and PAM configuration.
	if lock, err := os.OpenFile("/run/lock/pam_keyinit_go-tests.lock", os.O_CREATE|os.O_RDWR, 0o600); err == nil {
		defer lock.Close()
		if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
			fmt.Fprintln(os.Stderr, "harness: cannot lock out other test runs:", err)
		}
	} else {
		fmt.Fprintln(os.Stderr, "harness: cannot lock out other test runs (do not run two at once):", err)
	}
	sweepLeftovers()
	s, cleanup, err := listenDevLog()
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness: no syslog capture, log assertions will fail:", err)
		return m.Run()
	}
	capture = s
	defer cleanup()
	return m.Run()
}

func listenDevLog() (*Syslog, func(), error) {
	const devLog = "/dev/log"
	dir, err := os.MkdirTemp("", "kig-syslog")
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	os.Chmod(path, 0o666) // children run as other users log too, as with syslogd's socket
	cleanup := func() {
		conn.Close()
		os.RemoveAll(dir)
	}
	if _, err := os.Lstat(devLog); err != nil {
		// No syslog daemon, so no /dev/log to cover: give this namespace
		// a /dev of its own that has one, rather than add it to the
		// machine's.
		undo, err := privateDevWith(path, "log")
		if err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("a private /dev with a log socket: %w", err)
		}
		return newSyslog(conn, path), func() { undo(); cleanup() }, nil
	}
	if err := unix.Mount(path, devLog, "", unix.MS_BIND, ""); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("bind %s over %s: %w", path, devLog, err)
	}
	return newSyslog(conn, path), func() {
		unix.Unmount(devLog, unix.MNT_DETACH)
		cleanup()
	}, nil
}

// privateDevWith replaces /dev, in this private mount namespace only, with
// a tmpfs into which every entry of the real /dev is bound (device nodes,
// directories with their mounts such as /dev/pts, symbolic links copied;
// ptmx becomes a link to pts/ptmx), plus extra bound as /dev/NAME. The
// machine's /dev is not changed.
func privateDevWith(extra, name string) (undo func(), err error) {
	old, err := os.MkdirTemp("", "kig-dev")
	if err != nil {
		return nil, err
	}
	undo = func() {
		unix.Unmount("/dev", unix.MNT_DETACH)
		unix.Unmount(old, unix.MNT_DETACH)
		os.Remove(old)
	}
	if err := unix.Mount("/dev", old, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		os.Remove(old)
		return nil, err
	}
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID, "mode=0755"); err != nil {
		unix.Unmount(old, unix.MNT_DETACH)
		os.Remove(old)
		return nil, err
	}
	entries, err := os.ReadDir(old)
	if err != nil {
		undo()
		return nil, err
	}
	bind := func(src, dst string, isDir bool) error {
		if isDir {
			if err := os.Mkdir(dst, 0o755); err != nil {
				return err
			}
			return unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, "")
		}
		if err := os.WriteFile(dst, nil, 0o600); err != nil {
			return err
		}
		return unix.Mount(src, dst, "", unix.MS_BIND, "")
	}
	for _, e := range entries {
		src, dst := filepath.Join(old, e.Name()), filepath.Join("/dev", e.Name())
		if e.Name() == "ptmx" {
			// The kernel finds the pty instance next to the ptmx node
			// opened, which a bound node does not have: link to devpts's
			// own, as containers do.
			if err := os.Symlink("pts/ptmx", dst); err != nil {
				undo()
				return nil, err
			}
			continue
		}
		if e.Type()&os.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err == nil {
				err = os.Symlink(target, dst)
			}
			if err != nil {
				undo()
				return nil, err
			}
			continue
		}
		if err := bind(src, dst, e.IsDir()); err != nil {
			undo()
			return nil, fmt.Errorf("%s: %w", dst, err)
		}
	}
	if err := bind(extra, filepath.Join("/dev", name), false); err != nil {
		undo()
		return nil, err
	}
	return undo, nil
}

// Log is the capture of this test run; the test fails if there is none.
func Log(t testing.TB) *Syslog {
	t.Helper()
	RequireRoot(t)
	if capture == nil {
		t.Fatal("no syslog capture: call harness.Main from TestMain")
	}
	return capture
}

// Collect returns every message received since the previous Collect. It
// sends itself a marker and waits for it, so everything logged before the
// call (datagrams keep their order) is included.
func (s *Syslog) Collect() []Entry {
	s.mu.Lock()
	s.seq++
	marker := markerPrefix + strconv.Itoa(s.seq)
	s.mu.Unlock()
	if c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: s.path, Net: "unixgram"}); err == nil {
		c.Write([]byte(marker))
		c.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for !s.markers[marker] && time.Now().Before(deadline) {
		go func() { time.Sleep(100 * time.Millisecond); s.cond.Broadcast() }()
		s.cond.Wait()
	}
	delete(s.markers, marker)
	got := s.entries
	s.entries = nil
	return got
}

// parseEntry reads "<PRI>Mmm dd hh:mm:ss text".
func parseEntry(msg string) Entry {
	var e Entry
	if strings.HasPrefix(msg, "<") {
		if end := strings.IndexByte(msg, '>'); end > 0 {
			e.Priority, _ = strconv.Atoi(msg[1:end])
			msg = msg[end+1:]
		}
	}
	if len(msg) > 16 && msg[3] == ' ' && msg[15] == ' ' {
		msg = msg[16:]
	}
	e.Text = strings.TrimRight(msg, "\n\x00")
	return e
}

// Matching returns the entries whose text contains every one of parts.
func Matching(entries []Entry, parts ...string) []Entry {
	var out []Entry
next:
	for _, e := range entries {
		for _, p := range parts {
			if !strings.Contains(e.Text, p) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}
