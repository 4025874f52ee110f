/* The interface between the two files of the module:
 *   - the C front, pam_keyinit_go.so (front/): the PAM hooks libpam loads;
 *   - the Go core, pam_keyinit_go/core.so (this directory): the keyring
 *     policy, which the front loads with dlopen on the first hook that needs
 *     Go, so that hosts which never get that far never start a Go runtime.
 * Both include this file. The front refuses a core whose kig_core_abi()
 * differs from KIG_CORE_ABI: the two files are installed together, and a
 * half-done upgrade must fail one session, not misread a struct. */
#ifndef KIG_CORE_API_H
#define KIG_CORE_API_H

#include <stdint.h>
#include <sys/types.h>
#include <security/pam_modules.h>

#define KIG_CORE_ABI 5

/* What one PAM handle remembers between hooks; the Go side is keyinit.State.
 * It lives in C memory attached to the handle with pam_set_data, so that it
 * is per handle (thread-safe), survives fork, and is freed by C. */
struct kig_state {
	int32_t serial;   /* session keyring this handle made; 0 if none */
	uint32_t uid;     /* its owner, for log lines */
	uint32_t gid;
	int32_t opens;    /* open_session calls minus close_session calls */
	int32_t revoke;   /* "revoke" seen by a call that could make a keyring */
	int32_t debug;    /* "debug" seen by the last call that could make one */
	int32_t settled;  /* a hook made the keyring, or found none was needed */
};

/* One hook's call: the handle, and the target user the front resolved in
 * C before anything else (front/user.c), for the Go core and for the plain
 * keyinit in C alike (keyinit.Host's User and LookupUser read it). */
struct kig_call {
	pam_handle_t *pamh;
	const char *user;  /* PAM_USER from pam_get_user, or NULL */
	int user_rc;       /* pam_get_user's code */
	int found;         /* 1 if NSS knows user */
	uint32_t uid;      /* its ids, if found */
	uint32_t gid;
};

/* The hooks that can make a keyring (keyinit.Hook). */
#define KIG_HOOK_OPEN_SESSION   0
#define KIG_HOOK_ESTABLISH_CRED 1

/* The core's entry points, all C (core_entry.c); only they are exported. */
int kig_core_abi(void);
/* 1 if the core's Go runtime was started in this very process; 0 before it
 * is started, and in any child forked or cloned from the process that
 * started it, where Go can hang. *loader gets the pid of that process, or
 * 0 if the runtime was never started (the caller may start it). */
int kig_core_started_here(pid_t *loader);
/* Starts the runtime with argv (argc entries, NULL, the environment, NULL,
 * the auxiliary vector), which must stay valid for the life of the process:
 * the runtime keeps pointers into it. Returns 0 if the core has no runtime
 * entry. Only the front calls it, once, after checking the runtime can run
 * (front/preflight.c). */
int kig_core_start(int argc, char **argv);
/* Marks a fork() child (the front's atfork handler calls it). */
void kig_core_forked(void);
/* Returns once the runtime has finished starting, its threads blocking
 * every signal (runtime_guard.c). */
void kig_core_wait_started(void);
/* Makes the session keyring (keyinit.Module.Init) on the calling thread,
 * for the user the front resolved. */
int kig_core_init(const struct kig_call *call, int hook, int argc, const char **argv,
		  struct kig_state *st);

#endif
