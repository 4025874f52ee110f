package keys

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// KeyUsersFile is where the kernel shows each uid's keys and quota use.
const KeyUsersFile = "/proc/key-users"

// KeyUser is one line of /proc/key-users:
// "  uid:  usage nkeys/nikeys qnkeys/maxkeys qnbytes/maxbytes".
type KeyUser struct {
	UID              uint32 `json:"uid"`
	Owner            string `json:"owner,omitempty"`
	Usage            int    `json:"usage"` // references to the kernel's per-uid record
	Keys             int    `json:"keys"`
	InstantiatedKeys int    `json:"instantiated_keys"`
	QuotaKeys        int    `json:"quota_keys"` // keys counted against the quota
	MaxKeys          int    `json:"max_keys"`
	QuotaBytes       int    `json:"quota_bytes"`
	MaxBytes         int    `json:"max_bytes"`
}

// Quota is "QNKEYS/MAXKEYS keys and QNBYTES/MAXBYTES bytes". (strconv, not
// fmt: see the package comment.)
func (u KeyUser) Quota() string {
	return strconv.Itoa(u.QuotaKeys) + "/" + strconv.Itoa(u.MaxKeys) + " keys and " +
		strconv.Itoa(u.QuotaBytes) + "/" + strconv.Itoa(u.MaxBytes) + " bytes"
}

// ParseKeyUsers reads the text of /proc/key-users.
func ParseKeyUsers(data []byte) ([]KeyUser, error) {
	var out []KeyUser
	for i, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		u, err := parseKeyUser(line)
		if err != nil {
			return nil, errors.New(KeyUsersFile + " line " + strconv.Itoa(i+1) + ": " + err.Error())
		}
		out = append(out, u)
	}
	return out, nil
}

func parseKeyUser(line string) (KeyUser, error) {
	f := strings.Fields(line)
	bad := errors.New("unexpected " + strconv.Quote(line))
	if len(f) != 5 || !strings.HasSuffix(f[0], ":") {
		return KeyUser{}, bad
	}
	uid, err := strconv.ParseUint(strings.TrimSuffix(f[0], ":"), 10, 32)
	if err != nil {
		return KeyUser{}, bad
	}
	u := KeyUser{UID: uint32(uid)}
	if u.Usage, err = strconv.Atoi(f[1]); err != nil {
		return KeyUser{}, bad
	}
	for j, p := range [][2]*int{{&u.Keys, &u.InstantiatedKeys}, {&u.QuotaKeys, &u.MaxKeys}, {&u.QuotaBytes, &u.MaxBytes}} {
		a, b, ok := strings.Cut(f[j+2], "/")
		x, err1 := strconv.Atoi(a)
		y, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil {
			return KeyUser{}, bad
		}
		*p[0], *p[1] = x, y
	}
	return u, nil
}

// ReadKeyUsers reads /proc/key-users with raw system calls (see the package
// comment for why not package os).
func ReadKeyUsers() ([]KeyUser, error) {
	data, err := readKeyUsersFile()
	if err != nil {
		return nil, err
	}
	return ParseKeyUsers(data)
}

func readKeyUsersFile() ([]byte, error) {
	fd, err := unix.Open(KeyUsersFile, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var data bytes.Buffer
	buf := make([]byte, 4096)
	for data.Len() < 1<<20 {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		data.Write(buf[:n])
	}
	return data.Bytes(), nil
}

// UserOf is uid's line of /proc/key-users; found is false when uid owns no
// keys (or the file cannot be read).
// It parses only that line: on a machine with many uids the file is long,
// and the module reads it on its EDQUOT path.
func UserOf(uid uint32) (u KeyUser, found bool) {
	data, err := readKeyUsersFile()
	if err != nil {
		return KeyUser{}, false
	}
	prefix := []byte(strconv.FormatUint(uint64(uid), 10) + ":")
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		if bytes.HasPrefix(bytes.TrimLeft(line, " "), prefix) {
			u, err := parseKeyUser(string(line))
			return u, err == nil
		}
	}
	return KeyUser{}, false
}
