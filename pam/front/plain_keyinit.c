/* The plain keyinit, in C: the session keyring of a hook the Go core
 * cannot serve.
 *
 * Why it exists. Where Go cannot run on the calling thread (the caller of
 * su or sudo set a limit the runtime cannot start under, the thread has a
 * seccomp filter that would kill it, the process is a fork of one that runs
 * the runtime, the core is missing, untrusted or from another build), a
 * hook that only refused would leave the thread in the session keyring it
 * has: in a setuid host, the caller's, which the user's processes would
 * then possess. pam_keyinit.so needs no runtime and makes the keyring under
 * all of these, and so does this file, by the rule of the Go core
 * (keyinit/session.go), to which test/differential_test.go holds it
 * scenario by scenario:
 *   - the options are the words force, revoke and debug;
 *   - a handle that made its keyring already has nothing to do;
 *   - the real gid, then the real uid, become the user's on this thread
 *     only (raw setresgid and setresuid: glibc's change every thread), and
 *     all six ids are restored exactly, on every way out;
 *   - without force, a session keyring of the user's own (any, for root)
 *     is kept, and no keyring support (ENOSYS) is no error;
 *   - a new anonymous "_ses" is joined, the user keyring linked into it
 *     and checked to be the user's.
 * It logs one line: what it did, and why Go did not run. The one thing it
 * will not do is run where the thread's seccomp filter kills one of its own
 * calls (keyctl, the id calls), which the probe finds: the hook fails
 * instead, where pam_keyinit.so would end the host. What it does not
 * do that the Go core does: debug lines for each step (debug only sets the
 * close's lines), and naming the quota use on EDQUOT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <security/pam_ext.h>

#include "front.h"

/* linux/keyctl.h, which libc does not ship */
#define KEYCTL_GET_KEYRING_ID       0
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_REVOKE               3
#define KEYCTL_DESCRIBE             6
#define KEYCTL_LINK                 8
#define KEYCTL_UNLINK               9
#define KEY_SPEC_SESSION_KEYRING      (-3)
#define KEY_SPEC_USER_KEYRING         (-4)
#define KEY_SPEC_USER_SESSION_KEYRING (-5)

/* The calls with 32-bit ids where the plain names take 16-bit ones. */
#ifdef SYS_setresuid32
#define SYS_GETRESUID SYS_getresuid32
#define SYS_GETRESGID SYS_getresgid32
#define SYS_SETRESUID SYS_setresuid32
#define SYS_SETRESGID SYS_setresgid32
#else
#define SYS_GETRESUID SYS_getresuid
#define SYS_GETRESGID SYS_getresgid
#define SYS_SETRESUID SYS_setresuid
#define SYS_SETRESGID SYS_setresgid
#endif

#define KEEP ((long)-1)  /* an id setres*id(2) leaves as it is */

/* What one init did, for its one line. */
struct result {
	int code;
	int prio;
	char what[320];
};

static int say(struct result *r, int code, int prio, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int say(struct result *r, int code, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
	r->code = code;
	r->prio = prio;
	return code;
}

/* keyctl's arguments are unsigned longs: pass every one as a long. */
static long keyctl(long cmd, long a, long b, long c)
{
	return syscall(SYS_keyctl, cmd, a, b, c, 0L);
}

/* The uid that owns a key, from KEYCTL_DESCRIBE's "type;uid;gid;perm;name"
 * (the kernel prints it with %d). -1 if it cannot be read, with errno set
 * (EBADMSG: not of that shape). The buffer is on the heap: a host's stack
 * may be small, and a description as long as the kernel allows (4095
 * bytes) comes only whole. */
static long long owner(long key)
{
	const size_t size = 4096 + 128;
	char *buf = malloc(size), *semi, *end;
	long long uid = -1;
	long n;

	if (buf == NULL)
		return -1;
	n = keyctl(KEYCTL_DESCRIBE, key, (long)buf, (long)size);
	if (n > 0 && (size_t)n <= size && buf[n - 1] == '\0' && (semi = strchr(buf, ';')) != NULL) {
		uid = strtoll(semi + 1, &end, 10);
		if (*end != ';' || uid < -(1LL << 31) || uid >= (1LL << 32))
			uid = -1;
		else
			uid = (long long)(uint32_t)uid;
		errno = uid < 0 ? EBADMSG : 0;
	} else if (n >= 0) {
		errno = EBADMSG;
	}
	free(buf);
	return uid;
}

static int keyctl_failed(struct result *r, const char *what, uint32_t uid, int fail)
{
	int err = errno;

	if (err == EDQUOT)
		return say(r, fail, LOG_ERR, "Unable to %s for uid %u: %s; the key quota of uid %u is full: raise "
			   "kernel.keys.maxkeys / kernel.keys.maxbytes", what, uid, strerror(err), uid);
	return say(r, fail, LOG_ERR, "Unable to %s for uid %u: %s; %s", what, uid, strerror(err),
		   err == EPERM || err == EACCES ? "keyctl was denied, likely by a seccomp filter or a security "
						   "module: allow keyctl(2) for this service"
						 : "see keyctl(2)");
}

static int no_keyrings(struct result *r)
{
	return say(r, PAM_SUCCESS, LOG_WARNING, "the kernel has no keyring support here (keyctl: ENOSYS): "
		   "session continues without a session keyring");
}

/* A user name as the log line shows it: at most 64 bytes, with what could
 * forge or break the line (control bytes, quotes, backslashes, bytes past
 * ASCII) shown as '?'. */
static void printable(char out[65], const char *name)
{
	size_t i;

	for (i = 0; i < 64 && name[i] != '\0'; i++)
		out[i] = name[i] >= 0x20 && name[i] < 0x7f && name[i] != '"' && name[i] != '\\' ? name[i] : '?';
	out[i] = '\0';
}

/* Whether, without force, the thread has a session keyring to keep: one
 * of the user's own, or any for root. 0 to join a new one (*replaced then
 * names another uid's it replaces, or is 0); else the result is said: 1 to
 * keep it or where there are no keyrings, -1 on an error. */
static int keep(struct result *r, uint32_t uid, long *replaced, long long *owned_by, int fail)
{
	long session = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0), usession;

	if (session < 0 && errno == EKEYREVOKED)
		return 0;  /* revoked by a revoking close: no keyring at all */
	if (session < 0 && errno == ENOSYS)
		return no_keyrings(r), 1;
	if (session < 0)
		return keyctl_failed(r, "get the session keyring", uid, fail), -1;
	usession = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_SESSION_KEYRING, 0, 0);
	if (usession < 0)
		return keyctl_failed(r, "get the user-session keyring", uid, fail), -1;
	if (session == usession)
		return 0;  /* none of its own */
	*owned_by = uid == 0 ? 0 : owner(KEY_SPEC_SESSION_KEYRING);
	if (*owned_by == (long long)uid) {
		say(r, PAM_SUCCESS, LOG_WARNING, "kept session keyring %ld of uid %u, the user's own", session, uid);
		return 1;
	}
	*replaced = session;
	return 0;
}

/* With the real ids switched: keep, or join and link. */
static int join(struct result *r, struct kig_state *st, int force, uint32_t uid, uint32_t gid, int fail)
{
	long replaced = 0, made;
	long long replaced_owner = -1, own;

	if (!force && keep(r, uid, &replaced, &replaced_owner, fail) != 0)
		return r->code;
	made = keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0);
	if (made < 0 && errno == ENOSYS)
		return no_keyrings(r);
	if (made < 0)
		return keyctl_failed(r, "join a new session keyring", uid, fail);
	st->serial = (int32_t)made;
	st->uid = uid;
	st->gid = gid;
	if (keyctl(KEYCTL_LINK, KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING, 0) != 0)
		return keyctl_failed(r, "link the user keyring into the session keyring", uid, fail);
	/* Never another user's keyring linked into this session: @u is
	 * resolved from the real uid, so a failed switch would show here. */
	own = owner(KEY_SPEC_USER_KEYRING);
	if (own != (long long)uid) {
		const char *undone = "unlinked it";
		char whose[96];

		if (own < 0)
			snprintf(whose, sizeof(whose), "an owner that cannot be read (%s)", strerror(errno));
		else
			snprintf(whose, sizeof(whose), "uid %lld", own);

		if (keyctl(KEYCTL_UNLINK, KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING, 0) != 0) {
			undone = "could neither unlink it nor revoke the new session keyring";
			if (keyctl(KEYCTL_REVOKE, made, 0, 0) == 0) {
				undone = "could not unlink it, so revoked the new session keyring";
				st->serial = 0;
			}
		}
		return say(r, fail, LOG_ERR, "the user keyring linked for uid %u belongs to %s: %s; "
			   "check that nothing else changes this thread's ids during the session hooks",
			   uid, whose, undone);
	}
	if (replaced != 0)
		return say(r, PAM_SUCCESS, LOG_WARNING, "made session keyring %ld for uid %u, replacing "
			   "session keyring %ld of uid %lld (without force only a session keyring of the "
			   "user's own is kept)", made, uid, replaced, replaced_owner);
	return say(r, PAM_SUCCESS, LOG_WARNING, "made session keyring %ld for uid %u", made, uid);
}

/* The real gid and uid switched to the user's on this thread, join, and
 * all six ids back. */
static int switch_and_join(struct result *r, struct kig_state *st, int force, uint32_t uid, uint32_t gid,
			   int fail)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int code;

	syscall(SYS_GETRESUID, &ru, &eu, &su);
	syscall(SYS_GETRESGID, &rg, &eg, &sg);
	/* Without root a thread may set an id only to one it holds: a real id
	 * it holds nowhere else could not be switched back. */
	if (eu != 0 && ((gid != rg && rg != eg && rg != sg) || (uid != ru && ru != eu && ru != su)))
		return say(r, fail, LOG_ERR, "Unable to switch ids for uid %u temporarily: without root "
			   "this thread could not switch its real ids back", uid);
	if (gid != rg && syscall(SYS_SETRESGID, (long)gid, KEEP, KEEP) != 0)
		return say(r, fail, LOG_ERR, "Unable to change GID to %u temporarily: %m", gid);
	if (uid != ru && syscall(SYS_SETRESUID, (long)uid, KEEP, KEEP) != 0) {
		say(r, fail, LOG_ERR, "Unable to change UID to %u temporarily: %m", uid);
		code = fail;
	} else {
		code = join(r, st, force, uid, gid, fail);
		if (uid != ru && syscall(SYS_SETRESUID, (long)ru, (long)eu, (long)su) != 0)
			code = say(r, fail, LOG_ERR, "Unable to change UID back to %u: %m", ru);
	}
	if (gid != rg && syscall(SYS_SETRESGID, (long)rg, (long)eg, (long)sg) != 0)
		code = say(r, fail, LOG_ERR, "Unable to change GID back to %u: %m", rg);
	return code;
}

int kig_plain_init(const struct kig_call *call, int hook, int argc, const char **argv,
		   struct kig_state *st, const struct kig_why *why)
{
	int fail = hook == KIG_HOOK_ESTABLISH_CRED ? PAM_CRED_ERR : PAM_SESSION_ERR;
	int force = 0, debug = 0, unknown = 0, i;
	struct result r = { PAM_SUCCESS, LOG_WARNING, "" };

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "force") == 0)
			force = 1;
		else if (strcmp(argv[i], "revoke") == 0)
			st->revoke = 1;
		else if (strcmp(argv[i], "debug") == 0)
			debug = 1;
		else
			unknown++;
	}
	st->debug = debug;
	if (st->serial > 0)
		return PAM_SUCCESS;  /* made by an earlier hook of this handle */
	if (why->kills_plain)
		say(&r, fail, LOG_ERR, "no session keyring is made, not even in C, which makes that call too");
	else if (call->user_rc != PAM_SUCCESS)
		say(&r, call->user_rc, LOG_ERR, "Unable to get the user name: pam_get_user returned PAM code "
		    "%d; the application must set PAM_USER or answer the user name prompt", call->user_rc);
	else if (!call->found) {
		char name[65];

		printable(name, call->user != NULL ? call->user : "");
		say(&r, PAM_USER_UNKNOWN, LOG_NOTICE, "Unable to look up user \"%s\"", name);
	} else
		switch_and_join(&r, st, force, call->uid, call->gid, fail);
	if (r.code == PAM_SUCCESS)
		st->settled = 1;
	pam_syslog(call->pamh, r.prio, "%s, in C: the Go core cannot run here: %s%s", r.what, why->text,
		   unknown ? "; also ignoring unknown options: valid options are debug, force and revoke"
			   : "");
	return r.code;
}
