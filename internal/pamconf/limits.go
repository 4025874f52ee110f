package pamconf

import (
	"fmt"
	"path"

	"pam_keyinit_go/internal/limitsconf"
	"pam_keyinit_go/internal/runtimefloor"
)

// LimitsModule is Linux-PAM's module that sets resource limits with
// setrlimit in the process it runs in: the login process, the one in which
// pam_keyinit_go.so starts its Go runtime.
const LimitsModule = "pam_limits.so"

// runtimeLimits compares the as and data limits that the session stack's
// pam_limits.so lines set with what pam_keyinit_go.so's Go runtime needs
// (runtimefloor). Before the module's line, a limit below that makes the
// module refuse to start the runtime. After it, the runtime has started,
// but a limit below what the process then holds still makes the process's
// later mappings fail. A stack limit never matters here: glibc sizes thread
// stacks from the limit the process started with, before any PAM module.
// pam_keyinit.so lines are not judged: the C module starts no runtime.
func (c Checker) runtimeLimits(svc Service) []Finding {
	if c.Limits == nil {
		return nil
	}
	stack := svc.Stack("session")
	keyinit := -1
	for i, e := range stack {
		if path.Base(e.Module) == GoModule {
			keyinit = i
			break
		}
	}
	if keyinit < 0 {
		return nil
	}
	var fs []Finding
	for i, e := range stack {
		if path.Base(e.Module) != LimitsModule {
			continue
		}
		entries, err := c.Limits.Load(e.Args)
		if err != nil {
			fs = append(fs, Finding{Pos: e.Pos, Severity: Warning, Code: CodeLowLimit, Service: svc.Name,
				Message: fmt.Sprintf("service %s: cannot read the limits %s sets (%v): they are not checked against what %s needs",
					svc.Name, LimitsModule, err, GoModule)})
			continue
		}
		for _, l := range entries {
			if f, ok := lowLimit(svc.Name, e, stack[keyinit], l, i < keyinit); ok {
				fs = append(fs, f)
			}
		}
	}
	return fs
}

// lowLimit is the finding for one limits entry l of the pam_limits line
// lim, which runs before or after the keyinit line.
func lowLimit(service string, lim, keyinit Entry, l limitsconf.Entry, before bool) (Finding, bool) {
	lo, needed := runtimeNeed(l.Item)
	if !needed || l.Domain.Kind == limitsconf.LoginGroup || !l.Soft() && !l.Hard() {
		return Finding{}, false // not an item the runtime needs, or a line pam_limits ignores
	}
	kib, unlimited, ok := l.Value.KiB()
	if !ok || unlimited || kib >= lo {
		return Finding{}, false
	}
	order := "after"
	if before {
		order = "before"
	}
	sets := fmt.Sprintf("service %s: %s (%s) runs %s %s and sets the %s %s limit of %s to %d KiB",
		service, LimitsModule, lim.Pos, order, GoModule, typeWords(l.Type), l.Item, l.Domain.Text, kib)
	raise := fmt.Sprintf("raise %s to at least %d KiB for %s", l.Item, lo, l.Domain.Text)
	effect := "the session gets no keyring"
	if failsOn(keyinit.Control, "session_err") {
		effect = fmt.Sprintf("under control %q the session fails to open", keyinit.Control)
	}
	refuses := "it then refuses to start its Go runtime (one log line), so " + effect
	f := Finding{Pos: Pos{l.File, l.Line}, Severity: Warning, Code: CodeLowLimit, Service: service}
	switch {
	case !before:
		f.Code = CodeLowLimitAfter
		f.Message = fmt.Sprintf("%s, below the %d KiB the login process holds once the module's Go runtime started: its later memory mappings fail (the runtime ends the process when one of its own does); %s",
			sets, lo, raise)
	default:
		f.Message = fmt.Sprintf("%s, below the %d KiB the module needs: %s; %s",
			sets, lo, refuses, raise)
	}
	return f, true
}

// runtimeNeed is the least a limits.conf item must be for the Go runtime,
// in KiB (unlimited always does): an absolute limit, holding the login
// process's own mappings too.
func runtimeNeed(item string) (lo uint64, needed bool) {
	switch item {
	case "as":
		return runtimefloor.AddressSpaceLimitKiB(), true
	case "data":
		return runtimefloor.DataLimitKiB(), true
	}
	return 0, false
}

// typeWords names the limits a line's type sets.
func typeWords(typ string) string {
	if typ == "-" {
		return "soft and hard"
	}
	return typ
}
