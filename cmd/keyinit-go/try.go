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

const tryHelp = `Usage: keyinit-go try [--json] [--conf-dir DIR] [--tty TTY] [--rhost HOST] SERVICE USER

Runs a real PAM transaction for SERVICE and USER on one thread of a small C
helper, keyinit-go-try (a PAM module written in Go must not be loaded into
a Go program such as keyinit-go): pam_start, pam_open_session,
pam_close_session, pam_end (no authentication, no pam_setcred). It shows the
session keyring

  before      as a child process of keyinit-go sees it (keyinit-go itself does
              not look: looking up @s in a thread without one installs one);
  after open  on the helper's thread that opened the session: what the
              user's shell would inherit;
  after close the same keyring once the session closed (revoked or not);

as trees (serial, type, name, owner, gid, permissions, links), and a verdict
such as "new session keyring _ses (serial 123) owned by alice, linked to
alice's user keyring _uid.1001; revoked at close".

Every module of the session stack really runs: whatever they do (pam_mkhomedir
creates homes, pam_lastlog writes lastlog, pam_systemd registers a login
session) happens. To try a stack without that, copy the service file into a
directory, edit it, and pass --conf-dir.

The conversation is not interactive: informational messages from modules are
printed (to stderr, and in the JSON), and every prompt is answered with an
error (PAM_CONV_ERR): a session stack should not ask anything.

Needs root to open a session for another user (the modules switch ids).

Exit status: 0 when the session keyring after open is USER's own (owned by
USER and not a user-session keyring _uid_ses.N); 1 when it is not, or the open
failed; 2 for bad usage, an unknown user or service, or pam_start failing.
`

func runTry(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("try", tryHelp, stderr)
	jsonOut := fs.Bool("json", false, "print a JSON report instead of text")
	confDir := fs.String("conf-dir", "", "read SERVICE from `DIR` instead of /etc/pam.d (pam_start_confdir)")
	tty := fs.String("tty", "", "set PAM_TTY to `TTY` (e.g. /dev/pts/0) for modules that want one")
	rhost := fs.String("rhost", "", "set PAM_RHOST to `HOST` for modules that want one")
	pos, help, err := parseArgs(fs, args, stdout)
	switch {
	case help:
		return exitOK
	case err != nil:
		return usageError(stderr, "try", err)
	case len(pos) != 2:
		return usageError(stderr, "try", fmt.Errorf("want SERVICE and USER, got %d arguments", len(pos)))
	}
	service, name := pos[0], pos[1]
	u, err := user.Lookup(name)
	if err != nil {
		return usageError(stderr, "try", fmt.Errorf("no user %q: %v; give an existing user (getent passwd %s)", name, err, name))
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if os.Geteuid() != 0 && uint64(os.Getuid()) != uid {
		return usageError(stderr, "try", fmt.Errorf("opening a session for %s needs root (the modules switch ids): run it as root, e.g. sudo keyinit-go try %s %s", name, service, name))
	}
	file, err := serviceFile(service, *confDir)
	if err != nil {
		return usageError(stderr, "try", err)
	}

	rep := tryReport{Service: service, File: file, User: name, UID: uint32(uid), GID: uint32(gid)}
	if err := rep.run(helperOptions{confDir: *confDir, tty: *tty, rhost: *rhost}, stderr); err != nil {
		fmt.Fprintf(stderr, "keyinit-go try: %v\n", err)
		return exitUsage
	}
	if *jsonOut {
		rep.writeJSON(stdout)
	} else {
		rep.writeText(stdout)
	}
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
