package harness

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Sshd is a private OpenSSH server for one test: its own host key, config
// and pid file in a temporary directory, listening on 127.0.0.1 on a free
// port, public-key logins only, for the temporary users (kig*) only. It
// uses the system's PAM service "sshd", which the test may overlay
// (ReplaceKeyinitLine). Its log goes to syslog, that is to the capture.
type Sshd struct {
	Port    int
	Dir     string
	Key     string // the client's private key, authorized by Authorize
	pubKey  []byte
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
}

const sshdBinary = "/usr/sbin/sshd" // sshd re-executes itself: it needs an absolute path

// StartSshd starts the server and waits until it answers with an SSH banner.
// It is stopped (SIGTERM to its pid, which ends only the listener) at cleanup.
func StartSshd(t testing.TB) *Sshd {
	t.Helper()
	RequireRoot(t)
	if _, err := os.Stat(sshdBinary); err != nil {
		t.Fatalf("%s is missing: install openssh-server ('make test' does): %v", sshdBinary, err)
	}
	// The privilege-separation directory the Debian package makes at boot.
	if _, err := os.Stat("/run/sshd"); os.IsNotExist(err) {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &Sshd{Dir: t.TempDir(), exited: make(chan struct{})}
	hostKey := filepath.Join(s.Dir, "ssh_host_ed25519_key")
	s.Key = filepath.Join(s.Dir, "client_ed25519")
	for _, k := range []string{hostKey, s.Key} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kig-test", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen %s: %v: %s", k, err, out)
		}
	}
	var err error
	if s.pubKey, err = os.ReadFile(s.Key + ".pub"); err != nil {
		t.Fatal(err)
	}
	s.Port = freePort(t)
	config := filepath.Join(s.Dir, "sshd_config")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(sshdConfig, s.Port, hostKey, filepath.Join(s.Dir, "sshd.pid"))), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sshdBinary, "-t", "-f", config).CombinedOutput(); err != nil {
		t.Fatalf("sshd -t rejects the test config: %v: %s", err, out)
	}

	s.cmd = exec.Command(sshdBinary, "-D", "-f", config)
	stderr, err := os.Create(filepath.Join(s.Dir, "sshd.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	s.cmd.Stdout, s.cmd.Stderr = stderr, stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	go func() { s.exitErr = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
	s.waitBanner(t)
	return s
}

// The test server: nothing but public-key logins of temporary users, with
// PAM sessions, on the loopback address.
const sshdConfig = `Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
UsePAM yes
PubkeyAuthentication yes
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers kig*
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitUserEnvironment no
MaxStartups 64
PerSourceMaxStartups none
LogLevel VERBOSE
SyslogFacility AUTHPRIV
`

// Alive fails the test if sshd has exited.
func (s *Sshd) Alive(t testing.TB) {
	t.Helper()
	select {
	case <-s.exited:
		b, _ := os.ReadFile(filepath.Join(s.Dir, "sshd.stderr"))
		t.Fatalf("sshd exited: %v: %s", s.exitErr, b)
	default:
	}
}

func (s *Sshd) waitBanner(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.Alive(t)
		c, err := net.DialTimeout("tcp", s.addr(), time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && strings.HasPrefix(line, "SSH-2.0-") {
				return
			}
			err = fmt.Errorf("banner %q: %v", line, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd on %s does not answer: %v", s.addr(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Sshd) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Authorize lets the client key log in as u.
func (s *Sshd) Authorize(t testing.TB, u LoginUser) {
	t.Helper()
	u.WriteFileAs(t, ".ssh/authorized_keys", s.pubKey, 0o600)
}

// SSH is the ssh client command that logs in as user and runs command;
// extra options (e.g. "-tt") go before the destination.
func (s *Sshd) SSH(user, command string, extra ...string) *exec.Cmd {
	args := []string{"-F", "/dev/null", "-i", s.Key, "-p", strconv.Itoa(s.Port),
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20"}
	args = append(args, extra...)
	args = append(args, "-l", user, "127.0.0.1", command)
	return exec.Command("ssh", args...)
}

// freePort is a TCP port on 127.0.0.1 that nothing listened on a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
