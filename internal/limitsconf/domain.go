package limitsconf

import (
	"math"
	"strconv"
	"strings"
)

// DomainKind is whom a line is for.
type DomainKind int

const (
	User       DomainKind = iota // a user name
	Group                        // @group: the group's members
	Everyone                     // *
	LoginGroup                   // % or %group (%:gid): maxlogins only, pam_limits ignores other items on it
	UIDRange                     // min:max, min: or :uid (that one uid)
	GIDRange                     // @min:max or @min: (primary gid), @:gid (members of gid)
)

// Domain is a line's first field, as written and as pam_limits reads it.
type Domain struct {
	Text     string
	Kind     DomainKind
	Name     string // the user or group name; "" for ranges, * and %
	Min, Max uint32 // for ranges and %:gid; "min:" has Max math.MaxUint32
}

// parseDomain reads a domain; ok is false for a malformed range, which
// pam_limits skips with "invalid uid range".
func parseDomain(s string) (d Domain, ok bool) {
	d = Domain{Text: s}
	body := s
	switch {
	case s == "*":
		d.Kind = Everyone
		return d, true
	case strings.HasPrefix(s, "@"):
		d.Kind, body = Group, s[1:]
	case strings.HasPrefix(s, "%"):
		d.Kind, body = LoginGroup, s[1:]
	}
	lo, hi, isRange := strings.Cut(body, ":")
	if !isRange {
		d.Name = body
		return d, true
	}
	switch d.Kind {
	case User:
		d.Kind = UIDRange
	case Group:
		d.Kind = GIDRange
	}
	var err error
	if hi == "" { // "min:"
		d.Max = math.MaxUint32
		d.Min, err = parseID(lo)
		return d, err == nil
	}
	if d.Max, err = parseID(hi); err != nil {
		return d, false
	}
	if lo == "" { // ":id": that one id
		d.Min = d.Max
		return d, true
	}
	d.Min, err = parseID(lo)
	return d, err == nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}
