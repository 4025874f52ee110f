package keyring

import (
	"reflect"
	"testing"

	"pam_keyinit_go/internal/keys"
)

func TestNearQuota(t *testing.T) {
	for _, tc := range []struct {
		u     keys.KeyUser
		raise []string
	}{
		{keys.KeyUser{UID: 1000, QuotaKeys: 3, MaxKeys: 1000000, QuotaBytes: 56, MaxBytes: 25000000}, nil},
		{keys.KeyUser{UID: 1000, QuotaKeys: 170, MaxKeys: 200, QuotaBytes: 28, MaxBytes: 20000}, []string{"kernel.keys.maxkeys"}},
		{keys.KeyUser{UID: 1000, QuotaBytes: 16000, MaxBytes: 20000}, []string{"kernel.keys.maxbytes"}}, // exactly 80%
		{keys.KeyUser{UID: 1000, QuotaKeys: 159, MaxKeys: 200, QuotaBytes: 15999, MaxBytes: 20000}, nil},
		{keys.KeyUser{UID: 0, QuotaKeys: 900, MaxKeys: 1000, QuotaBytes: 900, MaxBytes: 1000}, []string{"kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes"}},
	} {
		if got := NearQuota(tc.u); !reflect.DeepEqual(got, tc.raise) {
			t.Errorf("NearQuota(%+v) = %q; want %q", tc.u, got, tc.raise)
		}
	}
}
