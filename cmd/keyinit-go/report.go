package main

import (
	"encoding/json"
	"io"
)

// textReport is a command's report; its JSON form is the --json output.
type textReport interface {
	writeText(w io.Writer)
}

// printReport prints r as indented JSON with --json, else as text.
func printReport(w io.Writer, asJSON bool, r textReport) {
	if !asJSON {
		r.writeText(w)
		return
	}
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	e.Encode(r)
}
