// Package limitsconf reads pam_limits.so's configuration (limits.conf(5))
// the way Linux-PAM's pam_limits does, so that "keyinit-go check" can see
// which resource limits a pam_limits.so line sets on the login process. It
// matches no user: it returns every line pam_limits would act on for some
// user, with its file and line. Its only I/O is through the functions its
// Loader is given, so it is tested on fixtures.
package limitsconf

import "strings"

// Entry is one line "<domain> <type> <item> <value>", or a no-limits line
// "<domain> -" (Item ""): pam_limits stops reading at one that matches the
// user and sets no limit at all.
type Entry struct {
	File   string
	Line   int
	Domain Domain
	Type   string // soft, hard or "-" (both), lower case as pam_limits compares it
	Item   string // as, data, stack, nofile, ..., lower case; "" on a no-limits line
	Value  Value
}

// Soft and Hard say which limit the line sets. pam_limits lowers a soft
// limit above the hard one to it, so a low hard limit is a low soft one too.
func (e Entry) Soft() bool { return e.Type == "soft" || e.Type == "-" }
func (e Entry) Hard() bool { return e.Type == "hard" || e.Type == "-" }

// NoLimits says whether the line is "<domain> -".
func (e Entry) NoLimits() bool { return e.Item == "" }

// Parse reads one file. Like pam_limits it cuts each line at '#', takes
// the first four blank-separated fields (more are ignored), lower-cases
// type, item and value, and skips lines it would skip: fewer than four
// fields (except "<domain> -"), and domains with a malformed uid or gid
// range.
func Parse(file string, data []byte) []Entry {
	var out []Entry
	for i, line := range strings.Split(string(data), "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		d, ok := parseDomain(f[0])
		if !ok {
			continue
		}
		e := Entry{File: file, Line: i + 1, Domain: d}
		switch {
		case len(f) >= 4:
			e.Type, e.Item, e.Value = strings.ToLower(f[1]), strings.ToLower(f[2]), Value(strings.ToLower(f[3]))
		case len(f) == 2 && strings.HasPrefix(f[1], "-"):
			e.Type = "-"
		default:
			continue
		}
		out = append(out, e)
	}
	return out
}
