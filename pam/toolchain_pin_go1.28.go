//go:build go1.28

package main

// The core reaches into the runtime in three places that a new Go release
// can change under it: runtime.forcegcperiod (sysmon_sleep.go),
// runtime.sigtable (runtime_guard.c, which the entry in pam/rt0 hands it)
// and the library entry of each architecture that pam/rt0 jumps to, all
// checked for go1.26 and go1.27 only (test/sysmon_pin_test.go). Check
// them for this toolchain (KIG_PIN_TOOLCHAIN=go1.28rc1 runs those tests
// on a release candidate), add it to the test's list, and move this guard
// up a release: doc/development.md, "A new Go release".
var _ = checkSysmonSleepSigtableAndRt0ForThisGoRelease
