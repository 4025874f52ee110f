package pamconf

import (
	"encoding/json"
	"testing"
)

func TestSeverityJSON(t *testing.T) {
	b, err := json.Marshal([]Severity{Error, Warning})
	if err != nil || string(b) != `["error","warning"]` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back []Severity
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 2 || back[0] != Error || back[1] != Warning {
		t.Errorf("Unmarshal = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`"fatal"`), new(Severity)); err == nil {
		t.Errorf("Unmarshal accepted an unknown severity")
	}
}
