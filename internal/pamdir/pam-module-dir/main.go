// Command pam-module-dir prints pamdir.ModuleDirFor, for the Makefile's
// SECUREDIR: where "make install" puts the module, and the installed core
// path built into the front. It runs on the build machine: its argument is
// the GOARCH the build is for (default: its own).
package main

import (
	"fmt"
	"os"
	"runtime"

	"pam_keyinit_go/internal/pamdir"
)

func main() {
	goarch := runtime.GOARCH
	if len(os.Args) > 1 {
		goarch = os.Args[1]
	}
	d, err := pamdir.ModuleDirFor(goarch)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pam-module-dir:", err)
		os.Exit(1)
	}
	fmt.Println(d)
}
