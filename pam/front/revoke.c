/* Revoking the session keyring: the one way the module unmakes what it made,
 * in the process that opened the session and in forked children alike
 * (systemd closes in "(sd-pam)"), so it needs no Go.
 *
 * It changes no id and no capability. pam_keyinit.so switches to the
 * keyring's owner first, which buys nothing: "_ses" gives its owner view and
 * read only, so only possession grants revoke, and a thread that possesses
 * the keyring may revoke it as root or as the user alike. The switch did
 * harm: it raised capabilities the host had dropped, reset or mangled an
 * unusual saved uid, and failed for unprivileged closers (systemd#4238). */
#include <errno.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <security/pam_ext.h>

#include "front.h"

#define KEYCTL_REVOKE 3  /* linux/keyctl.h, which libc does not ship */

int kig_revoke(pam_handle_t *pamh, struct kig_state *st)
{
	int32_t serial = st->serial;

	st->serial = 0;
	if (st->debug)
		pam_syslog(pamh, LOG_DEBUG, "REVOKE %d", (int)serial);
	if (syscall(SYS_keyctl, (long)KEYCTL_REVOKE, (long)serial) == 0)
		return 1;
	switch (errno) {
	case EKEYREVOKED:
	case ENOKEY:
		/* Revoked or destroyed by someone else already. */
		if (st->debug)
			pam_syslog(pamh, LOG_DEBUG, "REVOKE %d: already gone (%m)", (int)serial);
		return 1;
	case EACCES:
		/* The host replaced it and keeps the old one elsewhere. */
		pam_syslog(pamh, LOG_ERR,
			   "Unable to revoke session keyring %d for uid %u: it is no longer "
			   "this thread's session keyring, and only its possessor may revoke it; "
			   "it is freed when its last link goes (call pam_close_session on the "
			   "thread that opened the session)", (int)serial, st->uid);
		return 0;
	default:
		pam_syslog(pamh, LOG_ERR,
			   "Unable to revoke the session keyring %d for uid %u: %m; see keyctl(2)",
			   (int)serial, st->uid);
		return 0;
	}
}
