package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/internal/pamconf"
	"pam_keyinit_go/internal/trust"
	"pam_keyinit_go/test/harness"
)

// The tests run the built command (build/keyinit-go, made by 'make' and
// 'make test'); as root, harness.Main runs them in a private mount namespace.
//
// With KEYINIT_GO_TEST_KILL_AT=N in its environment the test binary is
// instead keyinit-go itself, run on its arguments, killed with SIGKILL at
// its Nth step (stepHook): how the tests end a migration as kill -9 would
// at a point they choose (killedMigrate).
func TestMain(m *testing.M) {
	if at := os.Getenv(killAtEnv); at != "" {
		os.Exit(runKilledAt(at))
	}
	cleanup := trustFixtureModules()
	code := harness.Main(m)
	cleanup()
	os.Exit(code)
}

// fixtureModules is the module directory of the fixtures: testdata/modules,
// or a copy of it when the checkout is one a root host would not load a
// core from (a user's, run with sudo): check and migrate judge the Go core
// as a root host would (untrusted-core), and the fixtures are about other
// things.
var fixtureModules = "testdata/modules"

// trustFixtureModules makes that copy, root's and 0755, if one is needed,
// and returns what removes it.
func trustFixtureModules() func() {
	if os.Geteuid() != 0 || trust.Core(filepath.Join(fixtureModules, pamconf.GoCore)) == nil {
		return func() {}
	}
	dir, err := os.MkdirTemp("", "kig-fixture-modules-")
	if err == nil {
		err = exec.Command("cp", "-r", fixtureModules+"/.", dir).Run()
	}
	if err == nil {
		err = exec.Command("chown", "-R", "root:root", dir).Run()
	}
	if err == nil {
		err = exec.Command("chmod", "-R", "u=rwX,go=rX", dir).Run()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot copy %s to a directory root owns: %v\n", fixtureModules, err)
		return func() {}
	}
	for _, flags := range [][]string{fixtureFlags, migrateModuleFlags} {
		for i, f := range flags {
			if f == fixtureModules {
				flags[i] = dir
			}
		}
	}
	fixtureModules = dir
	return func() { os.RemoveAll(dir) }
}

const killAtEnv = "KEYINIT_GO_TEST_KILL_AT"

func runKilledAt(at string) int {
	n, err := strconv.Atoi(at)
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "%s=%q: want a step number from 1\n", killAtEnv, at)
		return exitUsage
	}
	steps := 0
	stepHook = func(step, path string) {
		if steps++; steps == n {
			fmt.Fprintf(os.Stderr, "killed at step %d (%s %s)\n", n, step, path)
			unix.Kill(os.Getpid(), unix.SIGKILL)
			select {} // SIGKILL is on its way
		}
	}
	return run(os.Args[1:], os.Stdout, os.Stderr)
}

// keyinitGo runs build/keyinit-go and returns its stdout, stderr and exit
// code.
func keyinitGo(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(harness.Built(t, "keyinit-go"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run keyinit-go %q: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// keyinitGoJSON runs the command with --json and decodes its report into v.
func keyinitGoJSON(t *testing.T, v any, args ...string) (code int) {
	t.Helper()
	out, stderr, code := keyinitGo(t, append([]string{args[0], "--json"}, args[1:]...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("keyinit-go %q printed no JSON report (exit %d): %v\nstdout: %s\nstderr: %s", args, code, err, out, stderr)
	}
	return code
}
