package keyinit

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    Options
		unknown []string
	}{
		{nil, Options{}, nil},
		{[]string{"debug"}, Options{Debug: true}, nil},
		{[]string{"force", "revoke"}, Options{Force: true, Revoke: true}, nil},
		{[]string{"revoke", "revoke", "debug", "force"}, Options{Debug: true, Force: true, Revoke: true}, nil},
		// Exact matches only, as pam_keyinit.so: these are all unknown.
		{[]string{"force=1", "Force", " force", "force ", "", "revoke\x00", "debug=yes"}, Options{},
			[]string{"force=1", "Force", " force", "force ", "", "revoke\x00", "debug=yes"}},
		{[]string{"x", "force", "y"}, Options{Force: true}, []string{"x", "y"}},
	} {
		got := ParseOptions(tc.args)
		if got.Debug != tc.want.Debug || got.Force != tc.want.Force || got.Revoke != tc.want.Revoke {
			t.Errorf("ParseOptions(%q) = %+v; want %+v", tc.args, got, tc.want)
		}
		if !slices.Equal(got.Unknown, tc.unknown) {
			t.Errorf("ParseOptions(%q).Unknown = %q; want %q", tc.args, got.Unknown, tc.unknown)
		}
	}
}

const validTail = "; valid options are debug, force and revoke: fix the module line in /etc/pam.d"

func TestUnknownMessage(t *testing.T) {
	long := strings.Repeat("a", 4096)
	many := make([]string, 500)
	for i := range many {
		many[i] = "opt"
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"none", []string{"force", "revoke", "debug"}, ""},
		{"empty list", nil, ""},
		{"one", []string{"bogus"}, `ignoring unknown option "bogus"` + validTail},
		{"force=1", []string{"force=1", "force"}, `ignoring unknown option "force=1"` + validTail},
		{"empty string", []string{""}, `ignoring unknown option ""` + validTail},
		{"two", []string{"a", "force", "b"}, `ignoring unknown options "a", "b"` + validTail},
		// The limit itself is not cut; one byte more is.
		{"48 bytes", []string{long[:48]}, `ignoring unknown option "` + long[:48] + `"` + validTail},
		{"49 bytes", []string{long[:49]}, `ignoring unknown option "` + long[:48] + `"... (49 bytes)` + validTail},
		{"4 KiB", []string{long}, `ignoring unknown option "` + strings.Repeat("a", 48) + `"... (4096 bytes)` + validTail},
		{"many", many, `ignoring unknown options "opt", "opt", "opt", "opt" (and 496 more)` + validTail},
		{"non-UTF-8", []string{"\xff\xfe", "caf\xc3"}, `ignoring unknown options "\xff\xfe", "caf\xc3"` + validTail},
		{"control characters", []string{"a\nb\rc\x00d\x1b[31m"}, `ignoring unknown option "a\nb\rc\x00d\x1b[31m"` + validTail},
		{"multi-byte cut at 48 bytes", []string{strings.Repeat("é", 30)},
			`ignoring unknown option "` + strings.Repeat("é", 24) + `"... (60 bytes)` + validTail},
		{"cut inside a rune", []string{"x" + strings.Repeat("é", 30)},
			`ignoring unknown option "x` + strings.Repeat("é", 23) + `\xc3"... (61 bytes)` + validTail},
	} {
		got := ParseOptions(tc.args).UnknownMessage()
		if got != tc.want {
			t.Errorf("%s: UnknownMessage = %q; want %q", tc.name, got, tc.want)
		}
		checkLogLine(t, got)
	}
}

// checkLogLine: one short line of valid UTF-8 without control characters.
func checkLogLine(t *testing.T, msg string) {
	t.Helper()
	if !utf8.ValidString(msg) {
		t.Errorf("message is not valid UTF-8: %q", msg)
	}
	if strings.IndexFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		t.Errorf("message has control characters: %q", msg)
	}
	if len(msg) > maxMessageLen {
		t.Errorf("message is %d bytes; want at most %d", len(msg), maxMessageLen)
	}
}

// maxMessageLen bounds UnknownMessage: 4 arguments of at most 48 bytes,
// each byte escaped to at most 4 characters, plus the fixed text.
const maxMessageLen = 64 + maxLoggedArgs*(4*maxLoggedArgLen+32) + 32 + len(validTail)
