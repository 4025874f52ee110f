// Package trust is the rule by which a privileged process believes a file:
// only its owners (root, for the Go core) could have written it, or any
// name on the way to it.
//
// It is one half of a rule written twice. The other half is C, in
// pam/front/trust.c (kig_open_trusted): the front's check, in a root host,
// of the Go core it is about to load. Core here must refuse exactly where
// that function refuses, so that "keyinit-go check" and "keyinit-go migrate
// --apply" say in advance what a root host will do; a change to one is a
// change to the other, and cmd/keyinit-go's tests run both over the same
// directories (TestTrustAgreesWithFront).
//
// The rule, on the path with every symbolic link resolved: the file is a
// regular file of an owner, that group and others cannot write; its
// directory likewise; and so is every directory above it up to /, except
// that an ancestor may be writable by others if it is sticky (as /tmp is),
// where others may add entries but never rename or remove the owner's.
package trust

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Rule is who may own a trusted file and the directories above it.
type Rule struct {
	// Owners are the uids accepted; the front accepts root alone.
	Owners []uint32
}

// Root is the front's rule: root alone.
var Root = Rule{Owners: []uint32{0}}

// Core says why a root host's pam_keyinit_go.so would refuse to load the Go
// core at path, or nil if it would load it.
func Core(path string) error { return Root.File(path) }

// Refusal is a path the rule does not trust, and the name on it to fix.
type Refusal struct {
	Path   string // the path asked about, symbolic links resolved
	Bad    string // what breaks the rule: Path itself, its directory or one above
	What   string // "file", "directory" or "directory above it"
	owners string // as the message names them
}

// Error reads as trust.c's log line does.
func (r *Refusal) Error() string {
	if r.owners == "root" {
		return fmt.Sprintf("%s must be a root-owned %s that group and others cannot write", r.Bad, r.What)
	}
	return fmt.Sprintf("%s must be a %s owned by %s that group and others cannot write", r.Bad, r.What, r.owners)
}

func (r Rule) refuse(path, bad, what string) error {
	return &Refusal{Path: path, Bad: bad, What: what, owners: r.ownersText()}
}

func (r Rule) ownersText() string {
	var names []string
	for _, u := range r.Owners {
		if u == 0 {
			names = append(names, "root")
		} else {
			names = append(names, "uid "+strconv.FormatUint(uint64(u), 10))
		}
	}
	return strings.Join(names, " or ")
}

func (r Rule) owns(uid uint32) bool {
	for _, u := range r.Owners {
		if u == uid {
			return true
		}
	}
	return false
}

// File checks a file, its directory and every directory above.
func (r Rule) File(path string) error {
	real, err := realPath(path)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Stat(real, &st); err != nil {
		return fmt.Errorf("%s: %w", real, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || !r.owns(st.Uid) || st.Mode&(unix.S_IWGRP|unix.S_IWOTH) != 0 {
		return r.refuse(real, real, "file")
	}
	dir := filepath.Dir(real)
	if dir == "/" {
		// trust.c does not cut "/name" to "/", and so refuses a file
		// directly in / as a directory that is not one: so does this.
		return r.refuse(real, real, "directory")
	}
	if err := r.dir(real, dir); err != nil {
		return err
	}
	return r.above(real, filepath.Dir(dir))
}

// Dir checks a directory and every directory above it.
func (r Rule) Dir(path string) error {
	real, err := realPath(path)
	if err != nil {
		return err
	}
	if err := r.dir(real, real); err != nil {
		return err
	}
	if real == "/" {
		return nil
	}
	return r.above(real, filepath.Dir(real))
}

// Above checks what would hold path, which need not exist yet: its nearest
// existing ancestor and every directory above that, as ancestors (sticky
// ones may be writable by others).
func (r Rule) Above(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		real, err := filepath.EvalSymlinks(d)
		if err == nil {
			return r.above(abs, real)
		}
		if d == "/" {
			return err
		}
	}
}

// Entry checks one name inside a directory already checked: a regular file
// (or, with dir, a directory) of an owner that group and others cannot
// write, and not a symbolic link.
func (r Rule) Entry(path string, dir bool) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	kind, what := uint32(unix.S_IFREG), "file"
	if dir {
		kind, what = unix.S_IFDIR, "directory"
	}
	if st.Mode&unix.S_IFMT != kind || !r.owns(st.Uid) || st.Mode&(unix.S_IWGRP|unix.S_IWOTH) != 0 {
		return r.refuse(path, path, what)
	}
	return nil
}

// dir is trust.c's safe_dir: an owner's directory that group and others
// cannot write, sticky or not.
func (r Rule) dir(path, dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || !r.owns(st.Uid) ||
		st.Mode&(unix.S_IWGRP|unix.S_IWOTH) != 0 {
		return r.refuse(path, dir, "directory")
	}
	return nil
}

// above is trust.c's unsafe_ancestor: dir and every directory up to /, an
// owner's, not writable by group or others unless sticky.
func (r Rule) above(path, dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || !r.owns(st.Uid) ||
			st.Mode&(unix.S_IWGRP|unix.S_IWOTH) != 0 && st.Mode&unix.S_ISVTX == 0 {
			return r.refuse(path, d, "directory above it")
		}
		if d == "/" {
			return nil
		}
	}
}

// realPath is realpath(3): absolute, every symbolic link resolved.
func realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	return real, nil
}
