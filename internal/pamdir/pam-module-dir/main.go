// Command pam-module-dir prints pamdir.ModuleDir, for the Makefile's
// SECUREDIR: where "make install" puts the module.
package main

import (
	"fmt"
	"os"

	"pam_keyinit_go/internal/pamdir"
)

func main() {
	d, err := pamdir.ModuleDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pam-module-dir:", err)
		os.Exit(1)
	}
	fmt.Println(d)
}
