package main

import (
	"os"
	"path/filepath"
	"sort"

	"pam_keyinit_go/internal/limitsconf"
	"pam_keyinit_go/internal/pamconf"
	"pam_keyinit_go/internal/trust"
)

// runCheck is "keyinit-go check"; usage.go has its help.
func runCheck(c *cmdline, args []string) int {
	jsonOut := c.jsonFlag()
	strict := c.flags.Bool("strict", false, "exit 1 on warnings too")
	dirs := c.pamFlags("where services and relative includes are, as `DIR` for libpam",
		"the system PAM module `DIR` for relative module names (default: found by looking for pam_permit.so)")
	limitsFile := c.flags.String("limits", limitsconf.DefaultFile,
		"pam_limits.so's main `FILE` for its lines without conf=; the limits.d directory beside it is read too")
	stateDir := c.flags.String("state-dir", defaultStateDir, stateDirHelp)
	pos, code, ok := c.parse(args, nil)
	if !ok {
		return code
	}
	targets, err := dirs.targets(pos)
	if err != nil {
		return c.fail(err)
	}

	limits := &limitsconf.Loader{Main: *limitsFile, ReadFile: os.ReadFile, Glob: filepath.Glob}
	rep := checkAll(targets, *dirs.pamDir, *dirs.moduleDir, limits, os.ReadFile)
	rep.addFindings(authselectUndone(*stateDir, *dirs.pamDir))

	printReport(c.stdout, *jsonOut, &rep)
	if rep.Errors > 0 || *strict && rep.Warnings > 0 {
		return exitFindings
	}
	return exitOK
}

// checkAll checks the targets, reading pam.d files with read: os.ReadFile,
// or for "migrate --apply" the files as they would be after the change.
// limits reads pam_limits' files; nil skips the rule that needs them.
func checkAll(targets []checkTarget, pamDir, moduleDir string, limits *limitsconf.Loader, read func(string) ([]byte, error)) checkReport {
	rep := checkReport{PamDir: pamDir, ModuleDir: moduleDir, Services: []string{}, Lines: []keyinitLine{}}
	if limits != nil {
		rep.LimitsFile = limits.Main
	}
	loader := pamconf.Loader{Dir: pamDir, ReadFile: read, RealPath: realPath}
	checker := pamconf.Checker{ModuleDir: moduleDir, Exists: fileExists, Trust: trust.Core, Limits: limits}
	lines := map[pamconf.Pos]*keyinitLine{}
	var findings []pamconf.Finding
	for _, t := range targets {
		svc, fs := loader.Load(t.name, t.file)
		findings = append(findings, fs...)
		findings = append(findings, checker.Check(svc)...)
		rep.Services = append(rep.Services, t.name)
		for _, e := range svc.Entries {
			if !pamconf.IsKeyinit(e.Module) {
				continue
			}
			l := lines[e.Pos]
			if l == nil {
				l = &keyinitLine{Pos: e.Pos, Text: e.Text()}
				lines[e.Pos] = l
			}
			if n := len(l.Services); n == 0 || l.Services[n-1] != t.name {
				l.Services = append(l.Services, t.name)
			}
		}
	}
	for _, l := range lines {
		rep.Lines = append(rep.Lines, *l)
	}
	sort.Slice(rep.Lines, func(i, j int) bool {
		a, b := rep.Lines[i].Pos, rep.Lines[j].Pos
		return a.File < b.File || a.File == b.File && a.Line < b.Line
	})
	rep.Findings = pamconf.Tidy(findings)
	if rep.Findings == nil {
		rep.Findings = []pamconf.Finding{}
	}
	rep.Errors, rep.Warnings = pamconf.Count(rep.Findings)
	rep.Infos = pamconf.Infos(rep.Findings)

	return rep
}
