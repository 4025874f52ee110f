package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"pam_keyinit_go/internal/runtimefloor"
	"pam_keyinit_go/test/harness"
)

// The runtime's floor (internal/runtimefloor/floor.h), which the front
// checks before it starts the runtime, is measured here on this toolchain:
// build/test/floorhost (test/hosts/floorhost.c) starts the Go core's
// runtime as the front does but without its checks, under a limit; a
// runtime that cannot start ends the process. Every limit the front lets
// through must start it. A new Go release that needs more fails this test,
// rather than the hosts.

// startsUnder runs floorhost under a limit (item "as", "data" or "none",
// with kib of headroom beyond what the process maps before loading the
// core) and extra prlimit arguments; it reports whether the runtime started,
// and what the process printed if not.
func startsUnder(t *testing.T, item string, kib uint64, prlimitArgs ...string) (bool, string) {
	t.Helper()
	args := append([]string{"prlimit"}, prlimitArgs...)
	args = append(args, "--", harness.Built(t, "test/floorhost"), harness.Built(t, "pam_keyinit_go/core.so"),
		item, strconv.FormatUint(kib, 10))
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err == nil && strings.Contains(string(out), "started") {
		return true, ""
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return false, fmt.Sprintf("%v: %s", err, first)
}

// sweep tries every headroom from 0 to max in steps, and returns the
// largest that failed (0 if none) and the ranges that failed, for the log.
func sweep(t *testing.T, item string, max, step uint64) (uint64, string) {
	t.Helper()
	var worst uint64
	var ranges []string
	from := int64(-1)
	for kib := uint64(0); kib <= max; kib += step {
		ok, why := startsUnder(t, item, kib)
		if !ok {
			worst = kib
			if from < 0 {
				from = int64(kib)
				ranges = append(ranges, fmt.Sprintf("%d-", kib))
			}
			ranges[len(ranges)-1] = fmt.Sprintf("%d-%d KiB (%s)", from, kib, why)
		} else {
			from = -1
		}
	}
	return worst, strings.Join(ranges, "; ")
}

func TestRuntimeFloorAddressSpace(t *testing.T) {
	harness.RequireRoot(t)
	// What the front's check maps: the floor and a default stack for each
	// of the runtime's threads (8 MiB each here).
	need := runtimefloor.AddressSpaceKiB + runtimefloor.Threads*runtimefloor.DefaultStackKiB
	worst, failed := sweep(t, "as", need+100000, 25000)
	t.Logf("RLIMIT_AS headroom: the runtime failed to start at %s; the front needs %d KiB", failed, need)
	if worst >= need {
		t.Errorf("the runtime failed to start with %d KiB of address space to spare, which the front lets through (it needs %d KiB): raise KIG_FLOOR_AS_KIB", worst, need)
	}
	if worst == 0 {
		t.Errorf("the runtime started with no address space to spare: the measurement measures nothing")
	}
}

func TestRuntimeFloorData(t *testing.T) {
	harness.RequireRoot(t)
	need := runtimefloor.DataKiB
	worst, failed := sweep(t, "data", need+20000, 2000)
	t.Logf("RLIMIT_DATA headroom: the runtime failed to start at %s; the front needs %d KiB", failed, need)
	if worst >= need {
		t.Errorf("the runtime failed to start with %d KiB of data limit to spare, which the front lets through (it needs %d KiB): raise KIG_FLOOR_DATA_KIB", worst, need)
	}
	if worst == 0 {
		t.Errorf("the runtime started with no data limit to spare: the measurement measures nothing")
	}
}

// Every stack limit within the front's bounds starts the runtime; the ones
// outside are where it failed, or where its threads' stacks outgrow what a
// login host can map.
func TestRuntimeFloorStack(t *testing.T) {
	harness.RequireRoot(t)
	for _, kib := range []uint64{16, 32, 64, 128, 256, 512, 1024, 8192, 1 << 20, 4 << 20, 16 << 20, 100000000} {
		ok, why := startsUnder(t, "none", 0, fmt.Sprintf("--stack=%d", kib*1024))
		least := runtimefloor.StackLeastKiB(os.Getpagesize())
		inside := kib >= least && kib <= runtimefloor.StackMaxKiB
		t.Logf("RLIMIT_STACK %d KiB: started %v %s", kib, ok, why)
		if inside && !ok {
			t.Errorf("RLIMIT_STACK %d KiB is within the front's bounds (%d-%d KiB) but the runtime failed: %s",
				kib, least, runtimefloor.StackMaxKiB, why)
		}
	}
	if ok, why := startsUnder(t, "none", 0, "--stack=unlimited"); !ok {
		t.Errorf("RLIMIT_STACK unlimited: the runtime failed: %s", why)
	}
}

// The memory a start touches, charged to a fresh memory cgroup (its peak),
// is below what the front requires to be left, in each of five starts (it
// varies: from 3 to 9.2 MiB on arm64 with 4 KiB pages).
func TestRuntimeFloorMemory(t *testing.T) {
	var peak uint64
	var peaks []string
	for range 5 {
		cg := harness.TempCgroup(t, "memory")
		args := append(cg.Wrap(), harness.Built(t, "test/floorhost"), harness.Built(t, "pam_keyinit_go/core.so"), "none", "0")
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("floorhost: %v\n%s", err, out)
		}
		peakFile := "memory.max_usage_in_bytes"
		if cg.V2 {
			peakFile = "memory.peak"
		}
		b, err := os.ReadFile(filepath.Join(cg.Dir, peakFile))
		if err != nil {
			harness.Lacks(t, "the memory cgroup's peak usage (%v)", err)
		}
		p, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		peaks = append(peaks, strconv.FormatUint(p/1024, 10))
		peak = max(peak, p)
	}
	t.Logf("runtime starts peaked at %s KiB charged to their memory cgroups (page size %d); the front needs %d KiB left",
		strings.Join(peaks, ", "), os.Getpagesize(), runtimefloor.MemoryKiB)
	if peak/1024 >= runtimefloor.MemoryKiB {
		t.Errorf("a runtime start charged %d KiB to its memory cgroup, more than the %d KiB the front requires: raise KIG_FLOOR_MEMORY_KIB", peak/1024, runtimefloor.MemoryKiB)
	}
	if peak == 0 {
		t.Errorf("no memory charged: the measurement measures nothing")
	}
}

// The README and the manual page state the floor the front checks: the
// numbers they give are floor.h's.
func TestDocsStateTheFloor(t *testing.T) {
	root := harness.RepoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := renderMan(t, filepath.Join(root, "doc", "pam_keyinit_go.8"))
	for name, doc := range map[string]string{"README.md": normalise(string(readme)), "pam_keyinit_go(8)": normalise(page)} {
		for _, want := range []string{
			thousands(runtimefloor.AddressSpaceKiB) + " kib", thousands(runtimefloor.DataKiB) + " kib",
			fmt.Sprintf("%d kib", runtimefloor.StackMinKiB), fmt.Sprintf("%d mib", runtimefloor.MemoryKiB/1024),
		} {
			if !strings.Contains(doc, want) {
				t.Errorf("%s does not state the floor %q (internal/runtimefloor/floor.h)", name, want)
			}
		}
	}
}

// thousands writes n with commas: 1600000 is "1,600,000".
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
