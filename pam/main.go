// Command pam_keyinit_go is built with -buildmode=c-shared into the Go core
// of the PAM module, pam_keyinit_go/core.so. libpam never loads it: the C
// front (front/, pam_keyinit_go.so) loads it on the first hook that needs Go
// and enters it only through core_entry.c; the policy is in ../keyinit.
//
// The runtime's settings are the module's, not the caller's. The front hides
// the caller's environment from the runtime while it starts and lends it
// GOMAXPROCS=1, GOTRACEBACK=none and GODEBUG=$(CORE_GODEBUG) (Makefile), which
// the link also writes into runtime.godebugDefault, for processes with too
// small an environment block to lend from:
//   - asyncpreemptoff=1: no SIGURG is ever sent to the host's threads;
//   - containermaxprocs=0, updatemaxprocs=0: no cgroup files kept open and
//     no goroutine re-reading them; the module runs no parallel work.
package main

import "runtime"

func init() {
	// Only if the front could not hold the runtime's start to one CPU (a
	// sandbox that forbids sched_setaffinity) and had no GOMAXPROCS slot.
	if runtime.GOMAXPROCS(0) != 1 {
		runtime.GOMAXPROCS(1)
	}
}

func main() {}
