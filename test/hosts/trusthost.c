/* trusthost: runs sessions through one or more services in one process and
 * reports what the process then holds, for test/trust_gaps_test.go.
 *
 *   trusthost USER SERVICE [SERVICE...] [--plugin FILE]
 *
 * For each SERVICE in turn (one process: a core loaded by the first stays
 * for the next) it runs pam_start, pam_open_session, pam_close_session and
 * pam_end, and prints "open N: CODE" and "keyring N: DESCRIPTION" (the
 * calling thread's session keyring inside that session). Then:
 *   ids                 real, effective, saved uid; permitted and
 *                       effective capabilities (hex); AT_SECURE
 *   mapped core         every distinct file mapped whose path ends in
 *                       /core.so, one line each
 *   threads             entries of /proc/self/task
 *   at_random           "same" if the 16 bytes AT_RANDOM points to are
 *                       what they were before PAM ran, else "changed"
 *   environ, env block  "same" if environ (entry by entry) and the block
 *                       after argv are as before, else what differs
 * With --plugin, after the sessions it opens FILE (a shared object that
 * exports int plugin_id(void) returning 42) and, for every free fd number
 * from 3 to 63, dup2()s it there and dlopen()s "/proc/self/fd/N", as a
 * plugin loader may: "plugin tried: K", "plugin wrong: W" and
 * "first plugin problem: ..." (what dlopen gave instead). A name of that
 * form once used for another object must not give that object back.
 * Ends with "done: yes".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <security/pam_appl.h>

#include "threads.h"
#include "host_pam.h"

#define MAX_ENV 256

extern char **environ;

static struct pam_conv conv = { no_conversation, NULL };

static char *env_copy[MAX_ENV], *block_copy[MAX_ENV];
static size_t env_n, block_n;
static char **env_block;
static unsigned char random_copy[16];
static const unsigned char *at_random;

static void snapshot(char **argv, int argc)
{
	char **e;

	for (e = environ; *e != NULL && env_n < MAX_ENV; e++)
		env_copy[env_n++] = strdup(*e);
	env_block = argv + argc + 1;
	for (e = env_block; *e != NULL && block_n < MAX_ENV; e++)
		block_copy[block_n++] = strdup(*e);
	at_random = (const unsigned char *)getauxval(AT_RANDOM);
	if (at_random != NULL)
		memcpy(random_copy, at_random, sizeof(random_copy));
}

static void compare(const char *what, char **now, char **was, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (now == NULL || now[i] == NULL || was[i] == NULL || strcmp(now[i], was[i]) != 0) {
			printf("%s: entry %zu is \"%s\", was \"%s\"\n", what, i,
			       now != NULL && now[i] != NULL ? now[i] : "(the end)", was[i] ? was[i] : "?");
			return;
		}
	if (now != NULL && now[n] != NULL) {
		printf("%s: entry %zu is \"%s\", was the end\n", what, n, now[n]);
		return;
	}
	printf("%s: same\n", what);
}

static void session(int i, const char *service, const char *user)
{
	pam_handle_t *h = NULL;
	char d[256];
	int rc = pam_start(service, user, &conv, &h);

	if (rc != PAM_SUCCESS) {
		printf("start %d: %d\n", i, rc);
		return;
	}
	printf("open %d: %d\n", i, pam_open_session(h, 0));
	describe_session_keyring(d, sizeof(d));
	printf("keyring %d: %s\n", i, d);
	printf("close %d: %d\n", i, pam_close_session(h, 0));
	printf("end %d: %d\n", i, pam_end(h, PAM_SUCCESS));
	fflush(stdout);
}

static void show_ids(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct cap[2];
	uid_t r, e, s;

	getresuid(&r, &e, &s);
	memset(cap, 0, sizeof(cap));
	syscall(SYS_capget, &hdr, cap);
	printf("ids: %u %u %u / %08x%08x %08x%08x / %lu\n", (unsigned)r, (unsigned)e, (unsigned)s,
	       cap[1].permitted, cap[0].permitted, cap[1].effective, cap[0].effective, getauxval(AT_SECURE));
}

static void show_mapped_cores(void)
{
	char line[4096], seen[16][4096];
	int nseen = 0, i;
	FILE *f = fopen("/proc/self/maps", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *path = strchr(line, '/');
		size_t n;

		if (path == NULL)
			continue;
		path[strcspn(path, "\n")] = '\0';
		n = strlen(path);
		if (n < 8 || strcmp(path + n - 8, "/core.so") != 0)
			continue;
		for (i = 0; i < nseen && strcmp(seen[i], path) != 0; i++)
			;
		if (i == nseen && nseen < 16)
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", path);
	}
	if (f != NULL)
		fclose(f);
	for (i = 0; i < nseen; i++)
		printf("mapped core: %s\n", seen[i]);
}

static void plugin(const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC), k, tried = 0, wrong = 0;
	char problem[4096] = "none";

	if (fd < 0) {
		printf("plugin: cannot open %s: %s\n", file, strerror(errno));
		return;
	}
	/* Kept above the numbers tried, the lowest of which it would take. */
	k = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	close(fd);
	fd = k;
	for (k = 3; k < 64; k++) {
		char name[64];
		int (*id)(void);
		void *h;

		if (fcntl(k, F_GETFD) != -1)
			continue;  /* taken */
		if (dup2(fd, k) != k)
			continue;
		snprintf(name, sizeof(name), "/proc/self/fd/%d", k);
		tried++;
		h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
		id = h != NULL ? (int (*)(void))dlsym(h, "plugin_id") : NULL;
		if ((id == NULL || id() != 42) && wrong++ == 0) {
			const char *err = h == NULL ? dlerror() : NULL;

			snprintf(problem, sizeof(problem), "%s gave %s%s%s", name,
				 h == NULL ? "an error: " : id == NULL ? "an object without plugin_id" : "plugin_id() != 42",
				 err != NULL ? err : "",
				 h != NULL && dlsym(h, "kig_core_abi") != NULL ? " (the Go core: kig_core_abi resolves)" : "");
		}
		if (h != NULL)
			dlclose(h);
		close(k);
	}
	close(fd);
	printf("plugin tried: %d\n", tried);
	printf("plugin wrong: %d\n", wrong);
	printf("first plugin problem: %s\n", problem);
}

int main(int argc, char **argv)
{
	const char *plugin_file = NULL;
	int i, n = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: trusthost USER SERVICE [SERVICE...] [--plugin FILE]\n");
		return 2;
	}
	snapshot(argv, argc);
	show_ids();
	fflush(stdout);
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--plugin") == 0 && i + 1 < argc) {
			plugin_file = argv[++i];
			continue;
		}
		session(++n, argv[i], argv[1]);
	}
	show_mapped_cores();
	printf("threads: %d\n", threads());
	printf("at_random: %s\n", at_random == NULL ? "none" :
	       memcmp(at_random, random_copy, sizeof(random_copy)) == 0 ? "same" : "changed");
	compare("environ", environ, env_copy, env_n);
	compare("env block", env_block, block_copy, block_n);
	if (plugin_file != NULL)
		plugin(plugin_file);
	printf("done: yes\n");
	return fflush(stdout) == 0 ? 0 : 1;
}
