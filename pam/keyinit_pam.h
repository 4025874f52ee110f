/* Declarations shared by the C boundary (module.c, shims.c) and the Go
 * bridge (bridge.go). */
#ifndef KEYINIT_PAM_H
#define KEYINIT_PAM_H

#include <stdint.h>
#include <security/pam_modules.h>

/* What one PAM handle remembers between hooks; the Go side is keyinit.State.
 * It lives in C memory attached to the handle with pam_set_data, so that it
 * is per handle (thread-safe), survives fork, and is freed by C. */
struct kig_state {
	int32_t serial;   /* session keyring this handle made; 0 if none */
	uint32_t uid;     /* its owner, to revoke as */
	uint32_t gid;
	int32_t opens;    /* open_session calls minus close_session calls */
	int32_t revoke;   /* "revoke" seen by a call that could make a keyring */
};

/* Shims for the Go bridge: cgo cannot call variadic functions, and these keep
 * libpam's pointers on the C side. */
void kig_log(pam_handle_t *pamh, int priority, const char *msg);
int kig_get_user(pam_handle_t *pamh, const char **user);
int kig_lookup_user(pam_handle_t *pamh, const char *name, uint32_t *uid, uint32_t *gid);

#endif
