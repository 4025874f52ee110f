package main

import (
	"fmt"
	"io"
	"strings"

	"pam_keyinit_go/internal/pamconf"
)

// checkReport is what "check" prints; its JSON form is the --json output.
type checkReport struct {
	PamDir     string            `json:"pam_dir"`
	ModuleDir  string            `json:"module_dir"`
	LimitsFile string            `json:"limits_file,omitempty"` // pam_limits' main file (--limits)
	Services   []string          `json:"services"`
	Lines      []keyinitLine     `json:"lines"` // every keyinit line seen
	Findings   []pamconf.Finding `json:"findings"`
	Errors     int               `json:"errors"`
	Warnings   int               `json:"warnings"`
	Infos      int               `json:"infos"` // worth knowing, nothing to do; --strict ignores them
}

type keyinitLine struct {
	Pos      pamconf.Pos `json:"pos"`
	Text     string      `json:"text"`
	Services []string    `json:"services"`
}

func (r *checkReport) writeText(w io.Writer) {
	if len(r.Lines) == 0 {
		fmt.Fprintf(w, "no pam_keyinit.so or pam_keyinit_go.so line in %d service(s) (%s)\n", len(r.Services), strings.Join(r.Services, ", "))
	} else {
		fmt.Fprintln(w, "keyinit lines:")
		for _, l := range r.Lines {
			fmt.Fprintf(w, "  %s: %s   (services: %s)\n", l.Pos, l.Text, strings.Join(l.Services, ", "))
		}
	}
	if len(r.Findings) > 0 {
		fmt.Fprintln(w, "findings:")
		for _, f := range r.Findings {
			fmt.Fprintln(w, f)
		}
	}
	infos := ""
	if r.Infos > 0 {
		infos = fmt.Sprintf(", %d info(s)", r.Infos)
	}
	fmt.Fprintf(w, "%d error(s), %d warning(s)%s in %d keyinit line(s) of %d service(s)\n",
		r.Errors, r.Warnings, infos, len(r.Lines), len(r.Services))
}
