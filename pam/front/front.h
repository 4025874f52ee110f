/* The C front of pam_keyinit_go.so: what its files share. */
#ifndef KIG_FRONT_H
#define KIG_FRONT_H

#include <sys/types.h>
#include <security/pam_modules.h>

#include "../core_api.h"

/* The core's entry points, resolved once per process. */
struct kig_core {
	int (*started_here)(pid_t *loader);
	int (*init)(pam_handle_t *pamh, int hook, int argc, const char **argv,
		    struct kig_state *st);
};

/* The core if Go may run in this process: it was loaded just now, or
 * earlier in this very process. NULL if this process was forked from the one
 * that started it (*loader gets that pid, nothing is logged), or if it
 * cannot be loaded (one LOG_ERR line says why, *loader is 0). core_load.c */
const struct kig_core *kig_core_here(pam_handle_t *pamh, pid_t *loader);

/* Revokes the handle's keyring as the calling thread is, and forgets it.
 * Returns 1 if it is gone, 0 (logged) if not. revoke.c */
int kig_revoke(pam_handle_t *pamh, struct kig_state *st);

#endif
