package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"testing"

	"pam_keyinit_go/test/harness"
)

// The tests run the built command (build/keyinit-go, made by 'make' and
// 'make test'); as root, harness.Main runs them in a private mount namespace.
func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

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
