package keyring

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// KeyUser is one line of /proc/key-users: a uid's key count and quota use.
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

// NearFull is the share of a quota from which status warns.
const NearFull = 0.8

// NearQuota says whether either quota is at least NearFull used.
func (u KeyUser) NearQuota() bool {
	return (u.MaxKeys > 0 && float64(u.QuotaKeys) >= NearFull*float64(u.MaxKeys)) ||
		(u.MaxBytes > 0 && float64(u.QuotaBytes) >= NearFull*float64(u.MaxBytes))
}

// ParseKeyUsers reads /proc/key-users:
// "  uid:  usage nkeys/nikeys qnkeys/maxkeys qnbytes/maxbytes".
func ParseKeyUsers(data []byte) ([]KeyUser, error) {
	var out []KeyUser
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := fmt.Errorf("/proc/key-users line %d: unexpected %q", i+1, line)
		if len(f) != 5 || !strings.HasSuffix(f[0], ":") {
			return nil, bad
		}
		uid, err := strconv.ParseUint(strings.TrimSuffix(f[0], ":"), 10, 32)
		if err != nil {
			return nil, bad
		}
		u := KeyUser{UID: uint32(uid)}
		if u.Usage, err = strconv.Atoi(f[1]); err != nil {
			return nil, bad
		}
		for j, p := range [][2]*int{{&u.Keys, &u.InstantiatedKeys}, {&u.QuotaKeys, &u.MaxKeys}, {&u.QuotaBytes, &u.MaxBytes}} {
			a, b, ok := strings.Cut(f[j+2], "/")
			x, err1 := strconv.Atoi(a)
			y, err2 := strconv.Atoi(b)
			if !ok || err1 != nil || err2 != nil {
				return nil, bad
			}
			*p[0], *p[1] = x, y
		}
		out = append(out, u)
	}
	return out, nil
}

// Sysctl is one kernel.keys.* setting.
type Sysctl struct {
	Name  string `json:"name"` // kernel.keys.maxkeys
	Value string `json:"value"`
}

// ReadSysctls reads every file of dir (/proc/sys/kernel/keys) as
// kernel.keys.NAME, sorted by name.
func ReadSysctls(dir string) ([]Sysctl, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Sysctl
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // write-only or vanished: nothing to show
		}
		out = append(out, Sysctl{Name: "kernel.keys." + e.Name(), Value: strings.TrimSpace(string(b))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
