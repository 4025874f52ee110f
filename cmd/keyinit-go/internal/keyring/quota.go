package keyring

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"pam_keyinit_go/internal/keys"
)

// NearFull is the share of a quota from which status warns.
const NearFull = 0.8

// NearQuota says whether either quota of u is at least NearFull used.
func NearQuota(u keys.KeyUser) bool {
	return (u.MaxKeys > 0 && float64(u.QuotaKeys) >= NearFull*float64(u.MaxKeys)) ||
		(u.MaxBytes > 0 && float64(u.QuotaBytes) >= NearFull*float64(u.MaxBytes))
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
