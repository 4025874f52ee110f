/* Small C helpers the Go bridge calls: libpam's, NSS's and syslog's calls
 * back out of Go. They can take long (an LDAP or SSSD lookup, the host's
 * conversation function, a stuck /dev/log), so each runs with the host's
 * own signal mask, as it would without the module: Ctrl-C, a timeout's
 * SIGALRM or a service manager's SIGTERM are not held up by the module.
 * That is safe here, where it is not while Go code runs: these calls run on
 * the thread's own C stack, not on a goroutine's (core_entry.c). */
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <syslog.h>
#include <security/pam_ext.h>
#include <security/pam_modutil.h>

#include "keyinit_pam.h"

void kig_log(pam_handle_t *pamh, int priority, const char *msg)
{
	sigset_t go;

	kig_host_signals(&go);
	pam_syslog(pamh, priority, "%s", msg);
	kig_go_signals(&go);
}

int kig_get_user(pam_handle_t *pamh, const char **user)
{
	sigset_t go;
	int rc;

	kig_host_signals(&go);
	rc = pam_get_user(pamh, user, "key user");
	kig_go_signals(&go);
	return rc;
}

/* Looks the user up through NSS (files, LDAP, SSSD, ...). Returns 1 if found. */
int kig_lookup_user(pam_handle_t *pamh, const char *name, uint32_t *uid, uint32_t *gid)
{
	sigset_t go;
	struct passwd *pw;

	kig_host_signals(&go);
	pw = pam_modutil_getpwnam(pamh, name);
	kig_go_signals(&go);
	if (pw == NULL)
		return 0;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 1;
}
