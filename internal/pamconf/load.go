package pamconf

import (
	"fmt"
	"path/filepath"
)

// Entry is a line of a service's flattened stack, with the include lines
// that led to it (outermost first).
type Entry struct {
	Line
	Via      []Pos
	Substack bool // reached through a "substack" control
}

// Service is one service file with its includes followed.
type Service struct {
	Name    string
	File    string
	Entries []Entry // every module line, in order, of every type
	// Generated: the files read (as in Pos.File) that a tool writes and
	// rewrites (authselect's system-auth, pam-config's common-session-pc).
	Generated map[string]Generator
}

// Stack is the service's lines of one type, in the order libpam runs them.
func (s Service) Stack(typ string) []Entry {
	var out []Entry
	for _, e := range s.Entries {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// Loader reads services and the files they include.
type Loader struct {
	// Dir is where relative include names resolve, as in libpam: /etc/pam.d,
	// or the directory given to pam_start_confdir.
	Dir string
	// ReadFile reads a file (os.ReadFile outside tests).
	ReadFile func(path string) ([]byte, error)
	// RealPath, if set, resolves symbolic links, so that findings name the
	// file an admin edits (Fedora's system-auth is a link to system-auth-ac).
	RealPath func(path string) string
}

const maxIncludeDepth = 16

// Load reads the service file and everything it includes. Problems with the
// files themselves (syntax, missing includes, loops) come back as findings.
func (l Loader) Load(name, file string) (Service, []Finding) {
	svc := Service{Name: name, File: file, Generated: map[string]Generator{}}
	var fs []Finding
	l.load(&svc, &fs, file, "", nil, false)
	return svc, adviseGenerated(svc.Generated, fs)
}

// load appends the lines of file of type typ ("" for all types) to svc.
func (l Loader) load(svc *Service, fs *[]Finding, file, typ string, via []Pos, substack bool) {
	if l.RealPath != nil {
		file = l.RealPath(file)
	}
	data, err := l.ReadFile(file)
	if err != nil {
		if len(via) == 0 {
			*fs = append(*fs, Finding{Pos: Pos{file, 0}, Severity: Error, Code: CodeInclude,
				Message: fmt.Sprintf("cannot read the service file: %v", err)})
		}
		return // the include line reports it
	}
	if g := GeneratedBy(file, data); g != "" {
		svc.Generated[file] = g
	}
	lines, bad := Parse(file, data)
	*fs = append(*fs, bad...)
	for _, ln := range lines {
		if typ != "" && ln.Include == "" && ln.Type != typ {
			continue
		}
		target, ok := ln.IncludesFile()
		if !ok {
			svc.Entries = append(svc.Entries, Entry{Line: ln, Via: via, Substack: substack})
			continue
		}
		path := target
		if !filepath.IsAbs(path) {
			path = filepath.Join(l.Dir, target)
		}
		sub := typ
		if ln.Include == "" {
			sub = ln.Type // "TYPE include X" takes only X's lines of TYPE
		}
		switch {
		case loops(via, path, file):
			*fs = append(*fs, Finding{Pos: ln.Pos, Severity: Error, Code: CodeInclude,
				Message: fmt.Sprintf("%s includes itself%s: libpam stops at its depth limit; remove the loop", path, chain(via))})
		case len(via) >= maxIncludeDepth:
			*fs = append(*fs, Finding{Pos: ln.Pos, Severity: Error, Code: CodeInclude,
				Message: "includes nested too deep: flatten them"})
		default:
			if _, err := l.ReadFile(path); err != nil {
				*fs = append(*fs, Finding{Pos: ln.Pos, Severity: Error, Code: CodeInclude,
					Message: fmt.Sprintf("cannot read included file %s: %v; libpam fails the calls of this service: create it or remove the line", path, err)})
				continue
			}
			l.load(svc, fs, path, sub, append(append([]Pos(nil), via...), ln.Pos), substack || ln.Control == "substack")
		}
	}
}

// loops says whether including path from file (reached through via) loops.
func loops(via []Pos, path, file string) bool {
	if path == file {
		return true
	}
	for _, p := range via {
		if p.File == path {
			return true
		}
	}
	return false
}

func chain(via []Pos) string {
	if len(via) == 0 {
		return ""
	}
	s := " (through "
	for i, p := range via {
		if i > 0 {
			s += " -> "
		}
		s += p.String()
	}
	return s + ")"
}
