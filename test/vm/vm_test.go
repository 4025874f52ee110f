//go:build vmstage

// Package vm boots the VM stages ('make test-vm', which 'make test' runs
// after the other tests; the build tag keeps it out of 'go test
// ./test/...', which runs on this machine). Its test runs no PAM
// transaction here: it needs neither root nor harness.Main's private
// namespace and run lock.
package vm

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pam_keyinit_go/test/harness"
)

// TestVM boots the full-system VM of each stage named in KIG_VM_STAGES
// (the Makefile's VM_STAGES: arm64 with 4 and 16 KiB pages, and those
// KIG_VM_STAGES adds), as test/vm/stage.sh left it in build/vm/STAGE
// ('make vm-stage'): Debian's kernel for the architecture under qemu's
// emulation, a debootstrapped Debian root with this build for the
// architecture in it. Inside, test/vm/job.sh opens a pamtester session with
// pam_keyinit.so and with ours, then runs the Go tests stage.sh chose with
// the test binary cross-compiled for the architecture. Each must pass: a
// failure, a skip, a test that did not run or a VM that did not finish in
// time fails this test. The console is in build/vm/STAGE/console.log.
func TestVM(t *testing.T) {
	stages := strings.Fields(os.Getenv("KIG_VM_STAGES"))
	if len(stages) == 0 {
		harness.Lacks(t, "KIG_VM_STAGES, the stages to boot: run 'make test-vm'")
	}
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) { runVM(t, stage) })
	}
}

// vmTimeout is how long one VM may run, boot to power-off: its tests run
// under emulation, several times slower than here.
func vmTimeout(t *testing.T) time.Duration {
	d := 40 * time.Minute
	if s := os.Getenv("KIG_VM_TIMEOUT"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("KIG_VM_TIMEOUT=%q: %v", s, err)
		}
	}
	return d
}

var innerResult = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+) \(`)

func runVM(t *testing.T, stage string) {
	dir := filepath.Join(harness.RepoRoot(t), "build", "vm", stage)
	read := func(name string) []string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			harness.Lacks(t, "the %s VM stage (%v): 'make vm-stage' makes it", stage, err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") // one a line
	}
	args, tests, smokes, pagesize := read("qemu.args"), read("tests"), read("smokes"), read("pagesize")[0]
	if _, err := exec.LookPath(args[0]); err != nil {
		harness.Lacks(t, "%s (Debian's qemu-system packages; 'make vm-stage' installs it)", args[0])
	}
	log, err := os.Create(filepath.Join(dir, "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()

	timeout := vmTimeout(t)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", args[0], err)
	}
	var (
		begun, ended, exit = false, false, -1
		booted             time.Duration
		results            = map[string]string{} // test name -> PASS, FAIL, SKIP
		smokeOK            = map[string]bool{}
		shown              int
	)
	s := bufio.NewScanner(out)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		line := strings.TrimRight(s.Text(), "\r")
		// Each line with the wall time since qemu started: what each test
		// costs under emulation.
		fmt.Fprintf(log, "[%7.1f] %s\n", time.Since(start).Seconds(), line)
		// A console may still hold the end of a kernel line that had no
		// newline (ppc64le's hvc0 does).
		if i := strings.Index(line, "KIG-VM: "); i > 0 {
			line = line[i:]
		}
		switch {
		case strings.HasPrefix(line, "KIG-VM: begin"):
			begun, booted = true, time.Since(start)
			if want := " " + pagesize + "-byte pages"; !strings.HasSuffix(line, want) {
				t.Errorf("%s: the VM's kernel is not the stage's: %q, want%s", stage, line, want)
			}
		case strings.HasPrefix(line, "KIG-VM: exit "):
			exit, _ = strconv.Atoi(strings.TrimPrefix(line, "KIG-VM: exit "))
		case line == "KIG-VM: end":
			ended = true
		case strings.HasPrefix(line, "KIG-VM: smoke "):
			name, rest, _ := strings.Cut(strings.TrimPrefix(line, "KIG-VM: smoke "), " ")
			smokeOK[name] = strings.HasPrefix(rest, "ok")
		}
		if m := innerResult.FindStringSubmatch(line); m != nil {
			results[m[2]] = m[1]
		}
		// The guest's own lines, for the log; the kernel's stay in
		// console.log.
		if begun && shown < 5000 {
			t.Logf("%s| %s", stage, line)
			shown++
		}
	}
	waitErr := cmd.Wait()
	took := time.Since(start).Round(time.Second)
	up := "never up"
	if begun {
		up = fmt.Sprintf("up in %v", booted.Round(time.Second))
	}
	t.Logf("%s VM: %s, finished in %v (console: %s)", stage, up, took, log.Name())
	if ctx.Err() != nil {
		t.Fatalf("the %s VM did not finish within %v (KIG_VM_TIMEOUT); console in %s", stage, timeout, log.Name())
	}
	if !begun {
		t.Fatalf("the %s VM never ran its job (%v); console in %s", stage, waitErr, log.Name())
	}
	if !ended {
		t.Errorf("the %s VM stopped before its job ended (%v)", stage, waitErr)
	}
	for _, name := range smokes {
		if !smokeOK[name] {
			t.Errorf("%s: the pamtester session with %s did not succeed", stage, name)
		}
	}
	names := slices.Sorted(maps.Keys(results))
	for _, name := range names {
		if r := results[name]; r != "PASS" {
			t.Errorf("%s: %s: %s inside the VM", stage, name, r)
		}
	}
	for _, name := range tests {
		if _, ran := results[name]; !ran {
			t.Errorf("%s: %s did not run to its end inside the VM", stage, name)
		}
	}
	if exit != 0 {
		t.Errorf("%s: the VM's job exited with %d", stage, exit)
	}
	var passed int
	for _, r := range results {
		if r == "PASS" {
			passed++
		}
	}
	t.Logf("%s: %d tests and subtests passed inside the VM, %d pamtester sessions", stage, passed, len(smokeOK))
}
