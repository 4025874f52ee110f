package harness

import (
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

// KDC is a throwaway MIT Kerberos KDC for one test: a realm of its own
// (KIGXXXXXXXX.TEST), its database, stash and log in a temporary directory,
// listening on 127.0.0.1 on a free port. Krb5Conf is a client krb5.conf for
// it. Programs that are not setuid can be pointed at it with Env; a setuid
// one (su) ignores KRB5_CONFIG (libkrb5 reads it with secure_getenv) and
// reads only /etc/krb5.conf, which the test overlays with Krb5Conf.
type KDC struct {
	Realm    string
	Port     int
	Dir      string
	Krb5Conf string   // the client configuration: default_realm and this KDC
	Env      []string // KRB5_CONFIG and KRB5_KDC_PROFILE for the kdb5_util, kadmin.local and krb5kdc it runs
	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
}

// The KDC's tools (Debian: krb5-kdc, krb5-admin-server).
var kdcTools = []string{"krb5kdc", "kdb5_util", "kadmin.local"}

// StartKDC creates the realm's database and starts krb5kdc in the
// foreground; it is killed at cleanup. A machine without the KDC's tools
// Lacks it.
func StartKDC(t testing.TB) *KDC {
	t.Helper()
	RequireRoot(t)
	for _, tool := range kdcTools {
		if _, err := exec.LookPath(tool); err != nil {
			Lacks(t, "%s (%v): install krb5-kdc and krb5-admin-server ('make deps' does)", tool, err)
		}
	}
	k := &KDC{Realm: strings.ToUpper(RandomName("KIG")) + ".TEST", Dir: t.TempDir(), exited: make(chan struct{})}
	// krb5kdc binds its port itself: a port taken between freePort and
	// the bind makes it exit, and then another port is tried.
	for try := 0; ; try++ {
		k.Port = freePort(t)
		k.configure(t)
		if try == 0 {
			k.run(t, "kdb5_util", "create", "-s", "-r", k.Realm, "-P", RandomName("master-"))
		}
		if err := k.start(t); err == nil {
			return k
		} else if try == 4 {
			t.Fatalf("krb5kdc for %s: %v", k.Realm, err)
		}
	}
}

// configure writes kdc.conf and krb5.conf for k.Port.
func (k *KDC) configure(t testing.TB) {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(k.Port))
	kdcConf := fmt.Sprintf(`[kdcdefaults]
	kdc_listen = %[2]s
	kdc_tcp_listen = %[2]s
[realms]
	%[1]s = {
		database_name = %[3]s/principal
		key_stash_file = %[3]s/stash
		acl_file = %[3]s/kadm5.acl
	}
[logging]
	kdc = FILE:%[3]s/kdc.log
`, k.Realm, addr, k.Dir)
	// No DNS, no reverse lookups: only this KDC, on the loopback address.
	k.Krb5Conf = fmt.Sprintf(`# pam_keyinit_go test realm (test/harness/krb5.go)
[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
[realms]
	%[1]s = {
		kdc = %[2]s
	}
`, k.Realm, addr)
	for name, content := range map[string]string{"kdc.conf": kdcConf, "krb5.conf": k.Krb5Conf} {
		if err := os.WriteFile(filepath.Join(k.Dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k.Env = append(os.Environ(), "KRB5_CONFIG="+filepath.Join(k.Dir, "krb5.conf"), "KRB5_KDC_PROFILE="+filepath.Join(k.Dir, "kdc.conf"))
}

// start runs krb5kdc -n and waits until it accepts TCP connections on
// k.Port; an error if it exits first.
func (k *KDC) start(t testing.TB) error {
	t.Helper()
	k.cmd = exec.Command("krb5kdc", "-n", "-r", k.Realm)
	k.cmd.Env = k.Env
	out, err := os.Create(filepath.Join(k.Dir, "krb5kdc.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	k.cmd.Stdout, k.cmd.Stderr = out, out
	if err := k.cmd.Start(); err != nil {
		t.Fatalf("start krb5kdc: %v", err)
	}
	exited := make(chan struct{})
	go func() { k.exitErr = k.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(k.Port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("exited (%v) before listening on port %d: %s", k.exitErr, k.Port, k.log())
		default:
		}
		if time.Now().After(deadline) {
			k.cmd.Process.Kill()
			<-exited
			return fmt.Errorf("not listening on port %d after 20s: %s", k.Port, k.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	k.exited = exited
	t.Cleanup(func() {
		k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.exited:
		case <-time.After(10 * time.Second):
			k.cmd.Process.Kill()
			<-k.exited
		}
	})
	return nil
}

// log is what krb5kdc wrote, to its output and its log file.
func (k *KDC) log() string {
	out, _ := os.ReadFile(filepath.Join(k.Dir, "krb5kdc.out"))
	log, _ := os.ReadFile(filepath.Join(k.Dir, "kdc.log"))
	return string(out) + string(log)
}

// AddPrincipal adds name@Realm with password.
func (k *KDC) AddPrincipal(t testing.TB, name, password string) {
	t.Helper()
	k.run(t, "kadmin.local", "-r", k.Realm, "-q", fmt.Sprintf("addprinc -pw %s %s", password, name))
}

// Alive fails the test, with the KDC's log, if krb5kdc has exited.
func (k *KDC) Alive(t testing.TB) {
	t.Helper()
	select {
	case <-k.exited:
		t.Fatalf("krb5kdc exited: %v: %s", k.exitErr, k.log())
	default:
	}
}

func (k *KDC) run(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = k.Env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v: %s", name, args, err, out)
	}
}
