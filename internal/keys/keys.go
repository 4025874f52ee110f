// Package keys holds what the kernel says about keys, in the formats
// keyctl(2) and /proc/key-users use, for the module, keyinit-go and the
// tests alike: the special keyring ids, KEYCTL_DESCRIBE's description,
// KEYCTL_READ's list of links, and the per-uid quota lines.
//
// The module calls it on every open, inside its host process: ParseOwner
// allocates nothing, and nothing here imports package os or fmt (which
// imports os). os's initialisation wraps fds 0, 1 and 2, and if one of them
// is non-blocking it starts the runtime's network poller: an epoll and an
// eventfd the host never opened, kept for good, and a runtime that throws
// if the host closes them. test/deps_test.go keeps them out of the core.
package keys

import (
	"bytes"
	"errors"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Special keyring ids (linux/keyctl.h).
const (
	Session     = unix.KEY_SPEC_SESSION_KEYRING      // @s
	User        = unix.KEY_SPEC_USER_KEYRING         // @u, _uid.N, resolved from the real uid
	UserSession = unix.KEY_SPEC_USER_SESSION_KEYRING // @us, _uid_ses.N, resolved from the real uid
)

// Description is KEYCTL_DESCRIBE's "type;uid;gid;perm;description".
type Description struct {
	Type     string
	UID, GID uint32
	Perm     uint32 // the permission mask, hexadecimal in the text
	Name     string
}

// ErrDescription is the error for a description of another shape.
var ErrDescription = errors.New("unexpected key description")

// fields splits a description in place; the name is the rest of the text
// (a key's description may itself hold ';').
func fields(d []byte) (typ, uid, gid, perm, name []byte, ok bool) {
	d = bytes.TrimRight(d, "\x00")
	var f [4][]byte
	for i := range f {
		var found bool
		if f[i], d, found = bytes.Cut(d, []byte(";")); !found {
			return nil, nil, nil, nil, nil, false
		}
	}
	return f[0], f[1], f[2], f[3], d, true
}

// id reads a uid or gid field. The kernel prints them with %d, so ids of
// 2^31 and above come out negative.
func id(f []byte) (uint32, bool) {
	n, err := strconv.ParseInt(string(f), 10, 64)
	if err != nil || n < -1<<31 || n > 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
}

// ParseOwner is the uid of a description, without allocating.
func ParseOwner(d []byte) (uint32, error) {
	_, uid, _, _, _, ok := fields(d)
	if !ok {
		return 0, ErrDescription
	}
	n, ok := id(uid)
	if !ok {
		return 0, ErrDescription
	}
	return n, nil
}

// ParseDescription reads a whole description.
func ParseDescription(d []byte) (Description, error) {
	typ, uid, gid, perm, name, ok := fields(d)
	if !ok {
		return Description{}, ErrDescription
	}
	u, ok1 := id(uid)
	g, ok2 := id(gid)
	p, err := strconv.ParseUint(string(perm), 16, 32)
	if !ok1 || !ok2 || err != nil {
		return Description{}, ErrDescription
	}
	return Description{Type: string(typ), UID: u, GID: g, Perm: uint32(p), Name: string(name)}, nil
}

// Describe is KEYCTL_DESCRIBE of a serial or special id.
func Describe(id int) (Description, error) {
	s, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
	if err != nil {
		return Description{}, err
	}
	return ParseDescription([]byte(s))
}

// Links are the serials a keyring links (KEYCTL_READ: an array of 32-bit
// serials in the host's byte order).
func Links(keyring int) ([]int, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, keyring, buf, 0)
		if err != nil {
			return nil, err
		}
		if n > len(buf) { // it links more than fit: read again
			buf = make([]byte, n)
			continue
		}
		// Read in place (not with encoding/binary, which would link reflect
		// into the module): buf is 8-byte aligned, as every Go allocation.
		out := make([]int, 0, n/4)
		for _, serial := range unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(buf))), n/4) {
			out = append(out, int(serial))
		}
		return out, nil
	}
}
