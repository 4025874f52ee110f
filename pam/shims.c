/* Small C helpers the Go bridge calls. */
#include <pwd.h>
#include <stddef.h>
#include <syslog.h>
#include <security/pam_ext.h>
#include <security/pam_modutil.h>

#include "keyinit_pam.h"

void kig_log(pam_handle_t *pamh, int priority, const char *msg)
{
	pam_syslog(pamh, priority, "%s", msg);
}

int kig_get_user(pam_handle_t *pamh, const char **user)
{
	return pam_get_user(pamh, user, "key user");
}

/* Looks the user up through NSS (files, LDAP, SSSD, ...). Returns 1 if found. */
int kig_lookup_user(pam_handle_t *pamh, const char *name, uint32_t *uid, uint32_t *gid)
{
	struct passwd *pw = pam_modutil_getpwnam(pamh, name);

	if (pw == NULL)
		return 0;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 1;
}
