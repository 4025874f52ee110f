// Command keyinit-go shows admins what a PAM service does to session
// keyrings: "try" runs a real session open and close and shows the session
// keyring before, between and after; "check" reads pam.d files and reports
// problems with their pam_keyinit lines; "status" shows the kernel's keyring
// support, quotas and the caller's session keyring; "migrate" switches pam.d
// files from pam_keyinit.so to pam_keyinit_go.so and back.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
)

// Exit codes.
const (
	exitOK       = 0 // as hoped
	exitFindings = 1 // try: not the user's own keyring; check: errors; status: no keyrings; migrate: refused or lines left
	exitUsage    = 2 // bad arguments or the command could not run
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
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "try":
		return runTry(args[1:], stdout, stderr)
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case "status":
		return runStatus(args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(args[1:], stdout, stderr)
	case childCommand:
		return runChild(stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "keyinit-go: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

const usage = `keyinit-go: what PAM services do to session keyrings (pam_keyinit.so, pam_keyinit_go.so)

Usage:
  keyinit-go try [--json] [--conf-dir DIR] [--tty TTY] [--rhost HOST] SERVICE USER
        open and close a real session of SERVICE for USER and show the session
        keyring before, after open and after close, with a verdict
  keyinit-go check [--json] [--strict] [--pam-dir DIR] [--module-dir DIR] [FILE|SERVICE...]
        read pam.d files (all of /etc/pam.d by default), following includes, and
        report problems with their pam_keyinit lines as file:line findings
  keyinit-go status [--json]
        kernel keyring support, kernel.keys.* settings, key use per uid and the
        caller's session keyring
  keyinit-go migrate [--apply | --revert] [FILE|SERVICE...]
        show (as a diff), apply or undo the switch of pam.d files from
        pam_keyinit.so to pam_keyinit_go.so

Run "keyinit-go COMMAND --help" for the options of a command.
Exit codes: 0 fine, 1 findings (see each command), 2 bad usage or could not run.
`
