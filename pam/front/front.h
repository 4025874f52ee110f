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
	int (*init)(pam_handle_t *pamh, int hook, int argc, const char **argv,
		    struct kig_state *st);
};

/* The core if Go may run in this process: its runtime was started just now,
 * or earlier in this very process. NULL if this process was forked from the
 * one that started it (*loader gets that pid, nothing is logged), or if it
 * cannot be loaded or started (one LOG_ERR line says why, *loader is 0).
 * core_load.c */
const struct kig_core *kig_core_here(pam_handle_t *pamh, pid_t *loader);

/* Opens the core at path for loading: its real path goes to real. In a
 * privileged process it must be a file only root could have written, and
 * so must its directories (trust.c). Returns an fd, or -1 after one line. */
int kig_open_trusted(pam_handle_t *pamh, const char *path, char real[PATH_MAX], struct stat *sb);

/* 1 if the Go runtime can start and run to the end in this process; else 0
 * after one line naming the limit, its value, the need and what to do.
 * preflight.c, seccomp_probe.c */
int kig_runtime_can_start(pam_handle_t *pamh);
int kig_seccomp_allows_runtime(pam_handle_t *pamh);
/* Reads a small file (of /proc or /sys) into buf, NUL-terminated; 0 if it
 * cannot. preflight.c */
int kig_read_file(const char *path, char *buf, size_t size);

/* The static argv, environment and auxiliary vector the runtime starts
 * with (runtime_args.c). */
char **kig_runtime_argv(int *argc);

/* Revokes the handle's keyring as the calling thread is, and forgets it.
 * Returns 1 if it is gone, 0 (logged) if not. revoke.c */
int kig_revoke(pam_handle_t *pamh, struct kig_state *st);

#endif
