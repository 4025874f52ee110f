package keyinit

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/internal/keys"
)

// onLockedThread runs f on a new OS thread that exits afterwards, so the
// keyrings it looks up never reach another test.
func onLockedThread(f func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with f
		defer close(done)
		f()
	}()
	<-done
}

// The real kernel: the owner of @u is the real uid, and QuotaUse reports
// that uid's line of /proc/key-users (read with raw system calls).
func TestKernelOwnerAndQuotaUse(t *testing.T) {
	onLockedThread(func() {
		k := Kernel{}
		uid := uint32(os.Getuid())
		owner, err := k.Owner(keys.User)
		if err != nil || owner != uid {
			t.Errorf("Owner(@u) = %d, %v; want %d", owner, err, uid)
		}
		use := k.QuotaUse(uid)
		proc, err := os.ReadFile("/proc/key-users")
		if err != nil {
			lacks(t, "/proc/key-users ("+err.Error()+")")
		}
		var want string
		for _, l := range strings.Split(string(proc), "\n") {
			if f := strings.Fields(l); len(f) == 5 && f[0] == fmt.Sprintf("%d:", uid) {
				want = "uses " + f[3] + " keys and " + f[4] + " bytes"
			}
		}
		if want == "" || use != want {
			t.Errorf("QuotaUse(%d) = %q; want %q from /proc/key-users", uid, use, want)
		}
		if got := k.QuotaUse(4000000000); got != "" {
			t.Errorf("QuotaUse of a uid with no keys = %q; want \"\"", got)
		}
		if ids := (ThreadCreds{}).Get(); ids.RUID != uid || ids.EUID != uint32(os.Geteuid()) || ids.RGID != uint32(os.Getgid()) {
			t.Errorf("ThreadCreds.Get() = %+v; want real uid %d, effective uid %d, real gid %d", ids, uid, os.Geteuid(), os.Getgid())
		}
	})
}

// The owner of a keyring with the longest name the kernel allows (4095
// bytes): KEYCTL_DESCRIBE copies nothing into a buffer too short for it, so
// a short buffer would make the module replace the user's own keyring.
func TestKernelOwnerOfALongName(t *testing.T) {
	onLockedThread(func() {
		name := strings.Repeat("k", 4095)
		serial, err := unix.KeyctlJoinSessionKeyring(name)
		if err != nil {
			lacks(t, "a session keyring named with 4095 bytes ("+err.Error()+")")
		}
		owner, err := Kernel{}.Owner(serial)
		if err != nil || owner != uint32(os.Getuid()) {
			t.Errorf("Owner of a keyring named with 4095 bytes = %d, %v; want %d", owner, err, os.Getuid())
		}
	})
}
