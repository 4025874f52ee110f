package limitsconf

import (
	"math"
	"strconv"
)

// Value is a line's value as written, lower-cased as pam_limits does.
type Value string

// KiB reads v as pam_limits reads a size item (fsize, data, stack, core,
// rss, memlock, as), which it takes in KiB and multiplies by 1024: "-1",
// "-", "unlimited" and "infinity" are unlimited; otherwise strtoull's
// reading, so a negative number wraps and a number too large for bytes is
// unlimited too, and "600000k" is 600000. ok is false for a value without
// digits, on which pam_limits skips the line.
func (v Value) KiB() (kib uint64, unlimited, ok bool) {
	switch v {
	case "-1", "-", "unlimited", "infinity":
		return 0, true, true
	}
	s, neg := string(v), false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s, neg = s[1:], s[0] == '-'
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 0 {
		return 0, false, false
	}
	kib, err := strconv.ParseUint(s[:n], 10, 64)
	if err != nil || neg && kib != 0 || kib >= math.MaxUint64/1024 {
		return 0, true, true
	}
	return kib, false, true
}
