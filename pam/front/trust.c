/* Whether to trust the Go core before loading it.
 *
 * The core runs as root inside login services, so a privileged process
 * loads it only from a path root alone could have written, as OpenSSH's
 * safe_path() checks authorized keys and sudo its plugins: the core must be
 * a regular file owned by root that group and others cannot write, in a
 * directory likewise, and so must every directory above it up to /. The one
 * relaxation: an ancestor may be a sticky directory (such as /tmp) owned by
 * root, where others may add entries but never rename or remove root's.
 * The path checked is the core's real path (symbolic links resolved), and
 * the front loads the core by that path: every name on it can only change
 * under root. Another process's write access to the file can only be root's
 * too. An unprivileged process can only harm itself and is not checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "front.h"

/* Whether this process must mind what it loads: root in any of its uids
 * (a setuid host may have dropped only its effective uid for now), started
 * from a setuid or setgid file, or holding any capability in its permitted
 * or effective set (a service started with capabilities and no root uid).
 * A process whose capabilities cannot be read counts as privileged. */
static int privileged(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];
	uid_t r, e, s;
	int i;

	if (getauxval(AT_SECURE) != 0)
		return 1;
	if (getresuid(&r, &e, &s) != 0 || r == 0 || e == 0 || s == 0)
		return 1;
	if (syscall(SYS_capget, &hdr, caps) != 0)
		return 1;
	for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (caps[i].permitted != 0 || caps[i].effective != 0)
			return 1;
	return 0;
}

static int safe_dir(const struct stat *sb)
{
	if (!S_ISDIR(sb->st_mode) || sb->st_uid != 0)
		return 0;
	return !(sb->st_mode & (S_IWGRP | S_IWOTH));
}

/* Every directory from dir's parent up to /: root's, and not writable by
 * group or others unless sticky. Returns NULL, or the one that is not. */
static const char *unsafe_ancestor(char *dir)
{
	struct stat sb;
	char *slash;

	while ((slash = strrchr(dir, '/')) != NULL) {
		if (slash == dir)
			slash[1] = '\0';  /* "/" itself, last */
		else
			*slash = '\0';
		if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != 0 ||
		    ((sb.st_mode & (S_IWGRP | S_IWOTH)) && !(sb.st_mode & S_ISVTX)))
			return dir;
		if (slash == dir)
			return NULL;
	}
	return NULL;
}

int kig_open_trusted(const char *path, char real[PATH_MAX], struct stat *sb, struct kig_why *why)
{
	static char dir[PATH_MAX];  /* the caller holds the load lock: not on a stack that may be small */
	const char *bad = NULL, *what = "file";
	int fd = -1;

	if (realpath(path, real) == NULL || (fd = open(real, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, sb) != 0) {
		kig_why(why, "the Go core %s cannot be opened (%m): reinstall pam_keyinit_go "
			"(it needs pam_keyinit_go.so and pam_keyinit_go/core.so beside it)", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!privileged())
		return fd;
	memcpy(dir, real, strlen(real) + 1);
	if (!S_ISREG(sb->st_mode) || sb->st_uid != 0 || (sb->st_mode & (S_IWGRP | S_IWOTH))) {
		bad = real;
	} else {
		struct stat db;
		char *slash = strrchr(dir, '/');

		if (slash != NULL && slash != dir)
			*slash = '\0';
		what = "directory";
		if (stat(dir, &db) != 0 || !safe_dir(&db))
			bad = dir;
		else if ((bad = unsafe_ancestor(dir)) != NULL)
			what = "directory above it";
	}
	if (bad == NULL)
		return fd;
	kig_why(why, "the Go core %s is not trusted: %s must be a root-owned %s that group "
		"and others cannot write (as the package installs it): fix its owner and mode",
		real, bad, what);
	close(fd);
	return -1;
}
