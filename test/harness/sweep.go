package harness

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Names this harness gives what it creates on the machine (RandomName).
var (
	leftoverUser    = regexp.MustCompile(`^kig[0-9a-f]{8}$`)
	leftoverService = regexp.MustCompile(`^kig-[0-9a-f]{8}$`)
)

// sweepLeftovers removes the users and /etc/pam.d services that an earlier
// run killed before its cleanups (a timeout, a kill) left behind. It runs
// with the run lock held, so no other run owns them.
func sweepLeftovers() {
	if f, err := os.Open("/etc/passwd"); err == nil {
		var users []string
		s := bufio.NewScanner(f)
		for s.Scan() {
			if name, _, ok := strings.Cut(s.Text(), ":"); ok && leftoverUser.MatchString(name) {
				users = append(users, name)
			}
		}
		f.Close()
		for _, name := range users {
			exec.Command("pkill", "-KILL", "-u", name).Run()
			if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "harness: cannot remove the leftover test user %s: %v: %s\n", name, err, out)
				continue
			}
			fmt.Fprintf(os.Stderr, "harness: removed the leftover test user %s\n", name)
		}
	}
	services, _ := filepath.Glob("/etc/pam.d/kig-*")
	for _, p := range services {
		if leftoverService.MatchString(filepath.Base(p)) && os.Remove(p) == nil {
			fmt.Fprintf(os.Stderr, "harness: removed the leftover test service %s\n", p)
		}
	}
}
