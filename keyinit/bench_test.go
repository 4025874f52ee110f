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

// BenchmarkOpenClose is one open_session and one close_session with
// "force revoke" on the real kernel and the real per-thread id switches:
// what pam_keyinit_go does per login, minus libpam and cgo. Go's part of
// open is Module.Init; close is the C front's, one KEYCTL_REVOKE, done here
// by revoke so the pair stays comparable with the hosts' pairs. Run it as root
// ('make bench' does). allocs/pair counts the Go heap allocations of a
// successful pair alone and must stay 0; allocs/op also includes the rare
// failed pairs, which build a log line.
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
		var st keyinit.State
		open := m.Init(&st, keyinit.HookOpenSession, args)
		if revoke(&st) != keyinit.Success || open != keyinit.Success {
			failed++
			b.StopTimer()
			time.Sleep(time.Millisecond)
			b.StartTimer()
		}
		if st.Serial != 0 {
			b.Fatalf("close left keyring %d unrevoked", st.Serial)
		}
	}
	b.ReportMetric(float64(failed)/float64(b.N), "failed/op")
	b.StopTimer()
	b.ReportMetric(allocsPerPair(b, m, args), "allocs/pair")
}

// revoke is what the C front does at the last close_session of a handle.
func revoke(st *keyinit.State) keyinit.Code {
	if st.Serial == 0 {
		return keyinit.SessionErr
	}
	if err := (keyinit.Kernel{}).Revoke(int(st.Serial)); err != nil {
		return keyinit.SessionErr
	}
	st.Serial = 0
	return keyinit.Success
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
		var st keyinit.State
		runtime.ReadMemStats(&before)
		open := m.Init(&st, keyinit.HookOpenSession, args)
		closed := revoke(&st)
		runtime.ReadMemStats(&after)
		if open != keyinit.Success || closed != keyinit.Success {
			time.Sleep(time.Millisecond)
			continue
		}
		ok++
		allocs += after.Mallocs - before.Mallocs
	}
	return float64(allocs) / float64(ok)
}
