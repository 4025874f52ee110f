/* The PAM hooks of pam_keyinit_go.so: the only exported symbols.
 *
 * Each hook decides here, in C, whether this process may enter Go. The Go
 * runtime starts in the process that loads the module and cannot run in a
 * child forked from it: the runtime's other threads do not exist there and
 * any lock they held stays locked, so a call into Go can hang for ever. Real
 * hosts call PAM in such children: systemd closes user@.service sessions in
 * its forked "(sd-pam)" process, "sudo -b" opens and closes in a child, sshd
 * calls pam_setcred in its post-auth child, login/su call pam_end there.
 *
 * In a forked child the hooks therefore do only what needs no Go, from the
 * state recorded with the handle at open:
 *   - close_session / setcred(DELETE_CRED) revoke the recorded keyring;
 *   - open_session / setcred(ESTABLISH_CRED) succeed if this handle already
 *     made a keyring, and otherwise fail with one syslog line saying why;
 *   - pam_end runs only the C cleanup below.
 */
#define _GNU_SOURCE  /* getresuid, getresgid */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <security/pam_modules.h>
#include <security/pam_ext.h>

#include "keyinit_pam.h"
#include "_cgo_export.h"

#define STATE_NAME "pam_keyinit_go"
#define KEYCTL_REVOKE 3

/* The 32-bit-id system calls: on i386 and arm the plain ones take 16 bits. */
#ifdef SYS_setresuid32
#define SYS_SETRESUID SYS_setresuid32
#define SYS_SETRESGID SYS_setresgid32
#else
#define SYS_SETRESUID SYS_setresuid
#define SYS_SETRESGID SYS_setresgid
#endif

static pid_t loader_pid;  /* the process in which the Go runtime runs */
static volatile int forked;  /* set in every fork() child */

static void mark_forked(void)
{
	forked = 1;
}

__attribute__((constructor)) static void record_loader(void)
{
	loader_pid = getpid();
	pthread_atfork(NULL, NULL, mark_forked);
}

/* The pid test also catches children made with a raw clone(2), which skips
 * the atfork handlers. */
static int may_enter_go(void)
{
	return !forked && getpid() == loader_pid;
}

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

static int out_of_memory(pam_handle_t *pamh)
{
	pam_syslog(pamh, LOG_CRIT, "out of memory for the module state");
	return PAM_BUF_ERR;
}

/* open_session or setcred(ESTABLISH_CRED) in a forked child. */
static int forked_init(pam_handle_t *pamh, const struct kig_state *st, int fail)
{
	if (st->serial > 0)
		return PAM_SUCCESS;  /* the parent made this handle's keyring */
	pam_syslog(pamh, LOG_ERR,
		   "cannot make a session keyring in process %d: it was forked from "
		   "process %d, which loaded the module, and Go cannot run in it; "
		   "open the session before forking, or in a process that calls "
		   "pam_start itself",
		   (int)getpid(), (int)loader_pid);
	return fail;
}

/* Revokes the keyring recorded at open, acting as its owner, the way
 * keyinit.Module.revoke does in Go. Ids are switched with raw per-thread
 * system calls and restored exactly. Returns 1 on success. */
static int forked_revoke(pam_handle_t *pamh, struct kig_state *st)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	int32_t serial = st->serial;
	int ok = 1;

	if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0) {
		pam_syslog(pamh, LOG_ERR, "Unable to read the process ids: %m");
		return 0;
	}
	if (st->gid != egid && syscall(SYS_SETRESGID, (gid_t)-1, st->gid, (gid_t)-1) != 0) {
		pam_syslog(pamh, LOG_ERR, "Unable to change GID to %u temporarily: %m", st->gid);
		return 0;
	}
	if (st->uid != euid && syscall(SYS_SETRESUID, (uid_t)-1, st->uid, euid) != 0) {
		pam_syslog(pamh, LOG_ERR, "Unable to change UID to %u temporarily: %m", st->uid);
		ok = 0;
	} else {
		st->serial = 0;
		if (syscall(SYS_keyctl, KEYCTL_REVOKE, serial) != 0 &&
		    errno != EKEYREVOKED && errno != ENOKEY) {
			pam_syslog(pamh, LOG_ERR,
				   "Unable to revoke the session keyring for uid %u: %m",
				   st->uid);
			ok = 0;
		}
	}
	if (syscall(SYS_SETRESUID, ruid, euid, suid) != 0) {
		pam_syslog(pamh, LOG_ERR, "Unable to change UID back to %u: %m", euid);
		ok = 0;
	}
	if (syscall(SYS_SETRESGID, rgid, egid, sgid) != 0) {
		pam_syslog(pamh, LOG_ERR, "Unable to change GID back to %u: %m", egid);
		ok = 0;
	}
	return ok;
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
	struct kig_state *st = handle_state(pamh);

	if (st == NULL)
		return out_of_memory(pamh);
	if (may_enter_go())
		return kig_go_setcred(pamh, flags, argc, (char **)argv, st);

	if (flags & PAM_ESTABLISH_CRED)
		return forked_init(pamh, st, PAM_CRED_ERR);
	if ((flags & PAM_DELETE_CRED) && st->serial > 0 && st->revoke)
		return forked_revoke(pamh, st) ? PAM_SUCCESS : PAM_CRED_ERR;
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags,
				   int argc, const char **argv)
{
	struct kig_state *st = handle_state(pamh);

	if (st == NULL)
		return out_of_memory(pamh);
	if (may_enter_go())
		return kig_go_open_session(pamh, flags, argc, (char **)argv, st);

	st->opens++;
	return forked_init(pamh, st, PAM_SESSION_ERR);
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags,
				    int argc, const char **argv)
{
	struct kig_state *st = handle_state(pamh);

	if (st == NULL) {
		out_of_memory(pamh);
		return PAM_SUCCESS;  /* close always succeeds, as in pam_keyinit.so */
	}
	if (may_enter_go())
		return kig_go_close_session(pamh, flags, argc, (char **)argv, st);

	st->opens--;
	if (st->opens <= 0 && st->serial > 0 && st->revoke)
		forked_revoke(pamh, st);
	return PAM_SUCCESS;
}
