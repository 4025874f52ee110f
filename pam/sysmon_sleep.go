package main

import _ "unsafe" // go:linkname

// An idle process that opened a session (sshd's [priv], login, su's
// watching parent, systemd's (sd-pam)) keeps this runtime for the
// session's life. Its only timed wakeup is sysmon: idle, it sleeps in
// notetsleep for at most forcegcperiod/2 (runtime/proc.go, sysmon), that is
// once a minute, so that a forced GC can run every two minutes. This core
// allocates nothing per hook (keyinit/alloc_test.go) and has no use for a
// forced GC, so the period is made too long to ever end: sysmon then sleeps
// until a hook wakes it, and an idle session costs no context switch
// (test/idle_wakeups_test.go).
//
// runtime.forcegcperiod is an internal variable, pulled with a linkname,
// which the link allows only with -checklinkname=0 (Makefile). Its name, its
// type (int64 nanoseconds) and its use in sysmon are pinned for every
// toolchain the build accepts by test/sysmon_pin_test.go; a newer one fails
// to build (toolchain_pin_go1.28.go) until it is checked.
//
//go:linkname forcegcperiod runtime.forcegcperiod
var forcegcperiod int64

// noForcedGC is about 146 years: sysmon's sleep is half of it, which still
// fits the futex timeout.
const noForcedGC = 1 << 62

func init() {
	forcegcperiod = noForcedGC
}
