//go:build go1.28

package main

// The core reaches into the runtime in two places that a new Go release can
// change under it: runtime.forcegcperiod (sysmon_sleep.go), checked for
// go1.26 and go1.27 only (test/sysmon_pin_test.go), and the library entry
// pam/rt0 jumps to, which every test that opens a session exercises. Check
// both for this toolchain, add it to the test's list, and move this guard
// up a release.
var _ = checkSysmonSleepAndRt0ForThisGoRelease
