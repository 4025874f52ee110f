package main

// How keyinit-go is called, in one place: the exit codes, the commands, the
// top-level usage and each command's help. Each synopsis is written once
// here and printed by both "keyinit-go help" and "keyinit-go COMMAND
// --help"; doc/keyinit-go.8 repeats them, and test/manpage_test.go holds it
// to them.

import "strings"

// Exit codes. What counts as findings is in each command's help below.
const (
	exitOK       = 0 // as hoped
	exitFindings = 1 // try: not the user's own keyring; check: errors; status: keyctl does not work; migrate: refused, lines or files left
	exitUsage    = 2 // bad arguments or the command could not run
)

// commandDoc is one command: what the usage says about it, and its code.
type commandDoc struct {
	name     string
	synopsis string // the arguments after "keyinit-go NAME"
	summary  string // under the synopsis in the top-level usage
	help     string // "NAME --help" after its synopsis, before the options
	run      func(c *cmdline, args []string) int
}

// commands is every command, in the order the top-level usage lists them.
var commands = []commandDoc{
	{
		name:     "try",
		run:      runTry,
		synopsis: "[--json] [--conf-dir DIR] [--tty TTY] [--rhost HOST] SERVICE USER",
		summary: `open and close a real session of SERVICE for USER and show the session
        keyring before, after open and after close, with a verdict`,
		help: `Runs a real PAM transaction for SERVICE and USER on one thread of a small C
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
alice's user keyring _uid.1001; revoked at close". Key names, which any
process may choose, are shown with control characters escaped (\n, \x1b), as
in a Go string, so that none can draw a line or talk to the terminal.

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
`,
	},
	{
		name:     "check",
		run:      runCheck,
		synopsis: "[--json] [--strict] [--pam-dir DIR] [--module-dir DIR] [--limits FILE] [--state-dir DIR] [FILE|SERVICE...]",
		summary: `read pam.d files (all of /etc/pam.d by default), following includes, and
        report problems with their pam_keyinit lines as file:line findings`,
		help: `Reads PAM service files the way libpam does (comments, "\" continuations,
[...] controls and arguments, case-insensitive types), follows "@include" and
the "include" and "substack" controls, finds the pam_keyinit.so and
pam_keyinit_go.so lines and reports, as FILE:LINE: SEVERITY: MESSAGE [CODE]:

  errors
    unknown-option   an option other than debug, force, revoke (ignored by the
                     modules: "revoke=yes" does not revoke)
    wrong-stack      in account or password, with a control that makes the
                     missing hook (PAM_MODULE_UNKNOWN) fail the stack
    module-missing   the module file does not exist (relative names resolve
                     in the system module directory)
    untrusted-core   a root host would refuse to load the Go core beside
                     pam_keyinit_go.so: the core, its directory or one above
                     it is not root's, or group or others may write it (a
                     root-owned sticky directory above it may be writable);
                     symbolic links resolved, as the module resolves them
    c-and-go         pam_keyinit.so and pam_keyinit_go.so in one stack
    include, syntax  unreadable includes, include loops, lines libpam rejects
    authselect-undone
                     "migrate --apply" selected the authselect profile
                     custom/keyinit-go (its manifest in --state-dir says so)
                     and authselect has undone it: another profile is in use,
                     or authselect's files name pam_keyinit.so again; su and
                     crond then run pam_keyinit.so again
  warnings
    wrong-stack      in auth (only pam_setcred acts; not when it comes
                     before pam_krb5, as keys-before-session asks), or in
                     account/password where it does nothing
    module-missing   missing, on a "-session" line libpam skips quietly
    after-key-module after a module that adds keys to the session keyring:
                     pam_krb5, pam_ecryptfs, pam_fscrypt, pam_cifscreds,
                     pam_afs_session, pam_kafs_session (not pam_gnome_keyring
                     or pam_sss: they keep secrets elsewhere)
    no-revoke,       in the session stack of a service whose host process
    no-force         outlives or shares sessions or has its own session
                     keyring: sshd, login, systemd-user, gdm*, lightdm*,
                     sddm*, xrdp-sesman, cockpit; these want "force revoke".
                     The stack is judged whole (any keyinit line's force or
                     revoke counts, as the modules run it), at its first
                     keyinit line, or, when that is in a shared file
                     (system-auth), at the service's include of it
    generated-file   a keyinit line in a file openSUSE's pam-config writes
                     (common-*-pc): pam-config drops it at its next run
    keys-before-session
                     pam_krb5 in the auth stack with no "auth optional
                     pam_keyinit_go.so force revoke" before it: it stores
                     tickets at pam_setcred, which su, login, sudo and display
                     managers call before pam_open_session, so a KEYRING:
                     cache lands in the caller's keyring (never for sshd,
                     which opens the session first)
    low-limit        pam_limits.so runs before pam_keyinit_go.so and sets as,
                     data or stack for some domain outside what the module's
                     Go runtime needs: the module refuses to start it there
    low-limit-after  pam_limits.so runs after it and sets as or data below
                     what the process holds once the runtime started: the
                     process's later memory mappings fail
  infos (nothing to act on; --strict ignores them)
    duplicate        the same module again in the same file's part of a
                     stack: that line makes no keyring of its own. Not
                     reported when the later line is another file's (a
                     service's own "force revoke", then system-auth's or
                     runuser's "revoke" through an include): distributions
                     ship every login service so

A finding in a file authselect generates (system-auth, password-auth,
postlogin, smartcard-auth, fingerprint-auth, switchable-auth: linked into
an authselect directory, or headed "Generated by authselect") says to change
a custom authselect profile, which "keyinit-go migrate" makes, never the file.
An untouched Debian, Fedora or RHEL tree gives no finding.

A line in an included file is reported once, with the services it affects in
the message where that matters. An argument with a "/" is a file (its name is
the service name); one without is a service in --pam-dir. With no arguments,
every file in --pam-dir is checked. The limits are read as pam_limits reads
them: --limits and then limits.d/*.conf beside it, or only the file a
pam_limits.so line names with conf=.

Exit status: 0 no errors (warnings allowed, unless --strict; infos always);
1 errors (or warnings with --strict); 2 bad usage or unreadable arguments.
`,
	},
	{
		name:     "status",
		run:      runStatus,
		synopsis: "[--json]",
		summary: `whether keyctl works here, the uids near their key quota, and whether
        the caller has a session keyring of its own`,
		help: `Says what "keyctl show", /proc/key-users and "sysctl kernel.keys" do not:

  keyctl   whether keyctl(2) works here, and if not what to do. It is probed
           with an operation that does not exist, which touches no keyring:
           EOPNOTSUPP means it works; ENOSYS means a kernel without
           CONFIG_KEYS or a seccomp filter that says so; EPERM or EACCES mean
           a seccomp filter or a security module denies it.
  quota    the uids at 80% or more of their key quota (keys or bytes), with
           the numbers and the sysctl to raise: a full quota makes
           pam_keyinit fail with EDQUOT.
  session  whether the caller has a session keyring of its own or only its
           user-session keyring _uid_ses.N, and what that means for
           pam_keyinit without force. Looking @s up installs the
           user-session keyring in a thread with none, so "none" shows as
           the user-session keyring.

Names (of the keyring, of users) are shown with control characters escaped,
as try shows them.

The keyrings themselves: "keyctl show @s"; every uid's key use: "cat
/proc/key-users"; the limits: "sysctl kernel.keys".

Exit status: 0; 1 when keyctl does not work here; 2 bad usage.
`,
	},
	{
		name:     "migrate",
		run:      runMigrate,
		synopsis: "[--apply | --revert] [--setcred-line] [--pam-dir DIR] [--module-dir DIR] [--state-dir DIR] [FILE|SERVICE...]",
		summary: `show (as a diff), apply or undo the switch of pam.d files from
        pam_keyinit.so to pam_keyinit_go.so`,
		help: `Switches PAM service files from pam_keyinit.so to pam_keyinit_go.so, and back.

Without --apply or --revert it writes nothing: it prints, as a unified diff,
what --apply would change, each file by the name given (absolute with the
default --pam-dir). To apply it by hand: "patch -p1" in / (patch -p0 ignores
absolute names), or "patch -p0" where a relative --pam-dir starts. patch
refuses a file that is a symbolic link, as Fedora's system-auth is ("not a
regular file"), and its --follow-symlinks puts a plain file in place of the
link: --apply writes the file the link names and keeps the link.

In every line that names pam_keyinit.so only the module name changes, to
pam_keyinit_go.so: the control, the options, the place in the stack,
comments and blanks stay. It reports, and leaves as they are:
  - lines that name the module by absolute path when that directory has no
    pam_keyinit_go.so (write the path of the installed module yourself);
  - lines inside pam-auth-update's managed block of the common-* files (use
    "pam-auth-update --enable keyinit-go", and disable the profile that adds
    pam_keyinit.so).
With no FILE or SERVICE, every file in --pam-dir that names pam_keyinit.so.
It also names, on stderr, the services whose session keyring comes from a
line without force (su, sudo, runuser, crond on Fedora): pam_keyinit.so left
them the keyring the process had (the caller's); pam_keyinit_go.so keeps it
only if it is the user's (or the user is root), else gives the user a new
keyring of their own.

The files authselect writes (Fedora's and RHEL's system-auth, password-auth,
...: links into /etc/authselect, beside authselect.conf) are never changed,
since authselect writes them again at each select, apply-changes,
enable-feature and disable-feature. Migrate asks authselect instead (the one
in PATH, which must manage them), and the diff shows how, in comment lines,
then the change of the new profile's templates:
  authselect create-profile keyinit-go --base-on PROFILE
  (the pam_keyinit.so lines of its PAM templates switched, nothing else)
  authselect select custom/keyinit-go FEATURES...
with the profile and features in use. --apply refuses when "authselect
check" fails, when a file is not what the profile makes (edited by hand),
or when custom/keyinit-go exists. --revert selects the profile of before
again (with the features in use), puts back the bytes of authselect's files
and removes custom/keyinit-go. "check" reports authselect-undone when
authselect has selected another profile since.

--setcred-line (off by default) also adds the line
  auth       optional     pam_keyinit_go.so force revoke
first in the auth stack of each service that "check" warns about with
keys-before-session (pam_krb5 in the auth stack, no such line before it;
never sshd): su, login, sudo and display managers call pam_setcred before
pam_open_session, and without the line the keys pam_krb5 stores then land
in the caller's session keyring. Services are taken with the files they
include first, so su-l, which includes su, gets no second line; a place
inside pam-auth-update's managed block is reported and skipped (the
services that include the file get the line). The added lines are in the
diff, and --apply, its checks and --revert treat them as every other change.

--apply refuses, changing nothing, when the module directory lacks
pam_keyinit_go.so or pam_keyinit_go/core.so (the module is both files),
when a root host would not load that core (see check's untrusted-core),
when "keyinit-go check" of the result finds an error, when a file cannot
be replaced, or when a file is not in --pam-dir (or named by a symbolic
link directly in it): --revert would not put it back. Otherwise, holding
the lock in --state-dir, it keeps each original and a manifest (path,
sha256 before and after) there, then replaces each file atomically
(temporary file in its directory, fsync, rename) with the owner, mode and
extended attributes (SELinux label) of the original, but only if the file
is still what was read (the same bytes and inode): a file changed meanwhile
is left as it is, with one line, and the others are migrated (run migrate
again for it). Killed at any point, --apply leaves each file as it was or
as migrated; --revert, or --apply again, finishes the job.

--revert puts back, byte for byte, every file still as --apply left it. A
file changed since is left alone and reported with a diff from what --apply
wrote to what is there now; one that names pam_keyinit_go.so no more
(pam_keyinit.so put back by hand, the line deleted) or is gone is left as it
is and forgotten. It writes only in the PAM directory --apply recorded: an
entry elsewhere, with "..", or behind a symbolic link that leads out is
refused, with one line, and left in the manifest. Removing the package runs
it (see keyinit-go(8)).

The state directory, every directory above it (a root-owned sticky one may
be writable), the manifest and the kept files must be root's (or those of
the user running keyinit-go) and not writable by group or others: a root
--revert writes pam.d files from them. Otherwise migrate refuses, with one
line, and changes nothing.

Exit status: 0 done (or, without --apply, every line can be migrated);
1 refused, a line left unmigrated, a file changed while migrate ran, or a
file left unreverted; 2 bad usage or could not run.
`,
	},
}

// lookup finds command name.
func lookup(name string) (commandDoc, bool) {
	for _, d := range commands {
		if d.name == name {
			return d, true
		}
	}
	return commandDoc{}, false
}

// helpText is what "NAME --help" prints before its options.
func (d commandDoc) helpText() string {
	return "Usage: keyinit-go " + d.name + " " + d.synopsis + "\n\n" + d.help
}

// usage is the top-level usage: "keyinit-go help", or no command.
func usage() string {
	var b strings.Builder
	b.WriteString("keyinit-go: what PAM services do to session keyrings (pam_keyinit.so, pam_keyinit_go.so)\n\nUsage:\n")
	for _, d := range commands {
		b.WriteString("  keyinit-go " + d.name + " " + d.synopsis + "\n        " + d.summary + "\n")
	}
	b.WriteString("\nRun \"keyinit-go COMMAND --help\" for the options of a command.\n" +
		"Exit codes: 0 fine, 1 findings (see each command), 2 bad usage or could not run.\n")
	return b.String()
}
