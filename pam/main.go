// Command pam_keyinit_go is built with -buildmode=c-shared into the Go core
// of the PAM module, pam_keyinit_go/core.so. libpam never loads it: the C
// front (front/, pam_keyinit_go.so) loads it on the first hook that needs Go
// and enters it only through core_entry.c; the policy is in ../keyinit.
//
// The runtime's settings are the module's, not the caller's: the front starts
// the runtime with an environment of its own (front/runtime_args.c), which
// holds GOMAXPROCS=1, GOTRACEBACK=none and GODEBUG=$(CORE_GODEBUG) (Makefile);
// the link also writes that GODEBUG into runtime.godebugDefault, after the
// toolchain's own defaults for go.mod's go line, which it would otherwise
// drop:
//   - asyncpreemptoff=1: no SIGURG is ever sent to the host's threads;
//   - containermaxprocs=0, updatemaxprocs=0: no cgroup files kept open and
//     no goroutine re-reading them; the module runs no parallel work.
package main

import (
	"runtime"

	_ "pam_keyinit_go/pam/rt0" // the core's .init_array entry: the front starts the runtime
)

func init() {
	// Only if the runtime was started by some other way than the front's.
	if runtime.GOMAXPROCS(0) != 1 {
		runtime.GOMAXPROCS(1)
	}
}

func main() {}
