/* The PAM hooks of pam_keyinit_go.so: the only exported symbols.
 *
 * This front is plain C and starts no Go runtime. It keeps the per-handle
 * state, counts sessions and revokes (revoke.c); only making a keyring needs
 * the Go core, which it loads on first use (core_load.c). So a process that
 * only authenticates, changes a password or checks an account never starts
 * a runtime, and a child forked before any session hook ran (sudo -b, a
 * daemon that forks per login) starts its own and makes its keyring.
 *
 * A child forked from a process whose runtime is running cannot enter Go:
 * the runtime's other threads do not exist there and any lock they held
 * stays locked, so a call into Go can hang for ever. Real hosts call PAM in
 * such children: systemd closes user@.service sessions in its forked
 * "(sd-pam)", sshd calls pam_setcred in its post-auth child, login and su
 * call pam_end there. All of that needs no Go. A keyring such a child's
 * handle has not made yet is made by the plain keyinit in C
 * (plain_keyinit.c), as it is wherever else Go cannot run.
 */
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

#include "front.h"

#define STATE_NAME "pam_keyinit_go"

static void free_state(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	free(data);
}

/* The handle's state, made on first use. NULL only when out of memory. */
static struct kig_state *handle_state(pam_handle_t *pamh)
{
	const void *data = NULL;
	struct kig_state *st;

	if (pam_get_data(pamh, STATE_NAME, &data) == PAM_SUCCESS && data != NULL)
		return (struct kig_state *)data;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	if (pam_set_data(pamh, STATE_NAME, st, free_state) != PAM_SUCCESS) {
		free(st);
		return NULL;
	}
	return st;
}

static int out_of_memory(pam_handle_t *pamh, int code)
{
	pam_syslog(pamh, LOG_CRIT, "out of memory for the module state");
	return code;
}

/* open_session or setcred(ESTABLISH_CRED): make the keyring in Go where Go
 * may run on this thread, else by the plain keyinit in C. */
static int make_keyring(pam_handle_t *pamh, int hook, int argc, const char **argv)
{
	struct kig_state *st = handle_state(pamh);
	const struct kig_core *core;
	struct kig_call call;
	struct kig_why why = { "", 0 };
	pid_t loader;

	if (st == NULL)
		return out_of_memory(pamh, PAM_BUF_ERR);
	if (hook == KIG_HOOK_OPEN_SESSION)
		st->opens++;
	core = kig_core_here(&loader, &why);
	/* A fork of the process that made this handle's keyring, or found it
	 * needed none (sshd's post-auth child re-establishing): done, and
	 * nothing to say. */
	if (core == NULL && loader != 0 && (st->serial > 0 || st->settled))
		return PAM_SUCCESS;
	kig_resolve_user(pamh, st, &call);
	if (core != NULL)
		return core->init(&call, hook, argc, argv, st);
	return kig_plain_init(&call, hook, argc, argv, st, &why);
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags,
				   int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags,
			      int argc, const char **argv)
{
	struct kig_state *st;

	if (flags & PAM_ESTABLISH_CRED)
		return make_keyring(pamh, KIG_HOOK_ESTABLISH_CRED, argc, argv);
	if (!(flags & PAM_DELETE_CRED))
		return PAM_IGNORE;
	st = handle_state(pamh);
	if (st == NULL)
		return out_of_memory(pamh, PAM_BUF_ERR);
	if (st->serial <= 0 || !st->revoke)
		return PAM_IGNORE;
	if (st->debug)
		pam_syslog(pamh, LOG_DEBUG, "DELETE_CRED");
	/* The session counter is left alone, as in pam_keyinit.so. */
	return kig_revoke(pamh, st) ? PAM_SUCCESS : PAM_CRED_ERR;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags,
				   int argc, const char **argv)
{
	(void)flags;
	return make_keyring(pamh, KIG_HOOK_OPEN_SESSION, argc, argv);
}

/* Like pam_keyinit.so, close always succeeds; it revokes when the last open
 * session of this handle closes. */
PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags,
				    int argc, const char **argv)
{
	struct kig_state *st = handle_state(pamh);

	(void)flags;
	(void)argc;
	(void)argv;
	if (st == NULL)
		return out_of_memory(pamh, PAM_SUCCESS);
	if (st->debug)
		pam_syslog(pamh, LOG_DEBUG, "CLOSE %d,%d,%s", (int)st->opens,
			   (int)st->serial, st->revoke ? "true" : "false");
	st->opens--;
	if (st->opens <= 0 && st->serial > 0 && st->revoke)
		kig_revoke(pamh, st);
	return PAM_SUCCESS;
}
