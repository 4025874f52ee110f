package limitsconf

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

// short is an entry as "line domain(kind name min-max) type item value".
func short(e Entry) string {
	return fmt.Sprintf("%d %s(%d %s %d-%d) %s %s %s", e.Line, e.Domain.Text, e.Domain.Kind, e.Domain.Name,
		e.Domain.Min, e.Domain.Max, e.Type, e.Item, e.Value)
}

func TestParseFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/limits.conf")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range Parse("limits.conf", data) {
		if e.File != "limits.conf" {
			t.Errorf("line %d: file %q", e.Line, e.File)
		}
		got = append(got, short(e))
	}
	max := fmt.Sprint(uint32(math.MaxUint32))
	want := []string{
		"3 *(2  0-0) soft core 0",
		"4 alice(0 alice 0-0) hard as 600000",
		"5 @staff(1 staff 0-0) soft data unlimited",
		"6 %(3  0-0) - maxlogins 10",
		"7 %admins(3 admins 0-0) hard as 1",
		"8 1000:2000(4  1000-2000) - stack 8192",
		"9 :1500(4  1500-1500) soft nofile -1",
		"10 1000:(4  1000-" + max + ") hard nproc infinity",
		"11 @500:600(5  500-600) hard rss 10000",
		"12 @:27(5  27-27) soft memlock 64",
		"13 %:4(3  4-4) - maxlogins 2",
		"14 bob(0 bob 0-0) -  ",
		"15 carol(0 carol 0-0) hard as 700000k",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEntrySoftHardNoLimits(t *testing.T) {
	for _, tc := range []struct {
		line             string
		soft, hard, none bool
	}{
		{"a soft as 1", true, false, false},
		{"a hard as 1", false, true, false},
		{"a - as 1", true, true, false},
		{"a both as 1", false, false, false}, // pam_limits skips an unknown type
		{"a -", true, true, true},
	} {
		es := Parse("f", []byte(tc.line))
		if len(es) != 1 {
			t.Fatalf("%q: %d entries", tc.line, len(es))
		}
		if e := es[0]; e.Soft() != tc.soft || e.Hard() != tc.hard || e.NoLimits() != tc.none {
			t.Errorf("%q: soft %v hard %v no-limits %v", tc.line, e.Soft(), e.Hard(), e.NoLimits())
		}
	}
}
