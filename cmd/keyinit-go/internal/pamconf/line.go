// Package pamconf reads Linux-PAM service files (/etc/pam.d) the way libpam
// does, follows their includes, and says what is wrong or risky about the
// pam_keyinit.so and pam_keyinit_go.so lines in them. It does no I/O of its
// own beyond the file reader it is given, so it is tested on fixtures.
package pamconf

import (
	"fmt"
	"strings"
)

// Pos is a place in a pam.d file: the first physical line of a logical line.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Line is one logical line of a pam.d file.
type Line struct {
	Pos     Pos
	Include string   // for "@include NAME": NAME; the other fields are empty
	Type    string   // auth, account, password or session (lower case)
	Silent  bool     // written "-type": libpam skips the line quietly if the module is missing
	Control string   // "required", "include", ... (lower case) or "[value=action ...]" as written
	Module  string   // the module path, or the file an include/substack control names
	Args    []string // module arguments, brackets removed
}

// IncludesFile says whether the line pulls in another file, and which.
func (l Line) IncludesFile() (string, bool) {
	switch {
	case l.Include != "":
		return l.Include, true
	case l.Control == "include" || l.Control == "substack":
		return l.Module, true
	}
	return "", false
}

// Text is the line as a pam.d line, normalised to single spaces.
func (l Line) Text() string {
	if l.Include != "" {
		return "@include " + l.Include
	}
	t := l.Type
	if l.Silent {
		t = "-" + t
	}
	return strings.Join(append([]string{t, l.Control, l.Module}, l.Args...), " ")
}

var types = map[string]bool{"auth": true, "account": true, "password": true, "session": true}

var controls = map[string]bool{
	"required": true, "requisite": true, "sufficient": true, "optional": true,
	"include": true, "substack": true,
}

// Parse reads a pam.d file. Like libpam it drops everything from '#' to the
// end of a physical line, joins lines that end in '\\', and compares types and
// control keywords without regard to case. Lines libpam would reject come
// back as "syntax" findings.
func Parse(file string, data []byte) ([]Line, []Finding) {
	placed, bad := ParsePlaced(file, data)
	lines := make([]Line, 0, len(placed))
	for _, p := range placed {
		lines = append(lines, p.Line)
	}
	if len(lines) == 0 {
		lines = nil
	}
	return lines, bad
}

// Placed is a parsed line with the byte offset in the file of its module
// field as written (-1 for "@include" lines), so that a tool can change the
// module name and keep every other byte of the file.
type Placed struct {
	Line
	ModuleAt int
}

// ParsePlaced is Parse with the place of each module field.
func ParsePlaced(file string, data []byte) ([]Placed, []Finding) {
	var lines []Placed
	var bad []Finding
	for _, ll := range logicalLines(string(data)) {
		pos := Pos{file, ll.num}
		l, at, err := parseLine(ll.text)
		if err != "" {
			bad = append(bad, Finding{Pos: pos, Severity: Error, Code: "syntax",
				Message: err + ": libpam skips or fails this line; fix it (see pam.conf(5))"})
			continue
		}
		if l == nil {
			continue
		}
		l.Pos = pos
		p := Placed{Line: *l, ModuleAt: -1}
		if at >= 0 {
			p.ModuleAt = ll.fileOffset(at)
		}
		lines = append(lines, p)
	}
	return lines, bad
}

// logicalLine is a line as libpam sees it: comments cut, continuations
// joined, blanks trimmed. pieces map its bytes back to the file.
type logicalLine struct {
	num    int
	text   string
	pieces []piece
}

// piece: text[at:] starts with the file's bytes from off on.
type piece struct{ at, off int }

func (l logicalLine) fileOffset(i int) int {
	p := l.pieces[0]
	for _, q := range l.pieces {
		if q.at <= i {
			p = q
		}
	}
	return p.off + i - p.at
}

func logicalLines(s string) []logicalLine {
	var out []logicalLine
	var cur strings.Builder
	var pieces []piece
	start, off := 0, 0
	flush := func() {
		raw := cur.String()
		if t := strings.TrimSpace(raw); t != "" {
			lead := len(raw) - len(strings.TrimLeft(raw, " \t\r"))
			ps := make([]piece, len(pieces))
			for i, p := range pieces {
				ps[i] = piece{p.at - lead, p.off}
			}
			out = append(out, logicalLine{start, t, ps})
		}
		cur.Reset()
		pieces = nil
	}
	for i, phys := range strings.Split(s, "\n") {
		physOff := off
		off += len(phys) + 1
		if cur.Len() == 0 {
			start = i + 1
		}
		if j := strings.IndexByte(phys, '#'); j >= 0 {
			phys = phys[:j]
		}
		phys = strings.TrimRight(phys, " \t\r")
		pieces = append(pieces, piece{cur.Len(), physOff})
		if strings.HasSuffix(phys, "\\") {
			cur.WriteString(strings.TrimSuffix(phys, "\\"))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(phys)
		flush()
	}
	flush()
	return out
}

// parseLine returns nil for nothing to do, or a reason the line is bad;
// moduleAt is where in text the module field starts (-1 for none).
func parseLine(text string) (l *Line, moduleAt int, bad string) {
	toks, starts, err := tokens(text)
	if err != "" {
		return nil, -1, err
	}
	if len(toks) == 0 {
		return nil, -1, ""
	}
	if toks[0] == "@include" {
		if len(toks) != 2 {
			return nil, -1, "@include needs exactly one file name"
		}
		return &Line{Include: toks[1]}, -1, ""
	}
	l = &Line{Type: strings.ToLower(toks[0])}
	if strings.HasPrefix(l.Type, "-") {
		l.Silent, l.Type = true, l.Type[1:]
	}
	if !types[l.Type] {
		return nil, -1, fmt.Sprintf("unknown type %q (want auth, account, password or session)", toks[0])
	}
	if len(toks) < 3 {
		return nil, -1, "a line needs a type, a control and a module"
	}
	l.Control = toks[1]
	if !strings.HasPrefix(l.Control, "[") {
		l.Control = strings.ToLower(l.Control)
		if !controls[l.Control] {
			return nil, -1, fmt.Sprintf("unknown control %q", toks[1])
		}
	}
	l.Module = toks[2]
	for _, a := range toks[3:] {
		l.Args = append(l.Args, unbracket(a))
	}
	return l, starts[2], ""
}

// tokens splits on blanks, keeping "[...]" groups (which may hold blanks and
// "\]") whole, and where each starts.
func tokens(s string) (toks []string, starts []int, bad string) {
	var out []string
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			break
		}
		j := i
		if s[i] == '[' {
			for j++; j < len(s) && s[j] != ']'; j++ {
				if s[j] == '\\' && j+1 < len(s) && s[j+1] == ']' {
					j++
				}
			}
			if j == len(s) {
				return nil, nil, "a '[' without its ']'"
			}
			j++
		}
		for j < len(s) && s[j] != ' ' && s[j] != '\t' {
			j++
		}
		out = append(out, s[i:j])
		starts = append(starts, i)
		i = j
	}
	return out, starts, ""
}

// unbracket turns a module argument "[a b\]c]" into "a b]c", as libpam does.
func unbracket(a string) string {
	if len(a) < 2 || a[0] != '[' || a[len(a)-1] != ']' {
		return a
	}
	return strings.ReplaceAll(a[1:len(a)-1], "\\]", "]")
}
