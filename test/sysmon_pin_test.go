package test

import (
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
)

// pinnedToolchains are the Go releases the core builds with
// (pam/toolchain_pin_go1.28.go refuses later ones), each with the release
// this test reads when the toolchain running it is another one.
var pinnedToolchains = map[string]string{"go1.26": "go1.26.8", "go1.27": "go1.27.3"}

// A toolchain that is not pinned yet is checked ahead of time (doc/
// development.md, "A new Go release") with the same tests, pointed at it:
//
//	KIG_PIN_TOOLCHAIN=go1.28rc1 go test -count=1 ./test/ -run 'Pinned'
//	KIG_PIN_GOROOT=/path/to/go go test -count=1 ./test/ -run 'Pinned'
//
// KIG_PIN_TOOLCHAIN is fetched through GOTOOLCHAIN (the Go module proxy),
// KIG_PIN_GOROOT is a Go tree on disk (a source checkout will do); with
// either, only that one is checked.
const (
	pinToolchainEnv = "KIG_PIN_TOOLCHAIN"
	pinGorootEnv    = "KIG_PIN_GOROOT"
)

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
	forEachPinnedRuntime(t, checkForcegcperiod)
}

// TestSignalTablePinnedForEveryToolchain: the core keeps every thread of
// the runtime's blocking every signal (pam/runtime_guard.c) by starting the
// runtime from a thread that blocks them all and by clearing, before it
// starts, the _SigUnblock flag of every entry of runtime.sigtable but 32
// and 33, through a C mirror of the table. That holds only while the
// runtime source of every accepted release says what it says now: the
// table's type and length, the flag's value, that only blockableSig reads
// the flag and only minitSignalMask (and os/signal) asks it, and that every
// thread's mask comes from the thread that started the runtime.
func TestSignalTablePinnedForEveryToolchain(t *testing.T) {
	forEachPinnedRuntime(t, checkSignalTable)
}

// forEachPinnedRuntime runs check on the runtime source of every release
// in pinnedToolchains, one subtest each, or only on the one that
// KIG_PIN_GOROOT or KIG_PIN_TOOLCHAIN names.
func forEachPinnedRuntime(t *testing.T, check func(t *testing.T, runtimeDir string)) {
	if root := os.Getenv(pinGorootEnv); root != "" {
		t.Run(pinGorootEnv, func(t *testing.T) {
			version, _ := os.ReadFile(filepath.Join(root, "VERSION"))
			t.Logf("%s=%s: %s", pinGorootEnv, root, strings.SplitN(string(version), "\n", 2)[0])
			check(t, filepath.Join(root, "src", "runtime"))
		})
		return
	}
	if toolchain := os.Getenv(pinToolchainEnv); toolchain != "" {
		t.Run(toolchain, func(t *testing.T) {
			check(t, filepath.Join(goEnv(t, toolchain, "GOROOT"), "src", "runtime"))
		})
		return
	}
	current := goEnv(t, "", "GOVERSION")
	for release, fetch := range pinnedToolchains {
		t.Run(release, func(t *testing.T) {
			toolchain := fetch
			if current == release || strings.HasPrefix(current, release+".") {
				toolchain = ""
			}
			root := goEnv(t, toolchain, "GOROOT")
			check(t, filepath.Join(root, "src", "runtime"))
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

// goSource is one Go file of the runtime, by its base name.
type goSource struct{ name, src string }

// runtimeSources are the runtime's Go files in runtimeDir, tests left out,
// in name order.
func runtimeSources(t *testing.T, runtimeDir string) []goSource {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(runtimeDir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no runtime sources in %s: %v", runtimeDir, err)
	}
	var out []goSource
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, goSource{filepath.Base(f), string(b)})
	}
	return out
}

func checkForcegcperiod(t *testing.T, runtimeDir string) {
	t.Helper()
	decl := regexp.MustCompile(`(?m)^var forcegcperiod int64 = 2 \* 60 \* 1e9$`)
	sleep := regexp.MustCompile(`(?s)func sysmon\(\) \{.*?sleep := forcegcperiod / 2\n.*?notetsleep\(&sched\.sysmonnote, sleep\)`)
	trigger := regexp.MustCompile(`t\.now-lastgc > forcegcperiod`)
	var decls, sleeps, triggers, uses int
	var where []string
	for _, f := range runtimeSources(t, runtimeDir) {
		src := f.src
		n := 0
		for _, l := range strings.Split(src, "\n") {
			code, _, _ := strings.Cut(l, "//") // comments are no use
			n += strings.Count(code, "forcegcperiod")
		}
		if n == 0 {
			continue
		}
		uses += n
		where = append(where, f.name)
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

// The flag the core clears (GO_SIG_UNBLOCK in pam/runtime_guard.c), the
// length of the table it walks (GO_SIGTABLE_LEN) and the signals it leaves
// alone: glibc's SIGCANCEL and SIGSETXID.
const (
	sigUnblockBit  = 7
	sigtableLen    = 65
	glibcCancel    = 32
	glibcSetxid    = 33
	recheckSigmask = "; recheck pam/runtime_guard.c (kig_keep_signals_blocked and the comment above it) against this release"
)

func checkSignalTable(t *testing.T, runtimeDir string) {
	t.Helper()
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(runtimeDir, name))
		if err != nil {
			t.Fatalf("%v%s", err, recheckSigmask)
		}
		return string(b)
	}
	signalUnix, proc, runtime2 := read("signal_unix.go"), read("proc.go"), read("runtime2.go")

	// The entry the C side mirrors: 24 bytes on 64-bit, flags first.
	if !regexp.MustCompile(`(?m)^type sigTabT struct \{\n\tflags int32\n\tname +string\n\}`).MatchString(signalUnix) {
		t.Errorf("signal_unix.go no longer declares sigTabT as {flags int32; name string}: the C mirror (struct go_sigtab) would write the wrong bytes%s", recheckSigmask)
	}

	// _SigUnblock is the 8th flag of the iota block.
	block := regexp.MustCompile(`(?s)const \(\n\t_SigNotify += 1 << iota[^\n]*\n(.*?)\n\)`).FindStringSubmatch(runtime2)
	if block == nil {
		t.Errorf("runtime2.go: no const block of sigTabT flags starting \"_SigNotify = 1 << iota\"%s", recheckSigmask)
	} else {
		names := []string{"_SigNotify"}
		for _, l := range strings.Split(block[1], "\n") {
			if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(f[0], "//") {
				names = append(names, f[0])
			}
		}
		if len(names) <= sigUnblockBit || names[sigUnblockBit] != "_SigUnblock" {
			t.Errorf("the sigTabT flags are %v: _SigUnblock is no longer 1<<%d (GO_SIG_UNBLOCK)%s", names, sigUnblockBit, recheckSigmask)
		}
	}

	// The table of every architecture pam/rt0 has an entry for (rt0Libs):
	// 65 entries, one per signal in order, 32 and 33 (glibc's) with
	// _SigUnblock.
	generic := read("sigtab_linux_generic.go")
	if !strings.Contains(generic, "\n//go:build !mips && !mipsle && !mips64 && !mips64le && linux\n") {
		t.Errorf("sigtab_linux_generic.go's build constraint changed: is it still the table of %v?%s", slices.Collect(maps.Keys(rt0Libs)), recheckSigmask)
	}
	entry := regexp.MustCompile(`(?m)^\t/\* *(\d+) *\*/ \{([^,]*), "`)
	entries := entry.FindAllStringSubmatch(generic, -1)
	if len(entries) != sigtableLen {
		t.Errorf("sigtab_linux_generic.go has %d entries, not %d (GO_SIGTABLE_LEN)%s", len(entries), sigtableLen, recheckSigmask)
	}
	for i, e := range entries {
		if e[1] != strconv.Itoa(i) {
			t.Errorf("sigtab_linux_generic.go: entry %d says /* %s */%s", i, e[1], recheckSigmask)
			break
		}
		if (i == glibcCancel || i == glibcSetxid) && !strings.Contains(e[2], "_SigUnblock") {
			t.Errorf("sigtab_linux_generic.go: signal %d is {%s}, without _SigUnblock: the runtime would block glibc's %d%s", i, e[2], i, recheckSigmask)
		}
	}

	// Who reads the flag: blockableSig alone, as it reads now; who asks
	// blockableSig: minitSignalMask (every thread, as it starts, and a C
	// thread at its first call) and os/signal's ensureSigM (not in the
	// core).
	tableLine := regexp.MustCompile(`^\s*(/\*[^*]*\*/\s*)?(_SIG\w+:\s*)?\{.*\},`)
	var readers, callers []string
	for _, f := range runtimeSources(t, runtimeDir) {
		for n, l := range strings.Split(f.src, "\n") {
			code, _, _ := strings.Cut(l, "//")
			where := fmt.Sprintf("%s:%d", f.name, n+1)
			if strings.Contains(code, "_SigUnblock") && !tableLine.MatchString(code) && strings.TrimSpace(code) != "_SigUnblock" {
				readers = append(readers, where)
			}
			if strings.Contains(code, "blockableSig(") && !strings.HasPrefix(code, "func blockableSig(") {
				callers = append(callers, where)
			}
		}
	}
	blockable := regexp.MustCompile(`(?m)^func blockableSig\(sig uint32\) bool \{\n` +
		`\tflags := sigtable\[sig\]\.flags\n` +
		`\tif flags&_SigUnblock != 0 \{\n\t\treturn false\n\t\}\n` +
		`\tif sig == sigPreempt && preemptMSupported && debug\.asyncpreemptoff == 0 \{\n\t\treturn false\n\t\}\n` +
		`\tif isarchive \|\| islibrary \{\n\t\treturn true\n\t\}\n` +
		`\treturn flags&\(_SigKill\|_SigThrow\) == 0\n\}`)
	if len(readers) != 1 || !blockable.MatchString(signalUnix) {
		t.Errorf("_SigUnblock is read at %v, and blockableSig reads as it did: %v; want one reader, blockableSig as it was "+
			"(with asyncpreemptoff, which the core's GODEBUG sets, sigPreempt blockable)%s", readers, blockable.MatchString(signalUnix), recheckSigmask)
	}
	minit := regexp.MustCompile(`(?m)^func minitSignalMask\(\) \{\n\tnmask := getg\(\)\.m\.sigmask\n` +
		`\tfor i := range sigtable \{\n\t\tif !blockableSig\(uint32\(i\)\) \{\n\t\t\tsigdelset\(&nmask, i\)\n\t\t\}\n\t\}\n` +
		`\tsigprocmask\(_SIG_SETMASK, &nmask, nil\)\n\}`)
	if !minit.MatchString(signalUnix) {
		t.Errorf("minitSignalMask no longer sets the thread's mask to its M's less the signals blockableSig refuses%s", recheckSigmask)
	}
	if len(callers) != 3 || !regexp.MustCompile(`(?s)func ensureSigM\(\) \{.*?blockableSig.*?blockableSig.*?\n\}\n`).MatchString(signalUnix) {
		t.Errorf("blockableSig is called at %v; want 3 calls: minitSignalMask's and os/signal's two (ensureSigM)%s", callers, recheckSigmask)
	}

	// Where a thread's mask comes from: every new M gets initSigmask, the
	// mask of the runtime's first thread, saved as the runtime starts.
	if !regexp.MustCompile(`(?s)\nfunc newm\(.*?\n\tmp\.sigmask = initSigmask\n.*?\n\}\n`).MatchString(proc) {
		t.Errorf("newm no longer gives a new M initSigmask (mp.sigmask = initSigmask)%s", recheckSigmask)
	}
	if !regexp.MustCompile(`(?s)\nfunc schedinit\(\) \{.*?\n\tsigsave\(&gp\.m\.sigmask\)\n\tinitSigmask = gp\.m\.sigmask\n`).MatchString(proc) {
		t.Errorf("schedinit no longer saves the first thread's mask as initSigmask (sigsave)%s", recheckSigmask)
	}
	if n := strings.Count(proc, "initSigmask = "); n != 1 {
		t.Errorf("initSigmask is set %d times in proc.go, not once (schedinit)%s", n, recheckSigmask)
	}
	// That first thread is made by runtime/cgo's x_cgo_sys_thread_create,
	// called from the library entry pam/rt0 jumps to (in assembly up to
	// go1.26, in libInit from go1.27), with the mask of the thread that
	// calls it (unlike the threads of _cgo_sys_thread_start). The entry of
	// every architecture pam/rt0 has one for.
	for _, goarch := range slices.Sorted(maps.Keys(rt0Libs)) {
		checkRt0Lib(t, runtimeDir, goarch, rt0Libs[goarch])
	}
	cfiles, _ := filepath.Glob(filepath.Join(runtimeDir, "cgo", "*.c"))
	create := regexp.MustCompile(`(?s)\nx_cgo_sys_thread_create\([^\n]*\) \{\n(.*?)\n\}\n`)
	var bodies []string
	for _, f := range cfiles {
		if strings.Contains(filepath.Base(f), "windows") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range create.FindAllStringSubmatch(string(b), -1) {
			bodies = append(bodies, m[1])
		}
	}
	if len(bodies) != 1 || strings.Contains(bodies[0], "sigmask") || strings.Contains(bodies[0], "sigprocmask") ||
		!strings.Contains(bodies[0], "pthread_create(") {
		t.Errorf("runtime/cgo's x_cgo_sys_thread_create (%d definitions) no longer makes the first thread with the caller's mask: %q%s", len(bodies), bodies, recheckSigmask)
	}
}

// rt0Lib is how the runtime's library entry of one architecture takes the
// call that pam/rt0's entry passes on (a jump, every register as the C
// caller set it): _rt0_GOARCH_linux_lib, in one of the files linux (the
// name may be a macro's value there), jumps to lib in asm, which keeps
// argc and argv from the C ABI's first two argument registers.
type rt0Lib struct {
	linux                []string
	asm, lib, argc, argv string
}

// rt0Libs: one for each pam/rt0/rt0_GOARCH.s.
var rt0Libs = map[string]rt0Lib{
	"amd64":   {[]string{"rt0_linux_amd64.s"}, "asm_amd64.s", "_rt0_amd64_lib", "DI", "SI"},
	"arm64":   {[]string{"rt0_linux_arm64.s"}, "asm_arm64.s", "_rt0_arm64_lib", "R0", "R1"},
	"ppc64le": {[]string{"rt0_linux_ppc64le.s", "rt0_linux_ppc64x.s"}, "asm_ppc64x.s", "_rt0_ppc64x_lib", "R3", "R4"}, // ppc64x from go1.27
	"s390x":   {[]string{"rt0_linux_s390x.s"}, "asm_s390x.s", "_rt0_s390x_lib", "R2", "R3"},
	"riscv64": {[]string{"rt0_linux_riscv64.s"}, "asm_riscv64.s", "_rt0_riscv64_lib", "A0", "A1"},
}

// checkRt0Lib: _rt0_GOARCH_linux_lib (rt0_linux_GOARCH.s) goes straight to
// lib, which saves argc and argv from the C argument registers and starts
// the runtime's first thread with _cgo_sys_thread_create, in assembly or
// through libInit.
func checkRt0Lib(t *testing.T, runtimeDir, goarch string, e rt0Lib) {
	t.Helper()
	recheck := "; recheck pam/rt0/rt0_" + goarch + ".s and pam/runtime_guard.c (the first thread's mask) against this release"
	// body is the code of TEXT name, or of TEXT M where the file says
	// "#define M name"; "" if no file has it.
	body := func(files []string, name string) string {
		t.Helper()
		for _, file := range files {
			b, err := os.ReadFile(filepath.Join(runtimeDir, file))
			if err != nil {
				continue
			}
			names := []string{regexp.QuoteMeta(name)}
			for _, m := range regexp.MustCompile(`(?m)^#define (\w+)\s+`+regexp.QuoteMeta(name)+`$`).FindAllStringSubmatch(string(b), -1) {
				names = append(names, m[1])
			}
			re := `(?s)\nTEXT (?:` + strings.Join(names, "|") + `)\(SB\)[^\n]*\n(.*?)(\nTEXT |$)`
			if m := regexp.MustCompile(re).FindStringSubmatch(string(b)); m != nil {
				return m[1]
			}
		}
		t.Errorf("no TEXT %s(SB) in %v%s", name, files, recheck)
		return ""
	}
	var code []string
	for _, l := range strings.Split(body(e.linux, "_rt0_"+goarch+"_linux_lib"), "\n") {
		if l, _, _ = strings.Cut(l, "//"); strings.TrimSpace(l) != "" {
			code = append(code, strings.Join(strings.Fields(l), " "))
		}
	}
	direct := len(code) == 1 && code[0] == "JMP "+e.lib+"(SB)"
	viaR1 := len(code) == 2 && code[0] == "MOVD $"+e.lib+"(SB), R1" && code[1] == "BR R1" // s390x
	if !direct && !viaR1 {
		t.Errorf("_rt0_%s_linux_lib is %q, no longer a jump to %s%s", goarch, code, e.lib, recheck)
	}
	lib := body([]string{e.asm}, e.lib)
	for reg, what := range map[string]string{e.argc: "argc", e.argv: "argv"} {
		if !regexp.MustCompile(`\n\tMOV[DQ]?\s+` + reg + `, ` + e.lib + `_` + what + `<>\(SB\)\n`).MatchString(lib) {
			t.Errorf("%s no longer keeps %s from %s%s", e.lib, what, reg, recheck)
		}
	}
	inAsm := regexp.MustCompile(`\n\tMOV[DQ]?\t_cgo_sys_thread_create\(SB\), `).MatchString(lib)
	inLibInit := strings.Contains(lib, "runtime·libInit(SB)")
	if inLibInit {
		libinit, err := os.ReadFile(filepath.Join(runtimeDir, "libinit.go"))
		inLibInit = err == nil && regexp.MustCompile(`(?s)\nfunc libInit\(\) \{\n.*?\tif _cgo_sys_thread_create != nil \{\n[^}]*\tasmcgocall_no_g\(_cgo_sys_thread_create, fn\)\n`).Match(libinit)
	}
	if !inAsm && !inLibInit {
		t.Errorf("%s no longer starts the runtime on a thread of _cgo_sys_thread_create's%s", e.lib, recheck)
	}
}
