//go:build go1.28

package main

// The core reaches into the runtime in three places that a new Go release
// can change under it: runtime.forcegcperiod (sysmon_sleep.go) and
// runtime.sigtable (runtime_guard.c, which the entry in pam/rt0 hands it),
// checked for go1.26 and go1.27 only (test/sysmon_pin_test.go), and the
// library entry pam/rt0 jumps to, which every test that opens a session
// exercises. Check them for this toolchain, add it to the test's list, and
// move this guard up a release.
var _ = checkSysmonSleepSigtableAndRt0ForThisGoRelease
