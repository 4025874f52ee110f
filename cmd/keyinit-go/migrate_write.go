package main

// Replacing a pam.d file safely: a reader (libpam in a login starting now)
// sees the old file or the new one, never a part, and the new one has the
// old one's owner, mode and extended attributes (the SELinux label). A
// migration killed at any point leaves each file old or new, and at most a
// temporary file beside it, which the next run removes.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// stepHook is a test seam, nil outside this package's tests: they set it
// to act between the steps of a migration (edit a file just before the
// final compare, or end the process there as kill -9 would).
var stepHook func(step, path string)

// step marks a point a test may act at: "compare" just before a file is
// compared with what was read, "temp" once writeAtomic's temporary file is
// written and synced, "renamed" once it is renamed over its path.
func step(name, path string) {
	if stepHook != nil {
		stepHook(name, path)
	}
}

// readFile is a file's bytes and, read from the same open file, its device
// and inode; symbolic links are not followed (path is a real path).
type readFile struct {
	data     []byte
	dev, ino uint64
}

func readNoFollow(path string) (readFile, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return readFile{}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return readFile{}, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return readFile{}, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(f)
	return readFile{data: data, dev: st.Dev, ino: st.Ino}, err
}

// errChanged: the file no longer holds what was read.
var errChanged = errors.New("changed since it was read")

// replaceIfUnchanged replaces path with data only if it is still the file
// read as was (same device, inode and bytes), or returns errChanged. The
// caller holds the state's lock, which keeps other migrate runs out; an
// editor that writes between the compare and the rename (a few system
// calls apart) is not seen.
func replaceIfUnchanged(path string, was readFile, data []byte) error {
	step("compare", path)
	now, err := readNoFollow(path)
	if err != nil || now.dev != was.dev || now.ino != was.ino || !bytes.Equal(now.data, was.data) {
		return errChanged
	}
	return replaceFile(path, data)
}

// removeTemps removes the temporary files a killed writeAtomic left in
// dir: those of the file named base, or with base "", of any file.
func removeTemps(dir, base string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		ours := strings.HasPrefix(n, "."+base+tempMark)
		if base == "" {
			ours = strings.HasPrefix(n, ".") && strings.Contains(n, tempMark)
		}
		if ours && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

// tempMark is in the name of every temporary file writeAtomic makes:
// ".NAME.keyinit-go-RANDOM".
const tempMark = ".keyinit-go-"

// replaceFile replaces path (a regular file) with data atomically.
func replaceFile(path string, data []byte) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return err
	}
	xattrs, err := readXattrs(path)
	if err != nil {
		return err
	}
	return writeAtomic(path, data, func(f *os.File) error {
		if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		// After chown, which clears set-id bits.
		if err := unix.Fchmod(int(f.Fd()), st.Mode&0o7777); err != nil {
			return err
		}
		for name, val := range xattrs {
			if err := unix.Fsetxattr(int(f.Fd()), name, val, 0); err != nil {
				return fmt.Errorf("keep extended attribute %s: %v", name, err)
			}
		}
		return nil
	})
}

// writeNew writes a file of keyinit-go's own state (mode 0600) atomically.
func writeNew(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeAtomic(path, data, func(f *os.File) error { return f.Chmod(0o600) })
}

// writeAtomic writes data to a temporary file in path's directory, lets
// prepare set its attributes, fsyncs it, renames it over path and fsyncs
// the directory.
func writeAtomic(path string, data []byte, prepare func(*os.File) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempMark)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = prepare(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	step("temp", path)
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	step("renamed", path)
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readXattrs returns every extended attribute of path (security.selinux,
// security.ima, user.*, ...).
func readXattrs(path string) (map[string][]byte, error) {
	out := map[string][]byte{}
	size, err := unix.Llistxattr(path, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(path, buf); err != nil {
		return nil, err
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		n, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return nil, fmt.Errorf("read extended attribute %s: %v", name, err)
		}
		val := make([]byte, n)
		if n, err = unix.Lgetxattr(path, name, val); err != nil {
			return nil, fmt.Errorf("read extended attribute %s: %v", name, err)
		}
		out[name] = val[:n]
	}
	return out, nil
}

// notReplaceable says why path cannot be replaced by rename, or nil.
func notReplaceable(path string) error {
	if err := unix.Access(path, unix.W_OK); err != nil {
		return fmt.Errorf("%s is not writable: %v", path, err)
	}
	if err := unix.Access(filepath.Dir(path), unix.W_OK); err != nil {
		return fmt.Errorf("%s is not writable (its directory %s: %v)", path, filepath.Dir(path), err)
	}
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, 0, &stx); err == nil &&
		stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return fmt.Errorf("%s is not writable: it is a mount point (a bind mount), which rename cannot replace", path)
	}
	if stx.Attributes&(unix.STATX_ATTR_IMMUTABLE|unix.STATX_ATTR_APPEND) != 0 {
		return fmt.Errorf("%s is not writable: it is immutable or append-only (chattr -i/-a)", path)
	}
	return nil
}
