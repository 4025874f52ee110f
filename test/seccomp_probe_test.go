package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// The front's seccomp probe (pam/front/seccomp_probe.c) tries, in a child,
// each call the module may make that its host may not have made: if the
// module starts making a new one (a new Go release, a new step in the
// front), a filter that kills on it would kill the host again. So every
// system call a session with our module makes, and the same session with
// pam_keyinit.so does not, must be one the probe names.
func TestSeccompProbeCoversTheModulesCalls(t *testing.T) {
	harness.RequireRoot(t)
	if _, err := exec.LookPath("strace"); err != nil {
		harness.Lacks(t, "strace (Debian package strace)")
	}
	u := harness.TempUser(t)
	calls := func(module string) map[string]bool {
		svc := harness.SystemService(t, "auth required pam_permit.so\naccount required pam_permit.so\n"+
			"session required "+module+" force revoke\n")
		trace := filepath.Join(t.TempDir(), "trace")
		out, err := exec.Command("strace", "-f", "-qq", "-o", trace, harness.Built(t, "test/hostile"),
			filepath.Join(t.TempDir(), "report"), svc.Name, u.Name).CombinedOutput()
		if err != nil {
			t.Fatalf("strace hostile: %v\n%s", err, out)
		}
		b, err := os.ReadFile(trace)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		call := regexp.MustCompile(`^\d+ +(?:<\.\.\. )?([a-z0-9_]+)[( ]`)
		for _, line := range strings.Split(string(b), "\n") {
			if m := call.FindStringSubmatch(line); m != nil {
				names[m[1]] = true
			}
		}
		return names
	}
	ours, theirs := calls(harness.Module(t)), calls(harness.CModule(t))
	probed := probedCalls(t)
	var missing []string
	for c := range ours {
		if !theirs[c] && !probed[c] {
			missing = append(missing, c)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the module makes %v, which pam_keyinit.so's session does not and the seccomp probe does not try: add them to pam/front/seccomp_probe.c", missing)
	}
	// The runtime's threads come from clone3, or from clone where glibc
	// has no clone3 wrapper (arm64 up to glibc 2.36), which
	// pam_keyinit.so's session never makes.
	if !(ours["clone3"] || ours["clone"] && !theirs["clone"]) || !ours["sigaltstack"] {
		t.Errorf("the trace of our session shows no thread made (clone3, or clone) or no sigaltstack: it did not start the runtime (%v)", ours)
	}
}

// probedCalls are the calls seccomp_probe.c names: its steps' ("a, b or c")
// and its tolerated calls' (CALL(name, ...) or PLAIN(name, ...)), and the calls it makes itself.
func probedCalls(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "pam/front/seccomp_probe.c"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{"clone": true, "wait4": true, "mmap": true}
	for _, m := range regexp.MustCompile(`(?m)^\t\{ "([a-z0-9_, ]+)", try_`).FindAllStringSubmatch(string(src), -1) {
		for _, n := range regexp.MustCompile(`[a-z0-9_]+`).FindAllString(m[1], -1) {
			if n != "or" {
				names[n] = true
			}
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^\t(?:CALL|PLAIN)\(([a-z0-9_]+),`).FindAllStringSubmatch(string(src), -1) {
		names[m[1]] = true
	}
	if !names["clone3"] || !names["capget"] || !names["rt_sigreturn"] {
		t.Fatalf("could not read the probe's calls from seccomp_probe.c: %v", names)
	}
	return names
}
