/* What the C test hosts (and the benchmark driver) share about PAM and
 * keyctl: a conversation that answers nothing, for services that ask
 * nothing (PAM_USER is set at pam_start), and the keyctl(2) numbers they
 * read the session keyring with, without linking libkeyutils. */
#ifndef KIG_HOST_PAM_H
#define KIG_HOST_PAM_H

#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <security/pam_appl.h>

#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_DESCRIBE 6
#define KEY_SPEC_SESSION_KEYRING -3

static inline int no_conversation(int n, const struct pam_message **msg,
				  struct pam_response **resp, void *data)
{
	(void)n; (void)msg; (void)resp; (void)data;
	return PAM_CONV_ERR;
}

/* The calling thread's session keyring as KEYCTL_DESCRIBE gives it
 * ("keyring;uid;gid;perm;name"), or "error N". Looking it up installs the
 * user-session keyring in a thread that has none: call it only after the
 * operation under test. */
static inline void describe_session_keyring(char *d, size_t len)
{
	long id = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);

	if (syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, d, len) < 0)
		snprintf(d, len, "error %d", errno);
	d[len - 1] = '\0';
}

#endif
