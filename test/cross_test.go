package test

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pam_keyinit_go/internal/pamdir"
	"pam_keyinit_go/test/harness"
)

// buildArchs are the architectures the module builds for: pam/rt0 has an
// entry for each, pam/core_entry.c a row in its table of entries, the
// Makefile a line in ARCH_NAMES. qemu is qemu-user's name of each.
var buildArchs = []struct {
	goarch  string
	machine elf.Machine
	order   binary.ByteOrder
	qemu    string
}{
	{"amd64", elf.EM_X86_64, binary.LittleEndian, "x86_64"},
	{"arm64", elf.EM_AARCH64, binary.LittleEndian, "aarch64"},
	{"ppc64le", elf.EM_PPC64, binary.LittleEndian, "ppc64le"},
	{"s390x", elf.EM_S390, binary.BigEndian, "s390x"},
	{"riscv64", elf.EM_RISCV, binary.LittleEndian, "riscv64"},
}

// TestCrossBuilds builds the module for every other architecture, with
// "make GOARCH=... CC=TRIPLET-gcc all test-programs" in a copy of the tree
// under build/cross/GOARCH (build/ itself stays this machine's), and
// checks what came out without running it on a real machine of that kind:
//   - every file (front, core, keyinit-go, its helper, the test hosts) is
//     an ELF file of that machine, class and byte order;
//   - the front, the core and the helper are hardened as the native ones
//     (test/elf_hardening_test.go), and the front has the target's
//     module directory built in, never this machine's;
//   - exactly one of the core's .init_array entries is pam/rt0's, as
//     kig_core_start recognises it: the bytes at the offsets of its row of
//     pam/core_entry.c's table, in the core's byte order;
//   - under qemu-user, floorhost (test/hosts/floorhost.c) loads the core
//     and starts its runtime as the front does: kig_core_start finds the
//     entry, which hands over runtime.sigtable and starts the runtime
//     (qemu-user has no keyrings: the sessions need a real kernel);
//   - "make deb" and "make rpm" label their packages for the target.
//
// The cross compilers and C libraries are Debian packages of this
// machine's architecture ('make deps' installs them). libpam is linked
// against a stub with the SONAME and versioned symbols of this machine's
// libpam (pamStub): Debian 12 has no riscv64 port, and a foreign
// libpam0g-dev installs only at exactly this machine's libpam version,
// which the archive does not always have for every architecture. The
// references it records are the same (an arm64 front linked against the
// real libpam0g-dev:arm64 is byte for byte the same).
func TestCrossBuilds(t *testing.T) {
	root := harness.RepoRoot(t)
	shapes := rt0Shapes(t, root)
	t.Run(runtime.GOARCH+"/native", func(t *testing.T) {
		// The native core (build/), through the same table.
		checkRt0Entry(t, harness.Built(t, "pam_keyinit_go/core.so"), shapes[runtime.GOARCH])
	})
	for _, a := range buildArchs {
		if a.goarch == runtime.GOARCH {
			continue
		}
		t.Run(a.goarch, func(t *testing.T) {
			triplet, ok := pamdir.Triplet(a.goarch)
			if !ok {
				t.Fatalf("internal/pamdir knows no triplet for %s", a.goarch)
			}
			cc := triplet + "-gcc"
			if _, err := exec.LookPath(cc); err != nil {
				harness.Lacks(t, "the cross compiler %s ('make deps' installs it)", cc)
			}
			if _, err := os.Stat(filepath.Join("/usr", triplet, "include", "stdio.h")); err != nil {
				harness.Lacks(t, "the C library of %s (its libc6-dev-*-cross package; 'make deps' installs it)", triplet)
			}
			dir := filepath.Join(root, "build", "cross", a.goarch)
			stub := pamStub(t, cc, filepath.Join(dir, "pamstub"))
			src := filepath.Join(dir, "src")
			syncTree(t, root, src)
			vars := []string{"GOARCH=" + a.goarch, "CC=" + cc + " -L" + stub}
			runMake(t, src, append(vars, "all", "test-programs")...)

			built := func(name string) string { return filepath.Join(src, "build", name) }
			front, core, helper := built("pam_keyinit_go.so"), built("pam_keyinit_go/core.so"), built("keyinit-go-try")
			hosts, _ := filepath.Glob(built("test/*"))
			for _, f := range append([]string{front, core, helper, built("keyinit-go")}, hosts...) {
				checkELFTarget(t, f, a.machine, a.order)
			}
			checkHardenedELF(t, front, elfWant{exports: pamHooks})
			checkHardenedELF(t, core, elfWant{})
			checkHardenedELF(t, helper, elfWant{})

			securedir, err := pamdir.ModuleDirFor(a.goarch)
			if err != nil {
				t.Fatal(err)
			}
			code, err := os.ReadFile(front)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(securedir, "/") || !bytes.Contains(code, []byte(securedir+"/pam_keyinit_go/core.so\x00")) {
				t.Errorf("%s has not the installed core's path %s/pam_keyinit_go/core.so built in", front, securedir)
			}
			if native, _ := pamdir.ModuleDir(); native != securedir && bytes.Contains(code, []byte(native+"/")) {
				t.Errorf("%s has this machine's module directory %s built in", front, native)
			}

			checkRt0Entry(t, core, shapes[a.goarch])
			startUnderQemu(t, a.qemu, triplet, stub, src)

			runMake(t, src, append(vars, "deb")...)
			debs, _ := filepath.Glob(built("pam-keyinit-go_*_*.deb"))
			if len(debs) != 1 {
				t.Fatalf("make deb made %v", debs)
			}
			if got := commandOutput(t, "dpkg-deb", "-f", debs[0], "Architecture"); got != debArch(a.goarch) {
				t.Errorf("%s: Architecture %q, want %q", debs[0], got, debArch(a.goarch))
			}
			if !strings.HasSuffix(debs[0], "_"+debArch(a.goarch)+".deb") {
				t.Errorf("%s is not named for %s", debs[0], debArch(a.goarch))
			}
			runMake(t, src, append(vars, "rpm")...)
			rpms, _ := filepath.Glob(built("rpm/RPMS/*/*.rpm"))
			want := rpmArch(a.goarch)
			if len(rpms) != 1 || filepath.Base(filepath.Dir(rpms[0])) != want || !strings.HasSuffix(rpms[0], "."+want+".rpm") {
				t.Fatalf("make rpm made %v, want one RPMS/%s/*.%s.rpm", rpms, want, want)
			}
			if got := commandOutput(t, "rpm", "-qp", "--qf", "%{ARCH}", rpms[0]); got != want {
				t.Errorf("%s: ARCH %q, want %q", rpms[0], got, want)
			}
		})
	}
}

// debArch and rpmArch are the Makefile's ARCH_NAMES, said again here.
func debArch(goarch string) string {
	if goarch == "ppc64le" {
		return "ppc64el"
	}
	return goarch
}

func rpmArch(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return goarch
}

// checkELFTarget: path is an ELF file of 64-bit machine m in byte order
// order.
func checkELFTarget(t *testing.T, path string, m elf.Machine, order binary.ByteOrder) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	defer f.Close()
	if f.Machine != m || f.Class != elf.ELFCLASS64 || f.ByteOrder != order {
		t.Errorf("%s: %v %v %v, want %v ELFCLASS64 %v", path, f.Machine, f.Class, f.ByteOrder, m, order)
	}
}

// rt0Shape is a row of pam/core_entry.c's table of entries: the entry's
// first instruction of its own (start, at startAt) and where the magic is.
type rt0Shape struct {
	startAt int
	start   []byte
	magicAt int
}

// The magic kig_core_start passes to start the runtime (RT0_MAGIC).
const rt0Magic = 0x2131746f72676b69

// rt0Shapes reads the table of pam/core_entry.c, one row for each of
// buildArchs.
func rt0Shapes(t *testing.T, root string) map[string]rt0Shape {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "pam", "core_entry.c"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte(fmt.Sprintf("#define RT0_MAGIC %#xULL", rt0Magic))) {
		t.Fatalf("pam/core_entry.c's RT0_MAGIC is not %#x", rt0Magic)
	}
	row := regexp.MustCompile(`(?m)^\t\{ "(\w+)", (\d+), (\d+), \{ ([0-9a-fx, ]+) \}, (\d+) \},`)
	shapes := map[string]rt0Shape{}
	for _, m := range row.FindAllStringSubmatch(string(src), -1) {
		var s rt0Shape
		s.startAt, _ = strconv.Atoi(m[2])
		n, _ := strconv.Atoi(m[3])
		s.magicAt, _ = strconv.Atoi(m[5])
		for _, b := range strings.Split(m[4], ", ") {
			v, err := strconv.ParseUint(b, 0, 8)
			if err != nil {
				t.Fatalf("pam/core_entry.c, row %s: %v", m[1], err)
			}
			s.start = append(s.start, byte(v))
		}
		if len(s.start) != n {
			t.Fatalf("pam/core_entry.c, row %s: start_len %d, %d bytes", m[1], n, len(s.start))
		}
		shapes[m[1]] = s
	}
	for _, a := range buildArchs {
		if _, ok := shapes[a.goarch]; !ok {
			t.Fatalf("pam/core_entry.c's table of entries has no row for %s (rows: %v)", a.goarch, shapes)
		}
	}
	return shapes
}

// checkRt0Entry: exactly one of the core's .init_array entries has the
// shape's bytes, as kig_core_start compares them in memory: the magic in
// the core's byte order.
func checkRt0Entry(t *testing.T, core string, shape rt0Shape) {
	t.Helper()
	f, err := elf.Open(core)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries := initArray(t, f)
	magic := make([]byte, 8)
	f.ByteOrder.PutUint64(magic, rt0Magic)
	var found []uint64
	for _, e := range entries {
		start := codeAt(f, e+uint64(shape.startAt), len(shape.start))
		m := codeAt(f, e+uint64(shape.magicAt), 8)
		if bytes.Equal(start, shape.start) && bytes.Equal(m, magic) {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		var seen []string
		for _, e := range entries {
			seen = append(seen, fmt.Sprintf("%#x: % x", e, codeAt(f, e, shape.magicAt+8)))
		}
		t.Errorf("%s: %d .init_array entries of pam/rt0's shape (% x at %d, the magic at %d), want 1; the entries: %v",
			core, len(found), shape.start, shape.startAt, shape.magicAt, seen)
	}
}

// initArray is the addresses in .init_array, relocations applied: in a
// shared object its words are R_*_RELATIVE relocations, whose addend is
// the address (the section itself may hold 0).
func initArray(t *testing.T, f *elf.File) []uint64 {
	t.Helper()
	sec := f.Section(".init_array")
	if sec == nil {
		t.Fatal("no .init_array")
	}
	data, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	entries := make([]uint64, len(data)/8)
	for i := range entries {
		entries[i] = f.ByteOrder.Uint64(data[8*i:])
	}
	relative := map[elf.Machine]uint32{
		elf.EM_X86_64: uint32(elf.R_X86_64_RELATIVE), elf.EM_AARCH64: uint32(elf.R_AARCH64_RELATIVE),
		elf.EM_PPC64: uint32(elf.R_PPC64_RELATIVE), elf.EM_S390: uint32(elf.R_390_RELATIVE),
		elf.EM_RISCV: uint32(elf.R_RISCV_RELATIVE),
	}[f.Machine]
	for _, rs := range f.Sections {
		if rs.Type != elf.SHT_RELA {
			continue
		}
		rel, err := rs.Data()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+24 <= len(rel); i += 24 {
			off, info, addend := f.ByteOrder.Uint64(rel[i:]), f.ByteOrder.Uint64(rel[i+8:]), f.ByteOrder.Uint64(rel[i+16:])
			if off >= sec.Addr && off < sec.Addr+sec.Size && elf.R_TYPE64(info) == relative {
				entries[(off-sec.Addr)/8] = addend
			}
		}
	}
	return entries
}

// startUnderQemu runs floorhost under qemu-user: it loads the core and
// starts the runtime with kig_core_start, as the front does, and prints
// "started". The target's loader and C library are its cross package's
// (/usr/TRIPLET), both of them: a foreign libc6:ARCH, if installed, would
// otherwise be found through ld.so.cache, and a C library of another
// build than the loader's can hang. libpam is the stub (the runtime's
// start calls none of it).
func startUnderQemu(t *testing.T, qemu, triplet, stub, src string) {
	t.Helper()
	bin := "qemu-" + qemu + "-static"
	if _, err := exec.LookPath(bin); err != nil {
		harness.Lacks(t, "%s (package qemu-user-static; 'make deps' installs it)", bin)
	}
	sysroot := filepath.Join("/usr", triplet)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-L", sysroot, filepath.Join(src, "build", "test", "floorhost"),
		filepath.Join(src, "build", "pam_keyinit_go", "core.so"), "none", "0")
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+stub+":"+filepath.Join(sysroot, "lib"))
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "started" {
		t.Errorf("%v: %v, output %q; want \"started\" (kig_core_start found the entry and the runtime started)", cmd.Args, err, out)
	}
}

// pamStub builds, with cc, a libpam.so.0 that defines every function this
// machine's libpam exports, with its version, and does nothing, in dir;
// it returns dir. Linking against it records what linking against the
// target's libpam would: the SONAME and the versioned symbols.
func pamStub(t *testing.T, cc, dir string) string {
	t.Helper()
	lib := "/usr/lib/" + mustTriplet(t, runtime.GOARCH) + "/libpam.so"
	f, err := elf.Open(lib)
	if err != nil {
		t.Fatalf("this machine's libpam (libpam0g-dev): %v", err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string][]string{}
	var code strings.Builder
	code.WriteString("/* A stub of libpam for cross builds (test/cross_test.go): its symbols, none of its code. */\n")
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF || s.Section == elf.SHN_ABS || elf.ST_BIND(s.Info) == elf.STB_LOCAL {
			continue
		}
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Version == "" || (s.HasVersion && s.VersionIndex.IsHidden()) {
			t.Fatalf("%s exports %s (version %q, info %#x): the stub knows only default-versioned functions", lib, s.Name, s.Version, s.Info)
		}
		versions[s.Version] = append(versions[s.Version], s.Name)
		fmt.Fprintf(&code, "void %s(void) {}\n", s.Name)
	}
	if len(versions) == 0 {
		t.Fatalf("%s exports no versioned function", lib)
	}
	var script strings.Builder
	for _, v := range slices.Sorted(maps.Keys(versions)) {
		fmt.Fprintf(&script, "%s { global: %s; };\n", v, strings.Join(versions[v], "; "))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c, m := filepath.Join(dir, "stub.c"), filepath.Join(dir, "stub.map")
	if err := os.WriteFile(c, []byte(code.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-nostdlib", "-o", filepath.Join(dir, "libpam.so.0"), c,
		"-Wl,-soname,libpam.so.0", "-Wl,--version-script="+m).CombinedOutput(); err != nil {
		t.Fatalf("%s: the libpam stub: %v\n%s", cc, err, out)
	}
	os.Remove(filepath.Join(dir, "libpam.so"))
	if err := os.Symlink("libpam.so.0", filepath.Join(dir, "libpam.so")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustTriplet(t *testing.T, goarch string) string {
	t.Helper()
	tr, ok := pamdir.Triplet(goarch)
	if !ok {
		t.Fatalf("internal/pamdir knows no triplet for %s", goarch)
	}
	return tr
}

// syncTree makes dst a copy of the source tree at root (but build/ and
// .git), keeping each file's mode and mtime, so that make in dst rebuilds
// only what changed since the last copy; files gone from root go from dst
// too. dst/build, the copy's own output, stays.
func syncTree(t *testing.T, root, dst string) {
	t.Helper()
	skip := func(rel string) bool { return rel == "build" || rel == ".git" }
	want := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if skip(rel) {
			return skipEntry(d)
		}
		want[rel] = true
		info, err := d.Info()
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			os.Remove(out)
			return os.Symlink(target, out)
		case d.Type().IsRegular():
			if st, err := os.Lstat(out); err == nil && st.Mode() == info.Mode() && st.Size() == info.Size() && st.ModTime().Equal(info.ModTime()) {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			os.Remove(out)
			if err := os.WriteFile(out, b, info.Mode().Perm()); err != nil {
				return err
			}
			return os.Chtimes(out, info.ModTime(), info.ModTime())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("copying the tree to %s: %v", dst, err)
	}
	err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		if skip(rel) {
			return skipEntry(d)
		}
		if !want[rel] {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("pruning %s: %v", dst, err)
	}
}

// skipEntry leaves d out of a walk (a worktree's .git is a file: SkipDir
// there would skip the rest of its directory).
func skipEntry(d fs.DirEntry) error {
	if d.IsDir() {
		return filepath.SkipDir
	}
	return nil
}

// runMake runs make in dir with args, its output in dir/build/make.log;
// a failure shows the end of it.
func runMake(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err := os.MkdirAll(filepath.Join(dir, "build"), 0o755); err == nil {
		os.WriteFile(filepath.Join(dir, "build", "make.log"), out, 0o644)
	}
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Fatalf("make %s in %s: %v\n%s", strings.Join(args, " "), dir, err, strings.Join(lines[max(0, len(lines)-30):], "\n"))
	}
}

func commandOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return strings.TrimSpace(string(out))
}
