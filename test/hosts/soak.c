/* soak CONFDIR SERVICE USER UID WARMUP COUNT
 *
 * Runs WARMUP and then COUNT full transactions (pam_start_confdir,
 * pam_open_session, pam_close_session, pam_end) on this one thread, for
 * test/faults_test.go's soak: a process of its own, so that what it
 * measures is libpam and the module, not the Go test process. Before each
 * transaction it waits while UID's key quota is nearly full (the kernel
 * frees revoked session keyrings shortly after, and a tight loop can
 * outrun it). Prints "name: value" lines: failures, first_failure, pauses,
 * rss_warm_kb, rss_end_kb, fds_warm, fds_end. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <security/pam_appl.h>

#include "keyquota.h"
#include "host_pam.h"

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;  /* the one opendir used */
}

/* 1 while uid's key count is within 8 of its limit. */
static int quota_nearly_full(unsigned uid)
{
	long keys, max;

	key_quota(uid, &keys, &max);
	return keys + 8 >= max;
}

int main(int argc, char **argv)
{
	struct pam_conv conv = { no_conversation, NULL };
	long warmup, count, i, failures = 0, pauses = 0, rss_warm = 0;
	int fds_warm = 0;
	unsigned uid;
	char first[256] = "none";

	if (argc != 7) {
		fprintf(stderr, "usage: soak CONFDIR SERVICE USER UID WARMUP COUNT\n");
		return 2;
	}
	uid = (unsigned)strtoul(argv[4], NULL, 10);
	warmup = atol(argv[5]);
	count = atol(argv[6]);
	for (i = 0; i < warmup + count; i++) {
		pam_handle_t *pamh = NULL;
		int rc, waited = 0;
		const char *step = "pam_start";

		if (i == warmup) {
			rss_warm = rss_kb();
			fds_warm = open_fds();
		}
		for (int j = 0; j < 10000 && quota_nearly_full(uid); j++) {
			struct timespec ms = { 0, 1000000 };
			nanosleep(&ms, NULL);
			waited = 1;
		}
		pauses += waited;
		rc = pam_start_confdir(argv[2], argv[3], &conv, argv[1], &pamh);
		if (rc == PAM_SUCCESS) {
			step = "open_session";
			rc = pam_open_session(pamh, 0);
		}
		if (rc == PAM_SUCCESS) {
			step = "close_session";
			rc = pam_close_session(pamh, 0);
		}
		if (pamh != NULL) {
			int end = pam_end(pamh, rc);
			if (rc == PAM_SUCCESS && end != PAM_SUCCESS) {
				step = "pam_end";
				rc = end;
			}
		}
		if (rc != PAM_SUCCESS) {
			if (failures++ == 0)
				snprintf(first, sizeof(first), "transaction %ld: %s: %s", i, step, pam_strerror(NULL, rc));
		}
	}
	printf("failures: %ld\nfirst_failure: %s\npauses: %ld\n", failures, first, pauses);
	printf("rss_warm_kb: %ld\nrss_end_kb: %ld\nfds_warm: %d\nfds_end: %d\n", rss_warm, rss_kb(), fds_warm, open_fds());
	return 0;
}
