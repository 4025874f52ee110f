package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// SELinux (doc/selinux.md). Beyond what pam_keyinit.so does, the module
// reads a few files, schedules, signals and describes keys that a confined
// login domain may be denied. No SELinux runs here, so each denial is made
// with strace's fault injection, as EACCES, what SELinux returns; the test
// checks what doc/selinux.md says the module does then.

// The policy module packaging/selinux/pam_keyinit_go.te compiles, as its
// comment says to build it.
func TestSELinuxPolicyModuleCompiles(t *testing.T) {
	if _, err := exec.LookPath("checkmodule"); err != nil {
		harness.Lacks(t, "checkmodule (Debian package checkpolicy)")
	}
	src := filepath.Join(harness.RepoRoot(t), "packaging/selinux/pam_keyinit_go.te")
	out := filepath.Join(t.TempDir(), "pam_keyinit_go.mod")
	if b, err := exec.Command("checkmodule", "-M", "-m", "-o", out, src).CombinedOutput(); err != nil {
		t.Fatalf("checkmodule -M -m %s: %v\n%s", src, err, b)
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Fatalf("checkmodule made no module: %v", err)
	}
}

// straceDenial is a command prefix that runs the rest under strace, which
// makes the system calls the filter args select fail with EACCES. The
// trace goes to trace, to show the denial happened.
func straceDenial(trace string, filter ...string) []string {
	return append(append([]string{"strace", "-f", "--quiet=all", "-o", trace}, filter...), "--")
}

func deniedOpens(paths ...string) []string {
	args := []string{"-e", "trace=openat", "-e", "inject=openat:error=EACCES"}
	for _, p := range paths {
		args = append(args, "-P", p)
	}
	return args
}

func TestSELinuxDenialsKeepTheGoCore(t *testing.T) {
	harness.RequireRoot(t)
	if _, err := exec.LookPath("strace"); err != nil {
		harness.Lacks(t, "strace (Debian package strace)")
	}
	logs := harness.Log(t)
	u := harness.TempUser(t)
	svc := harness.SystemService(t, "auth required pam_permit.so\naccount required pam_permit.so\n"+
		"session required "+harness.Module(t)+" force revoke\n")
	// Each a permission a stock policy denies some login domain
	// (doc/selinux.md): none costs the Go core, or the session its keyring.
	rows := []struct {
		name   string
		prefix func(t *testing.T, trace string) []string
	}{
		{"the runtime's hpage_pmd_size (sysfs_t file read)", func(t *testing.T, trace string) []string {
			return straceDenial(trace, deniedOpens("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")...)
		}},
		{"glibc's /proc/self/maps", func(t *testing.T, trace string) []string {
			return straceDenial(trace, deniedOpens("/proc/self/maps")...)
		}},
		{"the seccomp probe's /proc/self/status", func(t *testing.T, trace string) []string {
			return straceDenial(trace, deniedOpens("/proc/self/status", "/proc/thread-self/status")...)
		}},
		{"/proc/self/cgroup and mountinfo", func(t *testing.T, trace string) []string {
			return straceDenial(trace, deniedOpens("/proc/self/cgroup", "/proc/self/mountinfo")...)
		}},
		// A limit the front may not read is no limit to it: a cgroup with
		// room enough, which it cannot see.
		{"the memory cgroup's files (cgroup_t file read)", func(t *testing.T, trace string) []string {
			cg := harness.TempCgroup(t, "memory")
			cg.Set(t, "memory.limit_in_bytes|memory.max", strconv.Itoa(1<<30))
			return append(cg.Wrap(), straceDenial(trace, deniedOpens(
				filepath.Join(cg.Dir, "memory.limit_in_bytes"), filepath.Join(cg.Dir, "memory.usage_in_bytes"),
				filepath.Join(cg.Dir, "memory.max"), filepath.Join(cg.Dir, "memory.current"))...)...)
		}},
		{"the pids cgroup's files (cgroup_t file read)", func(t *testing.T, trace string) []string {
			cg := harness.TempCgroup(t, "pids")
			cg.Set(t, "pids.max", "1000")
			return append(cg.Wrap(), straceDenial(trace, deniedOpens(
				filepath.Join(cg.Dir, "pids.max"), filepath.Join(cg.Dir, "pids.current"))...)...)
		}},
		{"CPU affinity and policy (process getsched, setsched)", func(t *testing.T, trace string) []string {
			calls := "sched_getaffinity,sched_setaffinity,sched_getscheduler,sched_setscheduler"
			return straceDenial(trace, "-e", "trace="+calls, "-e", "inject="+calls+":error=EACCES")
		}},
	}
	want := fmt.Sprintf("keyring;%d;%d;3f030000;_ses", u.UID, u.GID)
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			trace := filepath.Join(t.TempDir(), "trace")
			logs.Collect()
			got := runHostile(t, hostileRow{name: row.name, prefix: func(t *testing.T) []string { return row.prefix(t, trace) }},
				svc.Name, u.Name)
			lines := faultLines(logs.Collect(), "pam_keyinit_go", svc.Name)
			if b, _ := os.ReadFile(trace); !strings.Contains(string(b), "(INJECTED)") {
				t.Fatalf("strace denied nothing: the module no longer makes the call (update doc/selinux.md); trace:\n%s", b)
			}
			if got.outcome != opened {
				t.Fatalf("%s (%s); report %v; log %q", got.outcome, got.detail, got.report, faultTexts(lines))
			}
			if got.output != "" {
				t.Errorf("the module wrote to the host's fds 0-2: %q", got.output)
			}
			if k := first(got.report["session keyring"]); k != want {
				t.Errorf("session keyring %q; want %q", k, want)
			}
			// The Go core made it: the plain keyinit in C would say so.
			if len(lines) != 0 {
				t.Errorf("the module logged %q; want nothing (the Go core, quietly)", faultTexts(lines))
			}
		})
	}
}

// The one denial that fails a hook pam_keyinit.so opens: key view on the
// user keyring, whose owner the module reads after linking it
// (KEYCTL_DESCRIBE), which pam_keyinit.so never does. The hook unlinks it
// and fails, with one line that says what to allow.
func TestSELinuxDeniedKeyViewFailsTheHook(t *testing.T) {
	harness.RequireRoot(t)
	if _, err := exec.LookPath("strace"); err != nil {
		harness.Lacks(t, "strace (Debian package strace)")
	}
	logs := harness.Log(t)
	u := harness.TempUser(t)
	svc := harness.SystemService(t, "auth required pam_permit.so\naccount required pam_permit.so\n"+
		"session required "+harness.Module(t)+" force revoke\n")
	// Which keyctl call of the host's is the module's KEYCTL_DESCRIBE of @u:
	// strace counts each call per thread, and all are the host thread's.
	trace := filepath.Join(t.TempDir(), "trace")
	if got := runHostile(t, hostileRow{name: "traced", prefix: func(*testing.T) []string {
		return straceDenial(trace, "-e", "trace=keyctl")
	}}, svc.Name, u.Name); got.outcome != opened {
		t.Fatalf("traced: %s (%s); report %v", got.outcome, got.detail, got.report)
	}
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	nth := 0
	call := regexp.MustCompile(`^\d+ +keyctl\((\w+), (\w+)`)
	for i, line := range regexp.MustCompile(`(?m)^\d+ +keyctl\(.*$`).FindAllString(string(b), -1) {
		if m := call.FindStringSubmatch(line); m != nil && m[1] == "KEYCTL_DESCRIBE" && m[2] == "KEY_SPEC_USER_KEYRING" {
			nth = i + 1
			break
		}
	}
	if nth == 0 {
		t.Fatalf("no KEYCTL_DESCRIBE of the user keyring in the trace (update doc/selinux.md):\n%s", b)
	}
	logs.Collect()
	got := runHostile(t, hostileRow{name: "denied", prefix: func(*testing.T) []string {
		return straceDenial(filepath.Join(t.TempDir(), "trace"), "-e", "trace=keyctl",
			"-e", "inject=keyctl:error=EACCES:when="+strconv.Itoa(nth))
	}}, svc.Name, u.Name)
	if got.outcome != refused || first(got.report["open"]) != strconv.Itoa(pamSessionErr) {
		t.Fatalf("%s, open %s; want PAM_SESSION_ERR; report %v", got.outcome, first(got.report["open"]), got.report)
	}
	faultOneLine(t, faultLines(logs.Collect(), "pam_keyinit_go", svc.Name), logErr,
		"check the owner of the user keyring", "permission denied", "security module")
}
