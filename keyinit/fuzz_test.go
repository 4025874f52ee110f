package keyinit

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// FuzzParseOptions: the arguments are the input split at NUL bytes (a pam.d
// argument cannot hold one). Known words set their flag, everything else is
// kept in order as unknown, and the log line stays one short, printable line.
func FuzzParseOptions(f *testing.F) {
	for _, seed := range []string{"", "force", "force\x00revoke\x00debug", "force=1", "\xff\xfe\x00revoke",
		strings.Repeat("x", 4096), strings.Repeat("a\x00", 300)} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		args := strings.Split(string(data), "\x00")
		o := ParseOptions(args)
		if o.Debug != slices.Contains(args, "debug") || o.Force != slices.Contains(args, "force") ||
			o.Revoke != slices.Contains(args, "revoke") {
			t.Errorf("ParseOptions(%q) = %+v: flags do not match the words", args, o)
		}
		var unknown []string
		for _, a := range args {
			if a != "debug" && a != "force" && a != "revoke" {
				unknown = append(unknown, a)
			}
		}
		if !slices.Equal(o.Unknown, unknown) {
			t.Errorf("ParseOptions(%q).Unknown = %q; want %q", args, o.Unknown, unknown)
		}
		msg := o.UnknownMessage()
		if (msg == "") != (len(unknown) == 0) {
			t.Fatalf("UnknownMessage = %q for unknown %q", msg, unknown)
		}
		if msg == "" {
			return
		}
		checkLogLine(t, msg)
		if !strings.HasPrefix(msg, "ignoring unknown option") || !strings.HasSuffix(msg, validTail) {
			t.Errorf("UnknownMessage = %q", msg)
		}
		for _, a := range unknown[:min(len(unknown), maxLoggedArgs)] {
			if q := quoteArg(a); !strings.Contains(msg, q) {
				t.Errorf("UnknownMessage %q does not name %s", msg, q)
			}
		}
		if n := len(unknown) - maxLoggedArgs; n > 0 && !strings.Contains(msg, fmt.Sprintf("(and %d more)", n)) {
			t.Errorf("UnknownMessage %q does not count the %d more", msg, n)
		}
	})
}
