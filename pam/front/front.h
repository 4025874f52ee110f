/* The C front of pam_keyinit_go.so: what its files share. */
#ifndef KIG_FRONT_H
#define KIG_FRONT_H

#include <limits.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <security/pam_modules.h>

#include "../core_api.h"

/* The core's entry points, resolved once per process. */
struct kig_core {
	int (*started_here)(pid_t *loader);
	int (*start)(int argc, char **argv);
	void (*wait_started)(void);
	void (*forked)(void);
	int (*init)(const struct kig_call *call, int hook, int argc, const char **argv,
		    struct kig_state *st);
};

/* Why the Go core cannot run for this hook: one clause that names the
 * cause and ends in what to do. The checks fill it instead of logging, and
 * the front logs it once, in the line that says what the plain keyinit in
 * C did instead (plain_keyinit.c). */
struct kig_why {
	char text[512];
	int kills_plain;  /* the thread's seccomp filter kills a call the plain keyinit makes too */
};
void kig_why(struct kig_why *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The core if Go may run on the calling thread: the runtime was started
 * just now, or earlier in this very process, and the thread's own seccomp
 * filter lets Go run on it. Else NULL, with the reason in why; *loader then
 * gets the pid of the process that started the runtime if this one is a
 * fork of it, else 0 (also where the thread's filter refuses, which is
 * checked first: telling a fork takes a getpid such a filter may kill).
 * core_load.c */
const struct kig_core *kig_core_here(pid_t *loader, struct kig_why *why);

/* Opens the core at path for loading: its real path goes to real. In a
 * privileged process it must be a file only root could have written, and
 * so must its directories (trust.c). Returns an fd, or -1 (why says why). */
int kig_open_trusted(const char *path, char real[PATH_MAX], struct stat *sb, struct kig_why *why);

/* 1 if the Go runtime can start and run to the end in this process; else 0,
 * with the limit, its value, the need and what to do in why. preflight.c */
int kig_runtime_can_start(struct kig_why *why);
/* 1 if the calling thread's seccomp filter, if it has one, lets Go run on
 * it (seccomp_probe.c); else 0, why says which call it refuses or kills,
 * or why its probe could not tell. Called under the load lock. */
int kig_seccomp_allows_go(struct kig_why *why);
/* Reads a small file (of /proc or /sys) into buf, NUL-terminated; 0 if it
 * cannot. preflight.c */
int kig_read_file(const char *path, char *buf, size_t size);

/* The static argv, environment and auxiliary vector the runtime starts
 * with (runtime_args.c). */
char **kig_runtime_argv(int *argc);

/* fork() in every other thread of the host waits between these two
 * (core_load.c): no child is made while the caller is halfway through
 * something the child would inherit half done. */
void kig_hold_forks(void);
void kig_release_forks(void);

/* The target user of a hook that may make a keyring, resolved in C on
 * the host's stack with its signal mask: pam_get_user, then NSS. Only
 * while the handle has made no keyring, as in pam_keyinit.so. user.c */
void kig_resolve_user(pam_handle_t *pamh, const struct kig_state *st, struct kig_call *call);

/* The plain keyinit, in C, for a hook the Go core cannot serve: the same
 * rule on the calling thread, and one log line that says what it did and
 * why Go did not run. Returns the hook's PAM code. plain_keyinit.c */
int kig_plain_init(const struct kig_call *call, int hook, int argc, const char **argv,
		   struct kig_state *st, const struct kig_why *why);

/* Revokes the handle's keyring as the calling thread is, and forgets it.
 * Returns 1 if it is gone, 0 (logged) if not. revoke.c */
int kig_revoke(pam_handle_t *pamh, struct kig_state *st);

#endif
