package test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"pam_keyinit_go/test/harness"
)

// elfWant is what one built file must show beyond the checks every file
// gets (RELRO, BIND_NOW, no executable stack, no TEXTREL, hardened C).
type elfWant struct {
	exports []string // if not nil: exactly these defined dynamic symbols
	entries []string // C functions that must start with endbr64 (-fcf-protection)
}

var pamHooks = []string{"pam_sm_authenticate", "pam_sm_close_session", "pam_sm_open_session", "pam_sm_setcred"}

// TestELFHardening: the module, its Go core (once the module is split in
// two) and the helper of "keyinit-go try" are built like the distribution's
// own PAM modules (Makefile HARDEN_CFLAGS, HARDEN_LDFLAGS).
func TestELFHardening(t *testing.T) {
	t.Run("module", func(t *testing.T) {
		checkHardenedELF(t, harness.Module(t), elfWant{exports: pamHooks, entries: pamHooks})
	})
	// The Go core that the C front loads (LAYOUT.md); not there before
	// the split. Its exports are the front's business.
	if core := filepath.Join(filepath.Dir(harness.Module(t)), "pam_keyinit_go", "core.so"); fileExists(core) {
		t.Run("core", func(t *testing.T) { checkHardenedELF(t, core, elfWant{}) })
	}
	t.Run("helper", func(t *testing.T) {
		checkHardenedELF(t, harness.Built(t, "keyinit-go-try"), elfWant{entries: []string{"main"}})
	})
}

// The checks fail on a file built without the flags.
func TestELFHardeningCatchesAnUnhardenedFile(t *testing.T) {
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "weak.c"), filepath.Join(dir, "weak")
	code := "#include <stdio.h>\nint main(int c, char **v) { char b[64]; snprintf(b, sizeof b, \"%s\", v[0]); printf(\"%s %d\\n\", b, c); return 0; }\n"
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cc", "-O2", "-fno-stack-protector", "-U_FORTIFY_SOURCE", "-fcf-protection=none",
		"-Wl,-z,norelro,-z,lazy,-z,execstack", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	problems := elfProblems(t, bin, elfWant{entries: []string{"main"}, exports: pamHooks})
	for _, want := range []string{"no GNU_RELRO", "no BIND_NOW", "executable stack", "__stack_chk_fail", "unfortified printf", "endbr64", "want only pam_sm_"} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("an unhardened program gave %q; want a problem about %q", problems, want)
		}
	}
	// The property note parser sees IBT and SHSTK in an object compiled with
	// -fcf-protection (before the linker drops them).
	obj := filepath.Join(dir, "cet.o")
	if out, err := exec.Command("cc", "-fcf-protection", "-c", "-o", obj, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // an open file would count as a leak in later fd checks
	if !hasCETProperty(f) {
		t.Errorf("%s compiled with -fcf-protection: no IBT and SHSTK property found", obj)
	}
}

func checkHardenedELF(t *testing.T, path string, want elfWant) {
	t.Helper()
	for _, p := range elfProblems(t, path, want) {
		t.Errorf("%s: %s", path, p)
	}
}

// elfProblems lists what path lacks.
func elfProblems(t *testing.T, path string, want elfWant) []string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var problems []string
	bad := func(s string) { problems = append(problems, s) }

	relro, stack := false, false
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_GNU_RELRO:
			relro = true
		case elf.PT_GNU_STACK:
			stack = true
			if p.Flags&elf.PF_X != 0 {
				bad("executable stack (GNU_STACK is RWX)")
			}
		}
	}
	if !relro {
		bad("no GNU_RELRO segment (link with -z relro)")
	}
	if !stack {
		bad("no GNU_STACK header: the stack defaults to executable")
	}
	flags, _ := f.DynValue(elf.DT_FLAGS)
	flags1, _ := f.DynValue(elf.DT_FLAGS_1)
	if !slices.ContainsFunc(flags, func(v uint64) bool { return v&uint64(elf.DF_BIND_NOW) != 0 }) &&
		!slices.ContainsFunc(flags1, func(v uint64) bool { return v&uint64(elf.DF_1_NOW) != 0 }) {
		bad("no BIND_NOW (link with -z now)")
	}
	if tr, _ := f.DynValue(elf.DT_TEXTREL); len(tr) > 0 || slices.ContainsFunc(flags, func(v uint64) bool { return v&uint64(elf.DF_TEXTREL) != 0 }) {
		bad("TEXTREL: relocations in read-only code")
	}

	// -fstack-protector-strong and -D_FORTIFY_SOURCE=2, as the imports show them.
	imported, err := f.ImportedSymbols()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	fortified := 0
	for _, s := range imported {
		names[s.Name] = true
		if strings.HasPrefix(s.Name, "__") && strings.HasSuffix(s.Name, "_chk") && s.Name != "__stack_chk_fail" {
			fortified++
		}
	}
	if !names["__stack_chk_fail"] {
		bad("does not import __stack_chk_fail: C compiled without -fstack-protector-strong")
	}
	if fortified == 0 {
		bad("imports no __*_chk function: C compiled without -D_FORTIFY_SOURCE=2")
	}
	// Fortification always replaces these, whatever the arguments.
	for _, fn := range []string{"printf", "fprintf", "vprintf", "vfprintf", "dprintf", "vdprintf"} {
		if names[fn] {
			bad("imports unfortified " + fn + ": C compiled without -D_FORTIFY_SOURCE=2")
		}
	}

	if want.exports != nil {
		if got := definedDynamic(t, f); !slices.Equal(got, want.exports) {
			bad("exports " + strings.Join(got, " ") + "; want only " + strings.Join(want.exports, " "))
		}
	}
	problems = append(problems, cetProblems(t, f, want.entries)...)
	return problems
}

// definedDynamic lists the dynamic symbols f defines, sorted.
func definedDynamic(t *testing.T, f *elf.File) []string {
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && elf.ST_BIND(s.Info) != elf.STB_LOCAL {
			out = append(out, s.Name)
		}
	}
	slices.Sort(out)
	return out
}

// cetProblems: -fcf-protection puts endbr64 at the entry of every function
// that can be called indirectly. The GNU property note (IBT, SHSTK) is also
// required when this toolchain can produce it at all: the linker keeps it
// only if every object has it, and Debian 12's own startup files (crt1.o,
// crti.o) do not, so it cannot be in anything linked here.
func cetProblems(t *testing.T, f *elf.File, entries []string) []string {
	t.Helper()
	if runtime.GOARCH != "amd64" || f.Machine != elf.EM_X86_64 {
		t.Logf("CET checks are for amd64; this is %s, the file %v", runtime.GOARCH, f.Machine)
		return nil
	}
	var problems []string
	syms, _ := f.Symbols()
	dyn, _ := f.DynamicSymbols()
	for _, name := range entries {
		i := slices.IndexFunc(append(syms, dyn...), func(s elf.Symbol) bool { return s.Name == name && s.Section != elf.SHN_UNDEF })
		if i < 0 {
			problems = append(problems, "no symbol "+name+" to check for endbr64 (stripped?)")
			continue
		}
		if code := codeAt(f, append(syms, dyn...)[i].Value, 4); !bytes.Equal(code, []byte{0xf3, 0x0f, 0x1e, 0xfa}) {
			problems = append(problems, "function "+name+" does not start with endbr64: C compiled without -fcf-protection")
		}
	}
	if !hasCETProperty(f) && toolchainMakesCETProperty(t) {
		problems = append(problems, "no .note.gnu.property with IBT and SHSTK, though this toolchain makes one")
	}
	return problems
}

// codeAt reads n bytes at virtual address addr.
func codeAt(f *elf.File, addr uint64, n int) []byte {
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_EXECINSTR != 0 && addr >= s.Addr && addr+uint64(n) <= s.Addr+s.Size {
			b := make([]byte, n)
			if _, err := s.ReadAt(b, int64(addr-s.Addr)); err == nil {
				return b
			}
		}
	}
	return nil
}

// hasCETProperty: a GNU_PROPERTY_X86_FEATURE_1_AND with IBT and SHSTK.
func hasCETProperty(f *elf.File) bool {
	s := f.Section(".note.gnu.property")
	if s == nil {
		return false
	}
	b, err := s.Data()
	if err != nil || len(b) < 16 {
		return false
	}
	bo := f.ByteOrder
	namesz, descsz, typ := bo.Uint32(b), bo.Uint32(b[4:]), bo.Uint32(b[8:])
	desc := b[12+(namesz+3)&^3:]
	if typ != 5 || uint32(len(desc)) < descsz { // NT_GNU_PROPERTY_TYPE_0
		return false
	}
	for desc = desc[:descsz]; len(desc) >= 8; {
		prType, prSize := bo.Uint32(desc), bo.Uint32(desc[4:])
		if prType == 0xc0000002 && prSize >= 4 && len(desc) >= 12 { // GNU_PROPERTY_X86_FEATURE_1_AND
			return binary.LittleEndian.Uint32(desc[8:])&3 == 3 // IBT | SHSTK
		}
		desc = desc[min(len(desc), 8+int(prSize+7)&^7):]
	}
	return false
}

// toolchainMakesCETProperty links an empty program with -fcf-protection
// and says whether the result has the property.
func toolchainMakesCETProperty(t *testing.T) bool {
	t.Helper()
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "empty.c"), filepath.Join(dir, "empty")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cc", "-fcf-protection", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("cc -fcf-protection: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	made := hasCETProperty(f)
	if !made {
		t.Logf("this toolchain's startup files lack the CET property, so no linked file has it; endbr64 is checked instead")
	}
	return made
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
