package harness

import (
	"fmt"
	"os"
	"testing"
)

// Lacks stops a test this machine cannot run. Outside CI it skips, saying
// what the machine lacks. With CI set (.ci/run exports CI=true) it fails
// instead: CI is there to run every test, and a skipped one would pass
// there in silence.
func Lacks(t testing.TB, format string, args ...any) {
	t.Helper()
	what := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set, but this machine lacks what this test needs: %s", what)
	}
	t.Skipf("skipped: this machine lacks %s", what)
}
