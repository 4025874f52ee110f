package pamconf

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Severity says whether a finding breaks what the admin meant (Error), is
// a risk the admin should act on (Warning), or is only worth knowing, with
// nothing to do (Info: never counted by --strict).
type Severity int

const (
	Warning Severity = iota
	Error
	Info
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Info:
		return "info"
	}
	return "warning"
}

func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

func (s *Severity) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v {
	case "error":
		*s = Error
	case "warning":
		*s = Warning
	case "info":
		*s = Info
	default:
		return fmt.Errorf("unknown severity %q", v)
	}
	return nil
}

// Finding is one thing wrong or risky, at the line that causes it.
type Finding struct {
	Pos      Pos      `json:"pos"`
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`              // short, stable name of the rule
	Service  string   `json:"service,omitempty"` // the service whose stack shows it, for rules that depend on it
	Message  string   `json:"message"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s: %s [%s]", f.Pos, f.Severity, f.Message, f.Code)
}

// Finding codes.
const (
	CodeSyntax        = "syntax"
	CodeInclude       = "include"
	CodeUnknownOption = "unknown-option"
	CodeWrongStack    = "wrong-stack"
	CodeModuleMissing = "module-missing"
	CodeUntrusted     = "untrusted-core" // a root host refuses to load the Go core
	CodeAfterKeys     = "after-key-module"
	CodeBothModules   = "c-and-go"
	CodeDuplicate     = "duplicate"
	CodeNoRevoke      = "no-revoke"
	CodeNoForce       = "no-force"
	CodeLowLimit      = "low-limit"       // pam_limits before the line: the module refuses
	CodeLowLimitAfter = "low-limit-after" // pam_limits after it: the process's mappings fail
	// A module stores keys at setcred with no pam_keyinit_go.so auth line before it.
	CodeKeysBeforeSession = "keys-before-session"
	// A keyinit line in a file a tool writes again from its own list of
	// modules, which drops the line (openSUSE's pam-config: generated.go).
	CodeGenerated = "generated-file"
)

// Tidy sorts findings by file, line and code and drops repeats: a line in
// common-session is reached from many services.
func Tidy(fs []Finding) []Finding {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		return a.Service < b.Service
	})
	var out []Finding
	seen := make(map[Finding]bool)
	for _, f := range fs {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// Count returns the number of errors and warnings (infos are neither).
func Count(fs []Finding) (errors, warnings int) {
	for _, f := range fs {
		switch f.Severity {
		case Error:
			errors++
		case Warning:
			warnings++
		}
	}
	return errors, warnings
}

// Infos returns the number of infos.
func Infos(fs []Finding) int {
	n := 0
	for _, f := range fs {
		if f.Severity == Info {
			n++
		}
	}
	return n
}

// Codes of findings that presume their line makes the session keyring of
// the service they name: no-force and no-revoke ask for an option so that
// the keyring it makes is right, after-key-module says the keyring it makes
// loses keys, c-and-go says it makes one beside the other module's.
var presumesKeyring = map[string]bool{CodeNoForce: true, CodeNoRevoke: true, CodeAfterKeys: true, CodeBothModules: true}

// Codes of findings that say their line makes no keyring of its own in the
// service they name.
var saysNoKeyring = map[string]bool{CodeDuplicate: true}

// Contradictions lists, one line each, the pairs of findings that
// contradict each other: at the same line and for the same service, one
// that presumes the line makes the session keyring and one that says it
// makes none of its own (a no-force warning on a line the same report
// calls a duplicate); or the same code at the same line, for the same
// service, at two severities. A report must have none.
func Contradictions(fs []Finding) []string {
	type at struct {
		pos     Pos
		service string
	}
	byLine := map[at][]Finding{}
	var keys []at
	for _, f := range fs {
		k := at{f.Pos, f.Service}
		if byLine[k] == nil {
			keys = append(keys, k)
		}
		byLine[k] = append(byLine[k], f)
	}
	var out []string
	for _, k := range keys {
		group := byLine[k]
		for i, a := range group {
			for _, b := range group[i+1:] {
				switch {
				case presumesKeyring[a.Code] && saysNoKeyring[b.Code], saysNoKeyring[a.Code] && presumesKeyring[b.Code]:
					out = append(out, fmt.Sprintf("%s (service %s): %s and %s: one presumes the line makes the keyring, the other says it makes none", k.pos, k.service, a.Code, b.Code))
				case a.Code == b.Code && a.Severity != b.Severity:
					out = append(out, fmt.Sprintf("%s (service %s): %s both as %s and as %s", k.pos, k.service, a.Code, a.Severity, b.Severity))
				}
			}
		}
	}
	return out
}
