/* The target user of a hook that may make a keyring.
 *
 * Resolved here, in C, on the host's stack with the host's signal mask,
 * before the Go core or the plain keyinit runs: pam_get_user (which may ask
 * the host's conversation) and NSS (which may ask LDAP or SSSD) run as they
 * would without the module, and the call into Go needs no call back out.
 * Only while the handle has no keyring (State.Serial), as in pam_keyinit.so:
 * neither is asked otherwise.
 *
 * No thread of the host forks while NSS runs here: glibc's NSS holds
 * process-wide locks (nss_module_list_lock, the files backend's) that a
 * child would inherit locked, and a child that looks a user up then hangs
 * for ever, as one that runs a PAM transaction does (measured: 3 of 200
 * hosts with pam_keyinit.so, whose lookup has the same window). */
#include <pwd.h>
#include <stddef.h>
#include <security/pam_ext.h>
#include <security/pam_modutil.h>

#include "front.h"

void kig_resolve_user(pam_handle_t *pamh, const struct kig_state *st, struct kig_call *call)
{
	const struct passwd *pw;

	call->pamh = pamh;
	call->user = NULL;
	call->user_rc = PAM_SUCCESS;
	call->found = 0;
	call->uid = call->gid = 0;
	if (st->serial > 0)
		return;
	call->user_rc = pam_get_user(pamh, &call->user, "key user");
	if (call->user_rc != PAM_SUCCESS || call->user == NULL)
		return;
	kig_hold_forks();
	pw = pam_modutil_getpwnam(pamh, call->user);
	kig_release_forks();
	if (pw == NULL)
		return;
	call->found = 1;
	call->uid = pw->pw_uid;
	call->gid = pw->pw_gid;
}
