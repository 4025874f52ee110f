package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pinnedToolchains are the Go releases the core builds with
// (pam/toolchain_pin_go1.28.go refuses later ones), each with the release
// this test reads when the toolchain running it is another one.
var pinnedToolchains = map[string]string{"go1.26": "go1.26.8", "go1.27": "go1.27.3"}

// TestSysmonSleepPinnedForEveryToolchain: pam/sysmon_sleep.go writes the
// runtime's internal forcegcperiod (an int64 of nanoseconds) through a
// linkname, so that the idle sysmon never wakes. A linkname to a variable
// that changed its type or its meaning would still link, so the runtime
// source of every accepted release is read here: the variable is declared
// as it was, sysmon's deep sleep is capped by half of it, and nothing else
// than the forced-GC trigger uses it. The toolchain running the test is
// read where it is; the other one is fetched from the Go module proxy
// (GOTOOLCHAIN, about 76 MB).
func TestSysmonSleepPinnedForEveryToolchain(t *testing.T) {
	current := goEnv(t, "", "GOVERSION")
	for release, fetch := range pinnedToolchains {
		t.Run(release, func(t *testing.T) {
			toolchain := fetch
			if current == release || strings.HasPrefix(current, release+".") {
				toolchain = ""
			}
			root := goEnv(t, toolchain, "GOROOT")
			checkForcegcperiod(t, filepath.Join(root, "src", "runtime"))
		})
	}
}

// goEnv runs "go env NAME", with GOTOOLCHAIN=toolchain unless it is "".
func goEnv(t *testing.T, toolchain, name string) string {
	t.Helper()
	cmd := exec.Command("go", "env", name)
	cmd.Dir = t.TempDir() // no go.mod: the toolchain asked for, not the module's
	cmd.Env = os.Environ()
	if toolchain != "" {
		cmd.Env = append(cmd.Env, "GOTOOLCHAIN="+toolchain)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr // "go: downloading ..."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("GOTOOLCHAIN=%s go env %s: %v: %s (the Go module proxy must be reachable to fetch it)", toolchain, name, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func checkForcegcperiod(t *testing.T, runtimeDir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(runtimeDir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no runtime sources in %s: %v", runtimeDir, err)
	}
	decl := regexp.MustCompile(`(?m)^var forcegcperiod int64 = 2 \* 60 \* 1e9$`)
	sleep := regexp.MustCompile(`(?s)func sysmon\(\) \{.*?sleep := forcegcperiod / 2\n.*?notetsleep\(&sched\.sysmonnote, sleep\)`)
	trigger := regexp.MustCompile(`t\.now-lastgc > forcegcperiod`)
	var decls, sleeps, triggers, uses int
	var where []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		n := 0
		for _, l := range strings.Split(src, "\n") {
			code, _, _ := strings.Cut(l, "//") // comments are no use
			n += strings.Count(code, "forcegcperiod")
		}
		if n == 0 {
			continue
		}
		uses += n
		where = append(where, filepath.Base(f))
		decls += len(decl.FindAllString(src, -1))
		sleeps += len(sleep.FindAllString(src, -1))
		triggers += len(trigger.FindAllString(src, -1))
	}
	t.Logf("%s: forcegcperiod in %v: %d uses", runtimeDir, where, uses)
	if decls != 1 {
		t.Errorf("the declaration \"var forcegcperiod int64 = 2 * 60 * 1e9\" is gone: pam/sysmon_sleep.go's linkname would write a variable of another kind")
	}
	if sleeps != 1 {
		t.Errorf("sysmon's idle sleep is no longer capped by forcegcperiod/2: check whether the runtime still wakes an idle process, and pam/sysmon_sleep.go")
	}
	if triggers != 1 {
		t.Errorf("the forced-GC trigger (t.now-lastgc > forcegcperiod) is gone")
	}
	// The declaration, the sleep, the trigger: one mention each.
	if uses != 3 {
		t.Errorf("forcegcperiod is mentioned %d times in the runtime, not 3: a new use must be checked before pam/sysmon_sleep.go may change it", uses)
	}
}
