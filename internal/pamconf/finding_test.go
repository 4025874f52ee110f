package pamconf

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSeverityJSON(t *testing.T) {
	b, err := json.Marshal([]Severity{Error, Warning, Info})
	if err != nil || string(b) != `["error","warning","info"]` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back []Severity
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 3 || back[0] != Error || back[1] != Warning || back[2] != Info {
		t.Errorf("Unmarshal = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`"fatal"`), new(Severity)); err == nil {
		t.Errorf("Unmarshal accepted an unknown severity")
	}
}

// Contradictions finds what check reported for Fedora's sshd before the
// stack was judged as a whole: no-force on the line it called a duplicate.
func TestContradictionsFound(t *testing.T) {
	p := Pos{"/etc/authselect/password-auth", 27}
	fs := []Finding{
		{Pos: p, Severity: Warning, Code: CodeDuplicate, Service: "sshd"},
		{Pos: p, Severity: Warning, Code: CodeNoForce, Service: "sshd"},
		{Pos: p, Severity: Warning, Code: CodeDuplicate, Service: "remote"},
		{Pos: Pos{"x", 1}, Severity: Warning, Code: CodeNoRevoke, Service: "login"},
		{Pos: Pos{"x", 1}, Severity: Error, Code: CodeNoRevoke, Service: "login"},
		{Pos: Pos{"x", 2}, Severity: Warning, Code: CodeAfterKeys, Service: "a"},
		{Pos: Pos{"x", 2}, Severity: Info, Code: CodeDuplicate, Service: "b"}, // another service
	}
	got := Contradictions(fs)
	if len(got) != 2 || !strings.Contains(got[0], "password-auth:27 (service sshd): duplicate and no-force") ||
		!strings.Contains(got[1], "x:1 (service login): no-revoke both as warning and as error") {
		t.Errorf("Contradictions = %q", got)
	}
}
