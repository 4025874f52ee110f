// Package test holds the integration tests: the built module driven on the
// real kernel and libpam, as root, in-process, through pamtester, and side
// by side with Linux-PAM's pam_keyinit.so.
package test

import (
	"os"
	"testing"

	"pam_keyinit_go/test/harness"
)

func TestMain(m *testing.M) {
	runScenarioIfAsked()
	os.Exit(harness.Main(m))
}
