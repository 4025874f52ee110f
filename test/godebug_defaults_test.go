package test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// TestCoreGodebugKeepsToolchainDefaults: the core's link sets
// runtime.godebugDefault (-X, Makefile), which replaces the string the go
// command would link in, the godebug defaults of go.mod's go line as the
// toolchain at work computes them (go list's DefaultGODEBUG; go1.27 keeps
// tracebacklabels=0 and x509sslcertoverrideplatform=0 for a go 1.26
// module). The Makefile names them first, then CORE_GODEBUG. The built
// core holds exactly that string; and for every pinned toolchain the link
// that make would run (make -n) names that toolchain's defaults, at least
// one of which has some, so this test would see them dropped.
func TestCoreGodebugKeepsToolchainDefaults(t *testing.T) {
	root := harness.RepoRoot(t)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CORE_GODEBUG := (\S+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("the Makefile sets no CORE_GODEBUG")
	}
	own := string(m[1])

	want := godebugDefaults(t, root, "") + own
	core, err := os.ReadFile(harness.Built(t, "pam_keyinit_go/core.so"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(core, []byte(want)) {
		t.Errorf("the built core does not hold runtime.godebugDefault %q (go list's defaults, then CORE_GODEBUG)", want)
	}

	current := goEnv(t, "", "GOVERSION")
	some := false
	for release, fetch := range pinnedToolchains {
		t.Run(release, func(t *testing.T) {
			toolchain := fetch
			if current == release || strings.HasPrefix(current, release+".") {
				toolchain = ""
			}
			defaults := godebugDefaults(t, root, toolchain)
			some = some || defaults != ""
			cmd := exec.Command("make", "--no-print-directory", "-n", "-B", "build/pam_keyinit_go/core.so")
			cmd.Dir = root
			cmd.Env = os.Environ()
			if toolchain != "" {
				cmd.Env = append(cmd.Env, "GOTOOLCHAIN="+toolchain)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("GOTOOLCHAIN=%s make -n: %v\n%s", toolchain, err, out)
			}
			link := "-X=runtime.godebugDefault=" + defaults + own + " "
			if !strings.Contains(string(out), link) {
				t.Errorf("GOTOOLCHAIN=%s: make would link the core without %q:\n%s", toolchain, link, out)
			}
		})
	}
	if !some {
		t.Errorf("no pinned toolchain has godebug defaults for this go.mod: the check above shows nothing")
	}
}

// godebugDefaults is go list's DefaultGODEBUG for the core with toolchain
// ("" for the one at work), followed by a comma when it is not empty.
func godebugDefaults(t *testing.T, root, toolchain string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.DefaultGODEBUG}}", "./pam")
	cmd.Dir = root
	cmd.Env = os.Environ()
	if toolchain != "" {
		cmd.Env = append(cmd.Env, "GOTOOLCHAIN="+toolchain)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("GOTOOLCHAIN=%s go list: %v", toolchain, err)
	}
	if d := strings.TrimSpace(string(out)); d != "" {
		return d + ","
	}
	return ""
}
