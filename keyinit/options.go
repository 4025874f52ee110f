package keyinit

import (
	"strconv"
	"strings"
)

// Options are the module arguments of one pam.d line.
type Options struct {
	Debug  bool // log each step at LOG_DEBUG
	Force  bool // make a new session keyring even if one is already set
	Revoke bool // revoke the keyring this module made when the session closes

	// Unknown holds the arguments that are none of the above, in order.
	// pam_keyinit.so ignores them silently; we ignore them too, but say so.
	Unknown []string
}

// ParseOptions reads module arguments. Matching is exact, as in pam_keyinit.so:
// "force=1" or "Force" is not "force".
func ParseOptions(args []string) Options {
	var o Options
	for _, a := range args {
		switch a {
		case "debug":
			o.Debug = true
		case "force":
			o.Force = true
		case "revoke":
			o.Revoke = true
		default:
			o.Unknown = append(o.Unknown, a)
		}
	}
	return o
}

// Limits on how much of the unknown arguments goes into one log line, so a
// pam.d line with 4 KiB arguments or hundreds of words still logs one short line.
const (
	maxLoggedArgs   = 4
	maxLoggedArgLen = 48
)

// UnknownMessage is the one log line for unknown arguments, or "" if none.
// Arguments are quoted with Go escaping, so non-UTF-8 bytes and control
// characters cannot forge log content.
func (o Options) UnknownMessage() string {
	if len(o.Unknown) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("ignoring unknown option")
	if len(o.Unknown) > 1 {
		b.WriteString("s")
	}
	for i, a := range o.Unknown {
		if i == maxLoggedArgs {
			b.WriteString(" (and " + strconv.Itoa(len(o.Unknown)-i) + " more)")
			break
		}
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(" ")
		b.WriteString(quoteArg(a))
	}
	b.WriteString("; valid options are debug, force and revoke: fix the module line in /etc/pam.d")
	return b.String()
}

func quoteArg(a string) string {
	if len(a) <= maxLoggedArgLen {
		return strconv.Quote(a)
	}
	return strconv.Quote(a[:maxLoggedArgLen]) + "... (" + strconv.Itoa(len(a)) + " bytes)"
}
