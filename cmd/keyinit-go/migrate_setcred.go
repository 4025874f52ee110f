package main

// migrate --setcred-line: the auth line that makes the user's keyring at
// pam_setcred, added first in the auth stack of each service "check" warns
// about with keys-before-session.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"pam_keyinit_go/internal/pamconf"
)

// setcredLineText is pamconf.SetcredLine as it is written into a file.
const setcredLineText = "auth       optional     pam_keyinit_go.so force revoke\n"

// addSetcredLines changes plan (every target, as migrateText left it) in
// place. Services are looked at with the planned contents, files that other
// targets include first: a line added in su (or a shared file) then also
// serves su-l, which includes it, and su-l gets no second line.
func addSetcredLines(plan []migration, targets []checkTarget, pamDir string) {
	byPath := map[string]*migration{}
	for i := range plan {
		byPath[plan[i].path] = &plan[i]
	}
	read := func(p string) ([]byte, error) {
		if abs, err := filepath.Abs(realPath(p)); err == nil {
			if m, ok := byPath[abs]; ok {
				return m.after, nil
			}
		}
		return os.ReadFile(p)
	}
	loader := pamconf.Loader{Dir: pamDir, ReadFile: read, RealPath: realPath}
	type svcTarget struct {
		t        checkTarget
		path     string
		included int // how many other targets' stacks read this file
	}
	var order []svcTarget
	for _, t := range targets {
		p, err := filepath.Abs(realPath(t.file))
		if err != nil || byPath[p] == nil || byPath[p].authselect {
			continue // authselect's files: the services that include them get the line
		}
		order = append(order, svcTarget{t: t, path: p})
	}
	for i := range order {
		svc, _ := loader.Load(order[i].t.name, order[i].t.file)
		files := map[string]bool{}
		for _, e := range svc.Entries {
			if abs, err := filepath.Abs(e.Pos.File); err == nil {
				files[abs] = true
			}
		}
		for j := range order {
			if j != i && files[order[j].path] {
				order[j].included++
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].included > order[j].included })
	for _, o := range order {
		svc, _ := loader.Load(o.t.name, o.t.file)
		if len(pamconf.KeysBeforeSession(svc)) == 0 {
			continue
		}
		m := byPath[o.path]
		after, note := insertSetcredLine(m.name, m.after)
		m.after = after
		m.notes = append(m.notes, note)
	}
}

// insertSetcredLine puts the line before the first line of data that is in
// or may pull in the auth stack ("auth ...", "-auth ...", "@include").
func insertSetcredLine(file string, data []byte) ([]byte, migrateNote) {
	placed, _ := pamconf.ParsePlaced(file, data)
	start, end := managedLines(data)
	for _, p := range placed {
		if p.Type != "auth" && p.Include == "" {
			continue
		}
		if p.Pos.Line > start && p.Pos.Line < end {
			// Not "left": the services that include this file get the
			// line in their own files (when check warns about them).
			return data, migrateNote{p.Pos, fmt.Sprintf("not added here: %q would go first in the auth stack, inside pam-auth-update's managed block, "+
				"which pam-auth-update rewrites; the services that include this file get it instead", pamconf.SetcredLine), false}
		}
		at := lineOffset(data, p.Pos.Line)
		out := append(append(append([]byte(nil), data[:at]...), setcredLineText...), data[at:]...)
		return out, migrateNote{p.Pos, fmt.Sprintf("added %q before this line, first in the auth stack: "+
			"keys stored at pam_setcred go into the user's new keyring (keys-before-session)", pamconf.SetcredLine), false}
	}
	return data, migrateNote{pamconf.Pos{File: file, Line: 1}, fmt.Sprintf("not added: no auth line to put %q before", pamconf.SetcredLine), true}
}

// lineOffset is the byte offset of physical line n (1-based) of data.
func lineOffset(data []byte, n int) int {
	off := 0
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(data[off:], '\n')
		if j < 0 {
			return len(data)
		}
		off += j + 1
	}
	return off
}
