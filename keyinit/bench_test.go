package keyinit_test

import (
	"os"
	"runtime"
	"testing"
	"time"

	"pam_keyinit_go/keyinit"
)

// benchUID and benchGID own the keyrings the benchmark makes: nobody and
// nogroup, so no real user's key quota is touched.
const benchUID, benchGID = 65534, 65534

// benchHost is a libpam that answers at once and logs nothing, so the
// benchmark measures the policy and its system calls alone.
type benchHost struct{}

func (benchHost) User() (string, keyinit.Code) { return "nobody", keyinit.Success }
func (benchHost) LookupUser(string) (uint32, uint32, bool) {
	return benchUID, benchGID, true
}
func (benchHost) Log(keyinit.Priority, string) {}

// openClose is one open_session and its last close_session: Init as the C
// front calls it, then the front's revoke (pam/front/revoke.c: one
// KEYCTL_REVOKE as the thread is, which possesses the keyring), here
// through Keys.Revoke. It says whether both succeeded.
func openClose(m keyinit.Module, args []string) bool {
	st := keyinit.State{Opens: 1}
	open := m.Init(&st, keyinit.HookOpenSession, args)
	if st.Serial <= 0 {
		return false
	}
	return m.Keys.Revoke(int(st.Serial)) == nil && open == keyinit.Success
}

// BenchmarkOpenClose is one open_session and one close_session with
// "force revoke" on the real kernel and the real per-thread id switches:
// what pam_keyinit_go does per login, minus libpam, cgo and the C front.
// Run it as root ('make bench' does, and reads its metrics by name).
// allocs/pair counts the Go heap allocations of a successful pair alone and
// must stay 0 (TestInitAllocatesNothing asserts it); allocs/op also
// includes the rare failed pairs, which build a log line.
//
// Each open makes a keyring that counts against nobody's key quota until the
// kernel's deferred garbage collector frees it after the close; when the loop
// outruns the collector, open fails with EDQUOT. Such a pair is counted in
// failed/op and followed by a pause, with the timer stopped, for the
// collector to catch up.
func BenchmarkOpenClose(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("skipped: needs root (keyrings for another uid, id switches); run 'make bench' as root")
	}
	// The keyrings and id switches belong to this thread; it is never
	// unlocked, so it exits with the benchmark's goroutine and takes its
	// session keyring along.
	runtime.LockOSThread()
	m := keyinit.Module{Keys: keyinit.Kernel{}, Creds: keyinit.ThreadCreds{}, Host: benchHost{}}
	args := []string{"force", "revoke"}
	failed := 0
	b.ReportAllocs()
	for b.Loop() {
		if !openClose(m, args) {
			failed++
			b.StopTimer()
			time.Sleep(time.Millisecond)
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(failed)/float64(b.N), "failed/op")
	b.StopTimer()
	b.ReportMetric(allocsPerPair(b, m, args), "allocs/pair")
}

// allocsPerPair is the mean number of heap allocations of 100 successful
// open+close pairs, read from the runtime's counters around each pair.
func allocsPerPair(b *testing.B, m keyinit.Module, args []string) float64 {
	var before, after runtime.MemStats
	var allocs uint64
	ok := 0
	for tries := 0; ok < 100; tries++ {
		if tries == 10000 {
			b.Fatalf("only %d of %d open+close pairs succeeded", ok, tries)
		}
		runtime.ReadMemStats(&before)
		good := openClose(m, args)
		runtime.ReadMemStats(&after)
		if !good {
			time.Sleep(time.Millisecond)
			continue
		}
		ok++
		allocs += after.Mallocs - before.Mallocs
	}
	return float64(allocs) / float64(ok)
}
