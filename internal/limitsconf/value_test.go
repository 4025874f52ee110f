package limitsconf

import "testing"

func TestValueKiB(t *testing.T) {
	for _, tc := range []struct {
		v         Value
		kib       uint64
		unlimited bool
		ok        bool
	}{
		{"600000", 600000, false, true},
		{"0", 0, false, true},
		{"+5", 5, false, true},
		{"700000k", 700000, false, true}, // strtoull stops at the k
		{"-1", 0, true, true},
		{"-", 0, true, true},
		{"unlimited", 0, true, true},
		{"infinity", 0, true, true},
		{"-5", 0, true, true},                      // wraps to near 2^64
		{"18014398509481984", 0, true, true},       // 2^54: its bytes do not fit
		{"99999999999999999999999", 0, true, true}, // strtoull's ULLONG_MAX
		{"lots", 0, false, false},
		{"", 0, false, false},
	} {
		kib, unl, ok := tc.v.KiB()
		if kib != tc.kib || unl != tc.unlimited || ok != tc.ok {
			t.Errorf("Value(%q).KiB() = %d, %v, %v; want %d, %v, %v", tc.v, kib, unl, ok, tc.kib, tc.unlimited, tc.ok)
		}
	}
}
