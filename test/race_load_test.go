package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pam_keyinit_go/test/harness"
)

// These tests run build/test/racehost (test/hosts/racehost.c): a host whose
// helper threads read and edit the environment, fork and exec, fork and run
// PAM, or set SIGPROF handlers and profile, in a tight loop while its main
// thread opens the first session of the process, which loads the Go core
// and starts its runtime. Each iteration is a new process, since the first
// load happens once per process. In every kind, once the open has
// returned, every thread that is not the host's (the runtime's) must block
// every signal but glibc's 32 and 33.

// raceIterations is the number of host processes per race kind.
const raceIterations = 200

// raceKinds are what the helper threads do (racehost.c says how).
var raceKinds = []string{"getenv", "setenv", "clearenv", "forkexec", "forkpam"}

// sigprofKinds are the kinds of TestRaceSIGPROFDuringFirstLoad.
var sigprofKinds = []string{"sigprof-flip", "sigprof-timer"}

// raceEnv is the whole environment each host starts with: Go settings a
// runtime that read the host's environment would act on (and print with),
// two variables of the host's own that must never be lost, and how long a
// forked child may take before it counts as hung.
var raceEnv = []string{
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GOMAXPROCS=5000", "GODEBUG=inittrace=1", "AAA_FIRST=1", "BBB_KEEP=2",
	"RACEHOST_CHILD_DEADLINE=5",
}

// raceKeys are the lines racehost prints; any other line on its stdout is
// output of someone else's (the runtime's).
var raceKeys = map[string]bool{
	"kind": true, "start": true, "open": true, "session keyring": true, "close": true, "end": true,
	"open ms": true, "loops": true, "loops in open": true, "mismatches": true, "first mismatch": true,
	"runtime threads": true, "sigprof ticks": true, "children": true, "children forked at the core": true, "child open 0": true, "child open 14": true,
	"child other": true, "child signal": true, "child timeout": true, "first child problem": true, "done": true,
}

// raceTally sums one kind's iterations.
type raceTally struct {
	kind                             string
	iterations, hostProblems         int
	openOK, mismatches               int
	withLoopsInOpen                  int
	loops, loopsInOpen               int
	runtimeThreads, withoutRuntime   int // threads not the host's after the open; hosts with none
	sigprofTicks                     int
	children, forkedAtCore           int
	child0, child14                  int
	childOther, childSignal, childTO int
	openMs                           []float64
	problems                         []string // the first few, with the iteration
	elapsed                          time.Duration
}

func (r *raceTally) problem(i int, format string, args ...any) {
	if len(r.problems) < 8 {
		r.problems = append(r.problems, fmt.Sprintf("iteration %d: ", i)+fmt.Sprintf(format, args...))
	}
}

func (r *raceTally) medianOpenMs() float64 {
	if len(r.openMs) == 0 {
		return 0
	}
	s := append([]float64(nil), r.openMs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func (r *raceTally) String() string {
	return fmt.Sprintf("%s: %d hosts in %v (median open %.1f ms): %d host problems, %d opens 0, %d mismatches; "+
		"helper loops %d, %d of them while the main thread was in open, in %d of the hosts; "+
		"runtime threads %d (hosts with none: %d); SIGPROF handled %d times; "+
		"children %d (%d forked as the core was mapped): open 0 %d, open 14 %d, other %d, signal %d, hung %d",
		r.kind, r.iterations, r.elapsed.Round(time.Millisecond), r.medianOpenMs(), r.hostProblems, r.openOK, r.mismatches,
		r.loops, r.loopsInOpen, r.withLoopsInOpen, r.runtimeThreads, r.withoutRuntime, r.sigprofTicks,
		r.children, r.forkedAtCore, r.child0, r.child14, r.childOther, r.childSignal, r.childTO)
}

// runRaceHost runs one host and adds what it says to r; userKeyring is what
// the main thread's session keyring must be after its open.
func runRaceHost(r *raceTally, i int, racehost string, svc harness.Service, u harness.User, userKeyring string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, racehost, r.kind, svc.Dir, svc.Name, u.Name, strconv.Itoa(int(u.UID)))
	cmd.Env = raceEnv
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r.iterations++
	switch {
	case ctx.Err() != nil:
		r.hostProblems++
		r.problem(i, "the host hung (killed after 30 s); its output: %q", stdout.String())
		return
	case err != nil:
		r.hostProblems++
		r.problem(i, "the host failed: %v; stderr %q; stdout %q", err, stderr.String(), stdout.String())
		return
	}
	if stderr.Len() != 0 {
		r.hostProblems++
		r.problem(i, "the host's stderr got %q", stderr.String())
	}
	got := map[string]string{}
	s := bufio.NewScanner(&stdout)
	for s.Scan() {
		name, value, ok := strings.Cut(s.Text(), ": ")
		if !ok || !raceKeys[name] {
			r.hostProblems++
			r.problem(i, "the host's stdout got %q", s.Text())
			continue
		}
		got[name] = value
	}
	if got["done"] != "yes" {
		r.hostProblems++
		r.problem(i, "the host did not finish: %q", stdout.String())
		return
	}
	num := func(name string) int {
		n, err := strconv.Atoi(got[name])
		if err != nil {
			r.hostProblems++
			r.problem(i, "%s: %q is not a number", name, got[name])
		}
		return n
	}
	if got["start"] != "0" || got["open"] != "0" || got["close"] != "0" || got["end"] != "0" {
		r.problem(i, "main thread: pam_start %s, open %s, close %s, pam_end %s; want 0 each",
			got["start"], got["open"], got["close"], got["end"])
	} else if got["session keyring"] != userKeyring {
		r.problem(i, "main thread: session keyring %q after open; want %q", got["session keyring"], userKeyring)
	} else {
		r.openOK++
	}
	if m := num("mismatches"); m != 0 {
		r.mismatches += m
		r.problem(i, "%d mismatches, the first: %s", m, got["first mismatch"])
	}
	r.loops += num("loops")
	if n := num("loops in open"); n > 0 {
		r.loopsInOpen += n
		r.withLoopsInOpen++
	}
	if n := num("runtime threads"); n > 0 {
		r.runtimeThreads += n
	} else {
		r.withoutRuntime++
	}
	r.sigprofTicks += num("sigprof ticks")
	r.children += num("children")
	r.forkedAtCore += num("children forked at the core")
	r.child0 += num("child open 0")
	r.child14 += num("child open 14")
	other, sig, hung := num("child other"), num("child signal"), num("child timeout")
	r.childOther += other
	r.childSignal += sig
	r.childTO += hung
	if other+sig+hung != 0 {
		r.problem(i, "children: %d other ends, %d signals, %d hung; the first: %s", other, sig, hung, got["first child problem"])
	}
	if ms, err := strconv.ParseFloat(got["open ms"], 64); err == nil {
		r.openMs = append(r.openMs, ms)
	}
}

// runRace runs raceIterations hosts of each kind against service, the kinds
// side by side (each with its own user, so that no kind's keyrings count
// against another's key quota), and returns the tallies in kinds' order.
func runRace(t *testing.T, kinds []string, svc harness.Service, users map[string]harness.User) []*raceTally {
	racehost := harness.Built(t, "test/racehost")
	out := make([]*raceTally, len(kinds))
	var wg sync.WaitGroup
	for k, kind := range kinds {
		r := &raceTally{kind: kind}
		out[k] = r
		u := users[kind]
		userKeyring := fmt.Sprintf("keyring;%d;%d;3f030000;_ses", u.UID, u.GID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			for i := 0; i < raceIterations; i++ {
				runRaceHost(r, i, racehost, svc, u, userKeyring)
			}
			r.elapsed = time.Since(start)
		}()
	}
	wg.Wait()
	return out
}

// TestRaceFirstLoad: while the main thread opens the first session of a
// process (the front loads the Go core, checks it and starts its runtime,
// with an argv, environment and auxiliary vector of its own), other threads
// of the host see their environment, the environment block after argv and
// the AT_RANDOM bytes exactly as the host had them, never a Go setting of
// the module's; a thread editing or clearing the environment loses nothing;
// an exec'd child gets the host's environment and ignored signals; a child
// forked at any moment (fork() waits while the core is loaded and started)
// runs its own transaction without crashing or hanging, opening with 0 or,
// when forked after the runtime started in its parent, PAM_SESSION_ERR.
// The main thread's open gives the user's _ses every time, and the runtime
// prints nothing although the host's environment asks it to
// (GODEBUG=inittrace=1). Linux-PAM's pam_keyinit.so, run the same way, is
// the reference: its numbers are logged.
func TestRaceFirstLoad(t *testing.T) {
	harness.RequireRoot(t)
	logs := harness.Log(t)
	users, ours := raceSetup(t, raceKinds)
	theirs := raceService(t, harness.CModule(t))
	logs.Collect()

	start := time.Now()
	got := runRace(t, raceKinds, ours, users)
	oursTook := time.Since(start)
	entries := logs.Collect()

	start = time.Now()
	// The reference's own problems are counted, not asserted: pam_keyinit.so
	// switches the ids of every thread of the host to the user's while it
	// opens, so a child forked or exec'd from another thread meanwhile
	// starts with the user's ids (cat cannot read its own
	// /proc/self/environ, a forked child's open gives it a keyring that is
	// not the user's _ses); and a child forked while its getpwnam holds
	// glibc's NSS module lock hangs in its own getpwnam.
	ref := runRace(t, raceKinds, theirs, users)
	refTook := time.Since(start)
	logs.Collect()

	for _, r := range ref {
		t.Logf("reference, pam_keyinit.so: %s", r)
		for _, p := range r.problems {
			t.Logf("reference, pam_keyinit.so, %s: %s", r.kind, p)
		}
	}
	t.Logf("pam_keyinit_go.so: %v for %d kinds x %d hosts; pam_keyinit.so: %v", oursTook.Round(time.Millisecond),
		len(raceKinds), raceIterations, refTook.Round(time.Millisecond))

	for _, r := range got {
		t.Run(r.kind, func(t *testing.T) {
			checkRace(t, r)
			if r.kind == "forkpam" {
				if r.child0 == 0 {
					t.Errorf("no forked child opened with 0: a child forked before the parent's runtime started must start its own")
				}
				if r.forkedAtCore < raceIterations/4 {
					t.Errorf("a child was forked as the core was mapped in only %d of %d hosts: the load window was not raced",
						r.forkedAtCore, raceIterations)
				}
			}
		})
	}
	// The children that could not make a keyring said so, once each, and
	// nothing else was logged at LOG_ERR.
	var forkedLines, otherErrs int
	for _, e := range harness.Matching(entries, "pam_keyinit_go(") {
		switch {
		case strings.Contains(e.Text, "it was forked from process"):
			forkedLines++
		case e.Severity() <= logErr:
			otherErrs++
			if otherErrs <= 5 {
				t.Errorf("logged: %q", e.Text)
			}
		}
	}
	want := 0
	for _, r := range got {
		want += r.child14
	}
	if forkedLines != want {
		t.Errorf("%d lines say a forked child cannot make a keyring; %d children opened with PAM_SESSION_ERR", forkedLines, want)
	}
	if otherErrs != 0 {
		t.Errorf("%d other error lines logged by the module", otherErrs)
	}
}

// raceSetup makes a user for each kind, and the service of our module: a
// private copy of it, since a rebuild of build/ during the minute a race
// runs would fail hosts with PAM_MODULE_UNKNOWN.
func raceSetup(t *testing.T, kinds []string) (map[string]harness.User, harness.Service) {
	t.Helper()
	users := map[string]harness.User{}
	for _, kind := range kinds {
		users[kind] = harness.TempUser(t)
	}
	return users, raceService(t, harness.WorldReadableModule(t, harness.Module(t)))
}

// raceService is a service with module's session line, in a directory of
// its own (pam_start_confdir) with an empty "other": libpam then loads no
// other stack in each of the thousands of processes, and logs nothing in
// the main thread. A log line there ("no default config other") would be
// the host's own race in the clearenv kind: syslog(3) reads TZ with getenv,
// which crashes on the array clearenv frees meanwhile, with pam_keyinit.so
// too.
func raceService(t *testing.T, module string) harness.Service {
	t.Helper()
	svc := harness.ConfDirService(t, "session required "+module+" force revoke\n")
	if err := os.WriteFile(filepath.Join(svc.Dir, "other"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return svc
}

// checkRace asserts what every kind must give with our module.
func checkRace(t *testing.T, r *raceTally) {
	t.Helper()
	t.Log(r)
	for _, p := range r.problems {
		t.Errorf("%s", p)
	}
	if r.iterations != raceIterations || r.hostProblems != 0 || r.mismatches != 0 ||
		r.childOther+r.childSignal+r.childTO != 0 {
		t.Errorf("over %d hosts: %d host problems, %d mismatches, children: %d other ends, %d signals, %d hung; want none",
			r.iterations, r.hostProblems, r.mismatches, r.childOther, r.childSignal, r.childTO)
	}
	if r.openOK != raceIterations {
		t.Errorf("the main thread's open gave the user's _ses in %d of %d hosts; want all", r.openOK, raceIterations)
	}
	// The runtime's threads were there to check (racehost checks their
	// masks).
	if r.withoutRuntime != 0 {
		t.Errorf("%d of %d hosts had no thread but their own after the open: the runtime's threads' masks were not checked",
			r.withoutRuntime, r.iterations)
	}
	// The race must have been run: helpers worked while the main thread
	// was in open, in many hosts (not always: a loop may outlast a fast
	// open).
	if r.withLoopsInOpen < raceIterations/4 {
		t.Errorf("helpers worked during the main thread's open in only %d of %d hosts: the race was not run",
			r.withLoopsInOpen, raceIterations)
	}
}

// TestRaceSIGPROFDuringFirstLoad: while the main thread opens the first
// session of a process, which starts the Go runtime, another thread of the
// host sets SIGPROF handlers of its own (sigprof-flip), or profiles the
// process in bursts with ITIMER_PROF, putting SIG_DFL back after each
// (sigprof-timer). The host's SIGPROF disposition is at every moment the
// one it set last, the host lives (SIGPROF's default would end it) and its
// handler runs; the runtime's threads block every signal but glibc's 32
// and 33 from the start, with nothing sent to them and no disposition
// touched. (The runtime's threads were once made to block signals by a
// SIGPROF handler the module installed for a moment over the host's: a
// handler the host set meanwhile was lost, and a host that profiled got
// SIG_DFL back and died of "Profiling timer expired".)
func TestRaceSIGPROFDuringFirstLoad(t *testing.T) {
	harness.RequireRoot(t)
	logs := harness.Log(t)
	users, ours := raceSetup(t, sigprofKinds)
	logs.Collect()
	got := runRace(t, sigprofKinds, ours, users)
	entries := logs.Collect()
	for _, r := range got {
		t.Run(r.kind, func(t *testing.T) {
			checkRace(t, r)
			if r.kind == "sigprof-timer" && r.sigprofTicks < raceIterations {
				t.Errorf("the hosts' SIGPROF handlers ran %d times in %d hosts; want at least once in each", r.sigprofTicks, r.iterations)
			}
		})
	}
	for _, e := range harness.Matching(entries, "pam_keyinit_go(") {
		if e.Severity() <= logErr {
			t.Errorf("logged: %q", e.Text)
		}
	}
}
