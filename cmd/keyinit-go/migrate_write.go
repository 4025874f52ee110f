package main

// Replacing a pam.d file safely: a reader (libpam in a login starting now)
// sees the old file or the new one, never a part, and the new one has the
// old one's owner, mode and extended attributes (the SELinux label).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

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
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".keyinit-go-")
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
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
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
