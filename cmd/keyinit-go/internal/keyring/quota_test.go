package keyring

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"pam_keyinit_go/internal/keys"
)

func TestNearQuota(t *testing.T) {
	for _, tc := range []struct {
		u    keys.KeyUser
		near bool
	}{
		{keys.KeyUser{QuotaKeys: 3, MaxKeys: 1000000, QuotaBytes: 56, MaxBytes: 25000000}, false},
		{keys.KeyUser{QuotaKeys: 170, MaxKeys: 200, QuotaBytes: 28, MaxBytes: 20000}, true},
		{keys.KeyUser{QuotaBytes: 16000, MaxBytes: 20000}, true}, // 80% of maxbytes
		{keys.KeyUser{QuotaKeys: 159, MaxKeys: 200}, false},
	} {
		if got := NearQuota(tc.u); got != tc.near {
			t.Errorf("NearQuota(%+v) = %t; want %t", tc.u, got, tc.near)
		}
	}
}

func TestReadSysctls(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "maxkeys"), []byte("200\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "gc_delay"), []byte("300\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	got, err := ReadSysctls(dir)
	want := []Sysctl{{"kernel.keys.gc_delay", "300"}, {"kernel.keys.maxkeys", "200"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ReadSysctls = %v, %v; want %v", got, err, want)
	}
	if _, err := ReadSysctls(filepath.Join(dir, "none")); err == nil {
		t.Errorf("ReadSysctls of a missing directory succeeded")
	}
}
