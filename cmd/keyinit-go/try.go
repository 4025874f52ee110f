package main

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"pam_keyinit_go/cmd/keyinit-go/internal/keyring"
)

// runTry is "keyinit-go try"; usage.go has its help.
func runTry(c *cmdline, args []string) int {
	jsonOut := c.jsonFlag()
	confDir := c.flags.String("conf-dir", "", "read SERVICE from `DIR` instead of /etc/pam.d (pam_start_confdir)")
	tty := c.flags.String("tty", "", "set PAM_TTY to `TTY` (e.g. /dev/pts/0) for modules that want one")
	rhost := c.flags.String("rhost", "", "set PAM_RHOST to `HOST` for modules that want one")
	pos, code, ok := c.parse(args, func(pos []string) error {
		if len(pos) != 2 {
			return fmt.Errorf("want SERVICE and USER, got %d arguments", len(pos))
		}
		return nil
	})
	if !ok {
		return code
	}
	service, name := pos[0], pos[1]
	u, err := user.Lookup(name)
	if err != nil {
		return c.fail(fmt.Errorf("no user %q: %v; give an existing user (getent passwd %s)", name, err, name))
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if os.Geteuid() != 0 && uint64(os.Getuid()) != uid {
		return c.fail(fmt.Errorf("opening a session for %s needs root (the modules switch ids): run it as root, e.g. sudo keyinit-go try %s %s", name, service, name))
	}
	file, err := serviceFile(service, *confDir)
	if err != nil {
		return c.fail(err)
	}

	rep := tryReport{Service: service, File: file, User: name, UID: uint32(uid), GID: uint32(gid)}
	if err := rep.run(helperOptions{confDir: *confDir, tty: *tty, rhost: *rhost}, c.stderr); err != nil {
		fmt.Fprintf(c.stderr, "keyinit-go try: %v\n", err)
		return exitUsage
	}
	printReport(c.stdout, *jsonOut, &rep)
	if !rep.Verdict.OK {
		return exitFindings
	}
	return exitOK
}

// serviceFile is the file libpam will read for service. libpam itself
// silently falls back to the "other" service when there is none, which would
// make the try show something else than asked.
func serviceFile(service, confDir string) (string, error) {
	if service == "" || filepath.Base(service) != service {
		return "", fmt.Errorf("service %q: give a service name, such as sshd (use --conf-dir for another directory)", service)
	}
	dirs := []string{"/etc/pam.d", "/usr/lib/pam.d"}
	if confDir != "" {
		dirs = []string{confDir}
	}
	for _, d := range dirs {
		p := filepath.Join(d, service)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no PAM service %q in %v (libpam would use the \"other\" service instead); create it, or pass --conf-dir DIR", service, dirs)
}

// run has the helper do the transaction and fills r from its report.
func (r *tryReport) run(opts helperOptions, stderr io.Writer) error {
	if before, err := inheritedSessionKeyring(); err != nil {
		r.BeforeError = err.Error()
	} else {
		r.Before = before
	}
	h, err := runHelper(r.Service, r.User, opts, stderr)
	if err != nil {
		return err
	}
	r.Messages = h.messages
	out := keyring.Outcome{User: r.User, UID: r.UID, Before: r.Before}
	out.OpenErr = h.calls["open"].failure()
	if h.sessionErr != nil {
		r.AfterOpenError = h.sessionErr.Error()
	} else {
		t := keyring.Tree(h.afterOpen, h.session, keyring.MaxDepth, userName)
		out.AfterOpen = &t
	}
	if c := h.calls["close"]; c != nil {
		out.CloseErr = c.failure()
		if out.AfterOpen != nil {
			t := keyring.Tree(h.afterClose, h.session, keyring.MaxDepth, userName)
			out.AfterClose = &t
		}
	}
	if end := h.calls["end"]; end.code != 0 {
		r.EndError = end.text
	}
	r.AfterOpen, r.AfterClose = out.AfterOpen, out.AfterClose
	r.OpenError, r.CloseError = out.OpenErr, out.CloseErr
	r.Verdict = keyring.Judge(out)
	return nil
}
