package keyring

import "pam_keyinit_go/internal/keys"

// NearFull is the share of a quota from which status warns.
const NearFull = 0.8

// NearQuota names the sysctls of the quotas u uses NearFull of or more:
// the ones to raise; none when u is not near a quota. The kernel holds
// root (uid 0) to the root_ quotas and every other uid to the others.
func NearQuota(u keys.KeyUser) []string {
	prefix := "kernel.keys."
	if u.UID == 0 {
		prefix += "root_"
	}
	var raise []string
	if near(u.QuotaKeys, u.MaxKeys) {
		raise = append(raise, prefix+"maxkeys")
	}
	if near(u.QuotaBytes, u.MaxBytes) {
		raise = append(raise, prefix+"maxbytes")
	}
	return raise
}

func near(used, limit int) bool { return limit > 0 && float64(used) >= NearFull*float64(limit) }
