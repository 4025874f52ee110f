/* Declarations shared by the core's C files (shims.c, core_entry.c) and the
 * Go bridge (bridge.go). */
#ifndef KEYINIT_PAM_H
#define KEYINIT_PAM_H

#include <signal.h>
#include <stdint.h>
#include <security/pam_modules.h>

#include "core_api.h"

/* The shim for the Go bridge's log lines: cgo cannot call variadic
 * functions. shims.c */
void kig_log(pam_handle_t *pamh, int priority, const char *msg);

/* Around a call from Go back out to C (core_entry.c): the host's signal
 * mask for the length of the call, and the one Go code runs with again. */
void kig_host_signals(sigset_t *go);
void kig_go_signals(const sigset_t *go);

#endif
