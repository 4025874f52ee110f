package main

// What "migrate --apply" records so that "--revert" can undo it exactly,
// and how that record is trusted.
//
// The state directory holds the manifest (manifest.json), each migrated
// file's bytes before and after (files/), and the lock both commands take
// (lock). A root --revert writes pam.d files from it, so it is trusted as
// the front trusts its core (internal/trust): the directory, every
// directory above it, and each of those files must be owned by root and not
// writable by group or others. When keyinit-go runs as another user (its
// tests, on temporary directories), that user may own them too: such a run
// can only write what that user could write anyway. Otherwise migrate
// refuses, with one line, and changes nothing.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"pam_keyinit_go/internal/trust"
)

// defaultStateDir is migrate's state directory (--state-dir), which check
// reads too.
const defaultStateDir = "/var/lib/keyinit-go"

// manifest is STATE/manifest.json. Each file's bytes before and after are
// kept in STATE/files/, named by the sha256 of its path.
type manifest struct {
	Version int `json:"version"`
	// PamDir is the PAM directory of the migration (its real path): the
	// only place --revert writes to.
	PamDir string         `json:"pam_dir"`
	Files  []manifestFile `json:"files"`
	// Authselect is what --apply asked authselect to do, when it owns
	// files of PamDir (migrate_authselect_apply.go).
	Authselect *manifestAuthselect `json:"authselect,omitempty"`
}

type manifestFile struct {
	Path string `json:"path"` // absolute, symbolic links resolved
	// Link is the name in PamDir that is a symbolic link to Path, when
	// Path is elsewhere (Fedora's system-auth, a link into /etc/authselect).
	Link   string `json:"link,omitempty"`
	Before string `json:"before"` // sha256 of the original
	After  string `json:"after"`  // sha256 of what --apply wrote
	// Pending: recorded before the rename, and not yet known to be done,
	// so the file holds either. Dev and Ino are the original's, to tell an
	// original edited in place from a file replaced by the rename.
	Pending bool   `json:"pending,omitempty"`
	Dev     uint64 `json:"dev,omitempty"`
	Ino     uint64 `json:"ino,omitempty"`
}

// manifestVersion 3 added Authselect: a keyinit-go that reads only 2 would
// drop it. Version 2 manifests are read as they are.
const manifestVersion = 3

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func manifestPath(stateDir string) string { return filepath.Join(stateDir, "manifest.json") }

// keptFile is where the original (".orig") or the migrated (".new") bytes
// of path are kept.
func keptFile(stateDir, path, ext string) string {
	return filepath.Join(stateDir, "files", sha256Hex([]byte(path))[:16]+ext)
}

func (m manifest) find(path string) int {
	for i, f := range m.Files {
		if f.Path == path {
			return i
		}
	}
	return -1
}

// stateRule is who may own the state: root, and the uid running keyinit-go.
func stateRule() trust.Rule {
	r := trust.Root
	if uid := uint32(os.Geteuid()); uid != 0 {
		r.Owners = append([]uint32{0}, uid)
	}
	return r
}

// state is the state directory, locked, and its manifest.
type state struct {
	dir  string // real path
	lock *os.File
	man  manifest
}

// openState checks the state directory, takes its lock and reads the
// manifest. With create, a missing directory is made (mode 0700) once what
// would hold it is trusted; without, a missing one gives (nil, nil). Every
// error is a reason to refuse, in one line.
func openState(dir string, create bool) (*state, error) {
	rule := stateRule()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(abs); errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, nil
		}
		if err := rule.Above(abs); err != nil {
			return nil, fmt.Errorf("the state directory %s cannot be made there: %v", abs, err)
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return nil, err
		}
	}
	if err := rule.Dir(abs); err != nil {
		return nil, fmt.Errorf("state directory %s: %v", abs, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	st := &state{dir: real, man: manifest{Version: manifestVersion}}
	if st.lock, err = lockState(real, rule); err != nil {
		return nil, err
	}
	if err := st.load(rule); err != nil {
		st.close()
		return nil, err
	}
	return st, nil
}

// lockState takes STATE/lock: one migrate at a time.
func lockState(dir string, rule trust.Rule) (*os.File, error) {
	p := filepath.Join(dir, "lock")
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	f := os.NewFile(uintptr(fd), p)
	if err := rule.Entry(p, false); err != nil {
		f.Close()
		return nil, err
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another keyinit-go migrate is running (it holds %s); try again when it is done", p)
		}
		return nil, fmt.Errorf("lock %s: %v", p, err)
	}
	return f, nil
}

func (st *state) close() { st.lock.Close() }

// load reads the manifest, once it and the kept files are trusted, and
// removes the temporary files a killed run left in the state directory.
func (st *state) load(rule trust.Rule) error {
	removeTemps(st.dir, "")
	files := filepath.Join(st.dir, "files")
	if _, err := os.Lstat(files); err == nil {
		if err := rule.Entry(files, true); err != nil {
			return err
		}
		removeTemps(files, "")
	}
	p := manifestPath(st.dir)
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := rule.Entry(p, false); err != nil {
		return err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %v", p, err)
	}
	if m.Version != manifestVersion && m.Version != 2 {
		return fmt.Errorf("%s: version %d; this keyinit-go reads version %d", p, m.Version, manifestVersion)
	}
	kept := m.Files
	if m.Authselect != nil {
		kept = append(append([]manifestFile(nil), kept...), m.Authselect.keptFiles()...)
	}
	for _, f := range kept {
		for _, ext := range []string{".orig", ".new"} {
			k := keptFile(st.dir, f.Path, ext)
			if _, err := os.Lstat(k); err == nil {
				if err := rule.Entry(k, false); err != nil {
					return err
				}
			}
		}
	}
	m.Version = manifestVersion
	st.man = m
	return nil
}

// save writes the manifest atomically, or removes it (and the kept files)
// when it records nothing.
func (st *state) save() error {
	if st.man.empty() {
		if err := os.RemoveAll(filepath.Join(st.dir, "files")); err != nil {
			return err
		}
		if err := os.Remove(manifestPath(st.dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.MarshalIndent(st.man, "", "  ")
	if err != nil {
		return err
	}
	return writeNew(manifestPath(st.dir), append(b, '\n'))
}

// keep records the bytes of a file before and after its migration.
func (st *state) keep(mg migration) error {
	if err := os.MkdirAll(filepath.Join(st.dir, "files"), 0o700); err != nil {
		return err
	}
	if err := writeNew(keptFile(st.dir, mg.path, ".orig"), mg.before); err != nil {
		return err
	}
	return writeNew(keptFile(st.dir, mg.path, ".new"), mg.after)
}

// empty: the manifest records nothing to revert.
func (m manifest) empty() bool { return len(m.Files) == 0 && m.Authselect == nil }

// forget removes the kept bytes of path.
func (st *state) forget(path string) {
	os.Remove(keptFile(st.dir, path, ".orig"))
	os.Remove(keptFile(st.dir, path, ".new"))
}

// writable says why --revert (or a second --apply) must not write f.Path,
// or nil. It writes only in the PAM directory recorded at apply time: a
// path there, or one a symbolic link directly there names, absolute,
// without "..", and with no symbolic link on the way now that leads
// elsewhere.
func (m manifest) writable(f manifestFile) error {
	if !cleanAbs(m.PamDir) {
		return fmt.Errorf("the manifest records the PAM directory %q, not an absolute path without \"..\"", m.PamDir)
	}
	if real, err := filepath.EvalSymlinks(m.PamDir); err != nil || real != m.PamDir {
		return fmt.Errorf("the PAM directory %s recorded at apply time is no longer a directory reached without symbolic links", m.PamDir)
	}
	if !cleanAbs(f.Path) {
		return fmt.Errorf("not an absolute path without \"..\"")
	}
	real, err := filepath.EvalSymlinks(f.Path)
	switch {
	case err != nil:
		return err
	case real != f.Path:
		return fmt.Errorf("a symbolic link on the way now leads to %s", real)
	case strings.HasPrefix(f.Path, m.PamDir+"/"):
		return nil
	case f.Link != "" && cleanAbs(f.Link) && filepath.Dir(f.Link) == m.PamDir:
		if r, err := filepath.EvalSymlinks(f.Link); err == nil && r == f.Path {
			return nil
		}
	}
	return fmt.Errorf("not in %s, the PAM directory recorded at apply time, nor named by a symbolic link there", m.PamDir)
}

// cleanAbs: absolute, and as filepath.Clean leaves it (so no "..", ".",
// "//" or trailing "/").
func cleanAbs(p string) bool { return filepath.IsAbs(p) && filepath.Clean(p) == p }
