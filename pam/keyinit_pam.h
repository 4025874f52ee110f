/* Declarations shared by the core's C files (shims.c, core_entry.c) and the
 * Go bridge (bridge.go). */
#ifndef KEYINIT_PAM_H
#define KEYINIT_PAM_H

#include <signal.h>
#include <stdint.h>
#include <security/pam_modules.h>

#include "core_api.h"

/* Shims for the Go bridge: cgo cannot call variadic functions, and these keep
 * libpam's pointers on the C side. */
void kig_log(pam_handle_t *pamh, int priority, const char *msg);
int kig_get_user(pam_handle_t *pamh, const char **user);
int kig_lookup_user(pam_handle_t *pamh, const char *name, uint32_t *uid, uint32_t *gid);

/* Around a call from Go back out to C (core_entry.c): the host's signal
 * mask for the length of the call, and the one Go code runs with again. */
void kig_host_signals(sigset_t *go);
void kig_go_signals(const sigset_t *go);

#endif
