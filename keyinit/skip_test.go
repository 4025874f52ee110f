package keyinit

import (
	"os"
	"testing"
)

// lacks skips a test this machine cannot run, saying what it lacks, but
// fails it when CI is set (.ci/run sets it): CI is meant to run every test,
// and a skip there would pass in silence.
func lacks(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set but this machine lacks %s, which this test needs", what)
	}
	t.Skipf("skipped: this machine lacks %s", what)
}
