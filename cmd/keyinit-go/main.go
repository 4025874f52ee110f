// Command keyinit-go shows admins what a PAM service does to session
// keyrings: "try" runs a real session open and close and shows the session
// keyring before, between and after; "check" reads pam.d files and reports
// problems with their pam_keyinit lines; "status" says whether keyctl works,
// which uids are near their key quota and whether the caller has a session
// keyring of its own; "migrate" switches pam.d files from pam_keyinit.so to
// pam_keyinit_go.so and back. usage.go has how each is called.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
)

func init() {
	// The whole run stays on one OS thread: keyrings belong to a thread's
	// credentials, so "status" and the child "try" forks for its before
	// view must see the keyrings of the thread that started the program.
	runtime.LockOSThread()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return exitUsage
	}
	if d, ok := lookup(args[0]); ok {
		return d.run(newCmdline(d, stdout, stderr), args[1:])
	}
	switch args[0] {
	case childCommand:
		return runChild(stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage())
		return exitOK
	}
	fmt.Fprintf(stderr, "keyinit-go: unknown command %q\n\n%s", args[0], usage())
	return exitUsage
}
