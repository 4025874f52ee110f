package keyring

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseKeyUsers(t *testing.T) {
	got, err := ParseKeyUsers([]byte("    0:     9 8/8 3/1000000 56/25000000\n 1001:     2 2/2 170/200 28/20000\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []KeyUser{
		{UID: 0, Usage: 9, Keys: 8, InstantiatedKeys: 8, QuotaKeys: 3, MaxKeys: 1000000, QuotaBytes: 56, MaxBytes: 25000000},
		{UID: 1001, Usage: 2, Keys: 2, InstantiatedKeys: 2, QuotaKeys: 170, MaxKeys: 200, QuotaBytes: 28, MaxBytes: 20000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseKeyUsers = %+v; want %+v", got, want)
	}
	if got[0].NearQuota() || !got[1].NearQuota() {
		t.Errorf("NearQuota = %t, %t; want false, true (170/200 keys)", got[0].NearQuota(), got[1].NearQuota())
	}
	if (KeyUser{QuotaBytes: 16000, MaxBytes: 20000}).NearQuota() != true {
		t.Errorf("80%% of maxbytes is near the quota")
	}
	for _, bad := range []string{"0: 9 8/8 3/1000000", "x: 9 8/8 3/1 5/6", "0: 9 8-8 3/1 5/6", "0 9 8/8 3/1 5/6"} {
		if _, err := ParseKeyUsers([]byte(bad)); err == nil {
			t.Errorf("ParseKeyUsers(%q) accepted it", bad)
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
