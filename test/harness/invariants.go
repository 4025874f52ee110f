package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Invariants is what a fault or bad input must leave as it found it in
// this process: the ids of every thread, the open file descriptors and what
// they point to, the test binary's goroutines, and the keys the user's quota
// counts. (Not the number of threads: this host is a Go program, whose own
// runtime starts threads when it likes; the C hosts of hoststate_test.go
// count the module's.)
type Invariants struct {
	ids        map[string]bool // the distinct per-thread Uid/Gid/Groups lines
	fds        []string
	goroutines int
	uid        uint32
	keys       string
}

// settle is how long Check waits for what the kernel and the runtime free
// asynchronously: an exiting thread, a keyring freed by the key garbage
// collector once its last reference is gone, a finished goroutine.
const settle = 10 * time.Second

// TakeInvariants records the invariants, with u's key quota use. Call
// EnsureUserKeyrings first so that the user's persistent keyrings exist.
func TakeInvariants(t testing.TB, u User) Invariants {
	t.Helper()
	ids, err := ThreadIDs()
	if err != nil {
		t.Fatalf("thread ids: %v", err)
	}
	inv := Invariants{ids: map[string]bool{}, fds: fdTargets(OpenFDs()), goroutines: runtime.NumGoroutine(), uid: u.UID, keys: KeyUsage(u.UID)}
	for _, v := range ids {
		inv.ids[v] = true
	}
	return inv
}

// Check fails the test if an invariant did not come back within settle.
func (inv Invariants) Check(t testing.TB, what string) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		problems := inv.problems()
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range problems {
				t.Errorf("%s: %s", what, p)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (inv Invariants) problems() []string {
	var out []string
	ids, err := ThreadIDs()
	if err != nil {
		out = append(out, fmt.Sprintf("thread ids: %v", err))
	}
	for tid, v := range ids {
		if !inv.ids[v] {
			out = append(out, fmt.Sprintf("thread %s has ids %q; every thread had one of %v", tid, v, sortedKeys(inv.ids)))
		}
	}
	if fds := fdTargets(OpenFDs()); !slices.Equal(fds, inv.fds) {
		out = append(out, fmt.Sprintf("open fds point to %q, pointed to %q", fds, inv.fds))
	}
	if n := runtime.NumGoroutine(); n > inv.goroutines {
		out = append(out, fmt.Sprintf("%d goroutines, were %d", n, inv.goroutines))
	}
	if k := KeyUsage(inv.uid); k != inv.keys {
		out = append(out, fmt.Sprintf("uid %d's key quota use is %q, was %q (a key left behind)", inv.uid, k, inv.keys))
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// fdTargets is what the open fds point to, sorted: a descriptor closed and
// another opened in its place on something else is a change, whatever the
// numbers.
func fdTargets(fds []string) []string {
	var out []string
	for _, fd := range fds {
		_, target, _ := strings.Cut(fd, " -> ")
		out = append(out, target)
	}
	slices.Sort(out)
	return out
}

// OpenFDs lists this process's open file descriptors as "N -> target".
func OpenFDs() []string {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	var out []string
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the fd ReadDir itself used, closed by now
		}
		out = append(out, e.Name()+" -> "+target)
	}
	return out
}

// RSS is this process's resident set size in bytes (VmRSS).
func RSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// EnsureUserKeyrings makes the kernel create u's user and user-session
// keyrings (_uid.N, _uid_ses.N), which then stay for the life of the
// kernel and count in u's key quota: a baseline taken afterwards is the one
// a session must come back to.
func EnsureUserKeyrings(t testing.TB, u User) {
	t.Helper()
	cmd := exec.Command("setpriv", "--reuid="+strconv.Itoa(int(u.UID)), "--regid="+strconv.Itoa(int(u.GID)),
		"--clear-groups", "keyctl", "rdescribe", "@u")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("create the user keyrings of %s: %v: %s%s", u.Name, err, out, stderr.Bytes())
	}
	// Wait for the usage to show both keyrings.
	deadline := time.Now().Add(settle)
	for !strings.HasPrefix(KeyUsage(u.UID), "2/") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitKeyUsage polls uid's key quota use until it is want or settle has
// passed, and returns the last value.
func WaitKeyUsage(uid uint32, want string) string {
	deadline := time.Now().Add(settle)
	for {
		got := KeyUsage(uid)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}
