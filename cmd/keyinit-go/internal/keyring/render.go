package keyring

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Render writes a key tree, one key per line, links indented under their
// keyring:
//
//	612393 keyring _ses  owner alice (uid 1001) gid 1001 perm 3f030000 (possessor=alswrv ...)
//	  \_ 12066 keyring _uid.1001  owner alice (uid 1001) ...
func Render(w io.Writer, k Key, indent string) {
	renderAt(w, k, indent, 0)
}

func renderAt(w io.Writer, k Key, indent string, level int) {
	prefix := indent
	if level > 0 {
		prefix += strings.Repeat("   ", level-1) + "\\_ "
	}
	fmt.Fprintf(w, "%s%s\n", prefix, Line(k))
	for _, l := range k.Links {
		renderAt(w, l, indent, level+1)
	}
}

// Line is one key on one line.
func Line(k Key) string {
	switch {
	case k.Revoked:
		return fmt.Sprintf("%d (revoked)", k.Serial)
	case k.Error != "" && k.Type == "":
		return fmt.Sprintf("%d (%s)", k.Serial, k.Error)
	}
	s := fmt.Sprintf("%d %s \"%s\"  owner %s gid %d perm %s (%s)", k.Serial, Escape(k.Type), Escape(k.Name), k.Who(), k.GID, k.Perm, k.PermText)
	if k.Error != "" {
		s += " (" + k.Error + ")"
	}
	return s
}

// Escape is how every report shows a name it did not choose (a key's name
// or type, which any process may set, or a user name): as a Go string
// literal without its quotes, so that control characters, invalid UTF-8,
// backslashes and quotes come out escaped ("\x1b", "\n") and a name can
// neither draw a line of its own nor talk to the terminal. A plain name
// stays as it is.
func Escape(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
