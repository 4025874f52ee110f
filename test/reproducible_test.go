package test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"pam_keyinit_go/test/harness"
)

// reproBuild is one of the two builds TestReproduciblePackages compares:
// where its tree is and how the build's environment differs.
type reproBuild struct {
	dir   string
	umask int
	env   []string // added to the environment of the checkout and the build
}

// TestReproduciblePackages: two builds of the same sources, in directories
// of different path lengths, one after the other (seconds apart at least),
// under different time zones, umasks and locales, and with the second one's
// Go build cache empty, give byte-identical .deb and .rpm packages (issue
// 18), whose timestamps are the commit's time (the Makefile's
// SOURCE_DATE_EPOCH), not the build's.
//
// The sources are HEAD cloned, then overlaid with the working tree's
// content of every file git ls-files lists, tracked or new (not ignored):
// a clean clone, as CI runs, builds HEAD; a developer's uncommitted changes
// are in both builds alike. Both take their timestamps from HEAD's commit.
func TestReproduciblePackages(t *testing.T) {
	for _, tool := range []string{"git", "make", "go", "cc", "dpkg", "dpkg-deb", "rpmbuild", "rpm", "rpmlint", "gzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			harness.Lacks(t, "%s ('make deps' installs the Debian packages): %v", tool, err)
		}
	}
	root := harness.RepoRoot(t)
	if _, err := exec.Command("git", "-C", root, "rev-parse", "--verify", "HEAD").Output(); err != nil {
		harness.Lacks(t, "a git checkout with a commit at %s (git rev-parse HEAD: %v)", root, err)
	}
	// One snapshot for both: the tree may change while they build (others
	// edit it, or commit).
	snap := reproSnapshotOf(t, root)

	base := t.TempDir()
	builds := []reproBuild{
		{dir: filepath.Join(base, "a"), umask: 0o022, env: []string{"TZ=UTC0", "LC_ALL=C"}},
		// UTC+14 as a POSIX TZ, which needs no tzdata.
		{dir: filepath.Join(base, "second-build", "in-a-directory-with-a-longer-path"), umask: 0o027,
			env: []string{"TZ=XST-14", "LC_ALL=C.UTF-8", "GOCACHE=" + filepath.Join(base, "gocache")}},
	}
	for _, b := range builds {
		reproCheckout(t, root, snap, b)
	}
	debs, rpms := make([]string, len(builds)), make([]string, len(builds))
	for i, b := range builds {
		if i > 0 {
			time.Sleep(time.Second) // a later second, whatever the build's length
		}
		debs[i], rpms[i] = reproBuildPackages(t, b)
		checkReproTimes(t, debs[i], rpms[i], snap.commitTime)
	}

	if reproSame(t, debs[0], debs[1]) {
		t.Logf("the two .deb are identical: %s", reproSum(t, debs[0]))
	} else {
		t.Errorf("the two builds made different .deb packages:\n  %s\n  %s\n%s", debs[0], debs[1], reproExplainDeb(t, debs[0], debs[1]))
	}
	if reproSame(t, rpms[0], rpms[1]) {
		t.Logf("the two .rpm are identical: %s", reproSum(t, rpms[0]))
	} else {
		t.Errorf("the two builds made different .rpm packages:\n  %s\n  %s\n%s", rpms[0], rpms[1], reproExplainRPM(t, rpms[0], rpms[1]))
	}
}

// reproCommand runs name args under umask (a shell's, so this process keeps
// its own) with env added to the environment.
func reproCommand(ctx context.Context, umask int, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", fmt.Sprintf(`umask %04o && exec "$@"`, umask), "sh", name}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// reproSnapshot is what both builds build: a commit, and the content the
// working tree has, when the test starts, of each file git ls-files lists.
type reproSnapshot struct {
	commit     string
	commitTime int64
	files      []reproFile
}

type reproFile struct {
	path    string
	gone    bool   // tracked, deleted in the working tree
	link    string // a symbolic link's target
	mode    fs.FileMode
	content []byte
}

func reproSnapshotOf(t *testing.T, root string) reproSnapshot {
	t.Helper()
	var snap reproSnapshot
	head := strings.Fields(reproRun(t, "git", "-C", root, "log", "-1", "--format=%H %ct"))
	if len(head) != 2 {
		t.Fatalf("git log -1 --format='%%H %%ct': %q", head)
	}
	snap.commit = head[0]
	var err error
	if snap.commitTime, err = strconv.ParseInt(head[1], 10, 64); err != nil {
		t.Fatalf("git log -1 --format=%%ct: %q: %v", head[1], err)
	}
	// Tracked files, and new ones not yet added (not those .gitignore
	// names): what "make deb" here would build from.
	list := reproRun(t, "git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, p := range strings.Split(strings.TrimSuffix(list, "\x00"), "\x00") {
		f := reproFile{path: p}
		src := filepath.Join(root, p)
		st, err := os.Lstat(src)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			f.gone = true
		case err != nil:
			t.Fatal(err)
		case st.IsDir(): // a submodule: as cloned
			continue
		case st.Mode()&fs.ModeSymlink != 0:
			if f.link, err = os.Readlink(src); err != nil {
				t.Fatal(err)
			}
		default:
			f.mode = st.Mode().Perm()
			if f.content, err = os.ReadFile(src); err != nil {
				t.Fatal(err)
			}
		}
		snap.files = append(snap.files, f)
	}
	return snap
}

// reproCheckout clones root at snap.commit into b.dir and writes there the
// snapshot's files, with the modes b.umask gives.
func reproCheckout(t *testing.T, root string, snap reproSnapshot, b reproBuild) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(b.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"clone", "--no-hardlinks", "--no-checkout", "-q", root, b.dir},
		{"-C", b.dir, "checkout", "-q", "--detach", snap.commit},
	} {
		if out, err := reproCommand(t.Context(), b.umask, b.env, "git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %q: %v\n%s", args, err, out)
		}
	}
	for _, f := range snap.files {
		dst := filepath.Join(b.dir, f.path)
		if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if f.gone {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755&^fs.FileMode(b.umask)); err != nil {
			t.Fatal(err)
		}
		var err error
		if f.link != "" {
			err = os.Symlink(f.link, dst)
		} else {
			err = os.WriteFile(dst, f.content, f.mode&^fs.FileMode(b.umask))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// reproBuildPackages runs "make deb rpm" in b.dir and returns the two
// packages. The caller's make variables and SOURCE_DATE_EPOCH (when "make
// test" runs the tests) are left out: each build derives its own from its
// tree.
func reproBuildPackages(t *testing.T, b reproBuild) (deb, rpm string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := reproCommand(ctx, b.umask, nil, "make", "--no-print-directory", "-C", b.dir, "deb", "rpm")
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains([]string{"SOURCE_DATE_EPOCH", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}, name)
	})
	cmd.Env = append(cmd.Env, b.env...)
	// The whole build (make, go, gcc, rpmbuild) is killed at the timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make deb rpm in %s (%s): %v after %v\n%s", b.dir, strings.Join(b.env, " "), err, time.Since(start).Round(time.Second), reproTail(out, 60))
	}
	t.Logf("make deb rpm in %s (umask %04o, %s): %v", b.dir, b.umask, strings.Join(b.env, " "), time.Since(start).Round(time.Second))
	debs, _ := filepath.Glob(filepath.Join(b.dir, "build", debPackage+"_*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(b.dir, "build/rpm/RPMS/*", debPackage+"-*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("make deb rpm in %s made %q and %q; want one .deb and one .rpm", b.dir, debs, rpms)
	}
	return debs[0], rpms[0]
}

func reproTail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// checkReproTimes: every timestamp in the packages is the commit's time.
// In the .deb, the ar members' and every tar entry's (the Makefile sets
// them); in the .rpm, the build time, and no file is later (rpmbuild
// clamps the files' mtimes to it).
func checkReproTimes(t *testing.T, deb, rpm string, commitTime int64) {
	t.Helper()
	members := reproDebMembers(t, deb)
	var wrong []string
	for _, m := range members {
		if m.mtime != commitTime {
			wrong = append(wrong, fmt.Sprintf("%s (%d)", m.name, m.mtime))
		}
	}
	if len(wrong) > 0 {
		t.Errorf("%s: %d of its %d ar members and tar entries have another mtime than the commit's time %d: %s",
			deb, len(wrong), len(members), commitTime, reproFew(wrong))
	}

	if bt := strings.TrimSpace(reproRun(t, "rpm", "-qp", "--qf", "%{BUILDTIME}", rpm)); bt != strconv.FormatInt(commitTime, 10) {
		t.Errorf("%s: build time %s; want the commit's time %d", rpm, bt, commitTime)
	}
	files := reproRPMFiles(t, rpm)
	wrong = nil
	for _, f := range files {
		if f.mtime > commitTime {
			wrong = append(wrong, fmt.Sprintf("%s (%d)", f.name, f.mtime))
		}
	}
	if len(wrong) > 0 {
		t.Errorf("%s: %d of its %d files have an mtime later than the commit's time %d: %s",
			rpm, len(wrong), len(files), commitTime, reproFew(wrong))
	}
}

// reproFew joins the first few of a list.
func reproFew(list []string) string {
	const few = 8
	if len(list) > few {
		return strings.Join(list[:few], ", ") + fmt.Sprintf(" and %d more", len(list)-few)
	}
	return strings.Join(list, ", ")
}

func reproRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %q: %v\n%s", name, args, err, stderr)
	}
	return string(out)
}

func reproSame(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}

func reproSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s sha256 %x (%d bytes)", filepath.Base(path), sha256.Sum256(b), len(b))
}

// reproMember is one entry of an archive (or one header tag) as the
// comparison sees it: its name, and its attributes in order.
type reproMember struct {
	name  string
	mtime int64
	attrs [][2]string
}

func (m *reproMember) attr(key, value string) {
	m.attrs = append(m.attrs, [2]string{key, value})
}

// reproArMembers reads the members of a .deb's ar archive.
func reproArMembers(path string) ([]reproMember, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(b, []byte("!<arch>\n")) {
		return nil, fmt.Errorf("not an ar archive")
	}
	var ms []reproMember
	for off := 8; off < len(b); {
		if off+60 > len(b) {
			return nil, fmt.Errorf("truncated ar header at %d", off)
		}
		h := b[off : off+60]
		field := func(from, to int) string { return strings.TrimSpace(string(h[from:to])) }
		size, err := strconv.Atoi(field(48, 58))
		if err != nil || off+60+size > len(b) {
			return nil, fmt.Errorf("bad ar member size %q at %d", field(48, 58), off)
		}
		mtime, err := strconv.ParseInt(field(16, 28), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad ar member mtime %q at %d", field(16, 28), off)
		}
		m := reproMember{name: "ar member " + strings.TrimSuffix(field(0, 16), "/"), mtime: mtime}
		m.attr("mtime", field(16, 28))
		m.attr("uid", field(28, 34))
		m.attr("gid", field(34, 40))
		m.attr("mode", field(40, 48))
		m.attr("size", field(48, 58))
		m.attr("sha256", fmt.Sprintf("%x", sha256.Sum256(b[off+60:off+60+size])))
		ms = append(ms, m)
		off += 60 + size + size%2
	}
	return ms, nil
}

// reproTarEntries reads the control (--ctrl-tarfile) or data (--fsys-tarfile)
// tar of a .deb, as dpkg-deb gives it uncompressed.
func reproTarEntries(deb, part string) ([]reproMember, error) {
	out, err := exec.Command("dpkg-deb", part, deb).Output()
	if err != nil {
		return nil, err
	}
	prefix := map[string]string{"--ctrl-tarfile": "control ", "--fsys-tarfile": ""}[part]
	var ms []reproMember
	r := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := r.Next()
		if err == io.EOF {
			return ms, nil
		}
		if err != nil {
			return nil, err
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, r); err != nil {
			return nil, err
		}
		m := reproMember{name: prefix + h.Name, mtime: h.ModTime.Unix()}
		m.attr("type", string(h.Typeflag))
		m.attr("mode", fmt.Sprintf("%04o", h.Mode))
		m.attr("owner", fmt.Sprintf("%s/%s (%d/%d)", h.Uname, h.Gname, h.Uid, h.Gid))
		m.attr("size", strconv.FormatInt(h.Size, 10))
		m.attr("mtime", strconv.FormatInt(h.ModTime.Unix(), 10))
		m.attr("link", h.Linkname)
		m.attr("sha256", fmt.Sprintf("%x", sum.Sum(nil)))
		ms = append(ms, m)
	}
}

// reproRPMFiles reads the files of an RPM as "rpm -qp --dump" gives them
// (what rpm -qlvp lists, with each file's digest).
func reproRPMFiles(t *testing.T, rpm string) []reproMember {
	t.Helper()
	keys := []string{"size", "mtime", "digest", "mode", "owner", "group", "config", "doc", "rdev", "link"}
	var ms []reproMember
	for _, l := range strings.Split(strings.TrimSpace(reproRun(t, "rpm", "-qp", "--dump", rpm)), "\n") {
		f := strings.Fields(l)
		if len(f) != 1+len(keys) {
			t.Fatalf("rpm -qp --dump %s: line %q", rpm, l)
		}
		mtime, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			t.Fatalf("rpm -qp --dump %s: line %q: %v", rpm, l, err)
		}
		m := reproMember{name: f[0], mtime: mtime}
		for i, k := range keys {
			m.attr(k, f[1+i])
		}
		ms = append(ms, m)
	}
	return ms
}

// reproRPMTags are the header tags of an RPM that a build can change
// besides its files.
var reproRPMTags = []string{"BUILDTIME", "BUILDHOST", "COOKIE", "SIZE", "LONGARCHIVESIZE", "PAYLOADCOMPRESSOR",
	"PAYLOADFLAGS", "OPTFLAGS", "PLATFORM", "RPMVERSION", "SOURCERPM", "CHANGELOGTIME", "PAYLOADDIGEST",
	"SHA256HEADER", "SIGMD5"}

func reproRPMHeader(t *testing.T, rpm string) []reproMember {
	t.Helper()
	var qf strings.Builder
	for _, tag := range reproRPMTags {
		fmt.Fprintf(&qf, "%s=%%{%s}\\n", tag, tag)
	}
	var ms []reproMember
	for _, l := range strings.Split(strings.TrimSpace(reproRun(t, "rpm", "-qp", "--qf", qf.String(), rpm)), "\n") {
		tag, value, _ := strings.Cut(l, "=")
		m := reproMember{name: "header tag " + tag}
		m.attr("value", value)
		ms = append(ms, m)
	}
	return ms
}

// reproDiff lists what differs between a and b: the members in one only,
// and for the others the attributes that differ, as "attr A -> B".
func reproDiff(a, b []reproMember) []string {
	var out []string
	index := func(ms []reproMember) map[string]reproMember {
		m := map[string]reproMember{}
		for _, x := range ms {
			m[x.name] = x
		}
		return m
	}
	ia, ib := index(a), index(b)
	for _, x := range a {
		y, ok := ib[x.name]
		if !ok {
			out = append(out, x.name+": only in the first")
			continue
		}
		var d []string
		for i, kv := range x.attrs {
			if i >= len(y.attrs) || y.attrs[i] != kv {
				other := "(none)"
				if i < len(y.attrs) {
					other = y.attrs[i][1]
				}
				d = append(d, fmt.Sprintf("%s %s -> %s", kv[0], kv[1], other))
			}
		}
		if len(d) > 0 {
			out = append(out, x.name+": "+strings.Join(d, "; "))
		}
	}
	for _, y := range b {
		if _, ok := ia[y.name]; !ok {
			out = append(out, y.name+": only in the second")
		}
	}
	if len(out) == 0 && len(a) == len(b) {
		for i := range a {
			if a[i].name != b[i].name {
				return []string{fmt.Sprintf("the same members in another order: %s, then %s", a[i].name, b[i].name)}
			}
		}
	}
	return out
}

// reproReport writes the differences, the first 40 of them.
func reproReport(s *strings.Builder, d []string) {
	const most = 40
	if len(d) == 0 {
		s.WriteString("    nothing compared differs\n")
	}
	for i, l := range d {
		if i == most {
			fmt.Fprintf(s, "    ... and %d more\n", len(d)-most)
			break
		}
		fmt.Fprintf(s, "    %s\n", l)
	}
}

// reproExplainDeb says what differs between the two .deb: its ar members,
// the control tar's entries ("control ./md5sums") and the data tar's (what
// dpkg-deb -c lists, with each file's sha256).
func reproExplainDeb(t *testing.T, a, b string) string {
	t.Helper()
	var s strings.Builder
	s.WriteString(reproFirstDifference(a, b))
	reproReport(&s, reproDiff(reproDebMembers(t, a), reproDebMembers(t, b)))
	return s.String()
}

// reproExplainRPM says what differs between the two RPMs: header tags, and
// the files (rpm -qp --dump).
func reproExplainRPM(t *testing.T, a, b string) string {
	t.Helper()
	var s strings.Builder
	s.WriteString(reproFirstDifference(a, b))
	reproReport(&s, append(reproDiff(reproRPMHeader(t, a), reproRPMHeader(t, b)), reproDiff(reproRPMFiles(t, a), reproRPMFiles(t, b))...))
	return s.String()
}

// reproFirstDifference is cmp's verdict: the sizes and the first byte that
// differs.
func reproFirstDifference(a, b string) string {
	x, errA := os.ReadFile(a)
	y, errB := os.ReadFile(b)
	if errA != nil || errB != nil {
		return fmt.Sprintf("cannot read them: %v, %v\n", errA, errB)
	}
	n := min(len(x), len(y))
	i := 0
	for i < n && x[i] == y[i] {
		i++
	}
	return fmt.Sprintf("sizes %d and %d bytes; the first difference at byte %d (0x%x)\n", len(x), len(y), i, i)
}

// reproDebMembers are the .deb's ar members and the entries of its control
// and data tarballs.
func reproDebMembers(t *testing.T, deb string) []reproMember {
	t.Helper()
	ms, err := reproArMembers(deb)
	if err != nil {
		t.Fatalf("%s: %v", deb, err)
	}
	for _, part := range []string{"--ctrl-tarfile", "--fsys-tarfile"} {
		entries, err := reproTarEntries(deb, part)
		if err != nil {
			t.Fatalf("dpkg-deb %s %s: %v", part, deb, err)
		}
		ms = append(ms, entries...)
	}
	return ms
}
