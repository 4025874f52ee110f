package pamconf

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Severity says whether a finding breaks what the admin meant (Error) or is
// a risk worth a look (Warning).
type Severity int

const (
	Warning Severity = iota
	Error
)

func (s Severity) String() string {
	if s == Error {
		return "error"
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

// Count returns the number of errors and warnings.
func Count(fs []Finding) (errors, warnings int) {
	for _, f := range fs {
		if f.Severity == Error {
			errors++
		} else {
			warnings++
		}
	}
	return errors, warnings
}
