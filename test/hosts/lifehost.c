/* lifehost: what a session costs the process that keeps it, for
 * test/session_life_test.go.
 *
 *   lifehost idle CONFDIR SERVICE USER
 *       Opens one session on the main thread and prints "opened: 1" and
 *       "threads: N". Then it blocks reading stdin, as sshd's [priv] or
 *       su's parent waits for the session to end, so the test can count the
 *       context switches of every thread meanwhile; at EOF it closes the
 *       session and prints "closed: 1".
 *
 *   lifehost hooks CONFDIR SERVICE USER UID
 *       Runs open+close pairs, each in a transaction of its own, up to 1,
 *       100 and 1,000 pairs in all: the first on the main thread, the rest
 *       on 8 threads at once. After each step, with the worker threads
 *       joined, it prints "after_N: T" (T: threads of the process) and
 *       "failed_N: F" (pairs that failed so far).
 *
 *   lifehost pair CONFDIR SERVICE USER
 *       One open+close pair to warm up, then getppid(), one warm pair on
 *       the same handle, getppid() again: the markers that let the test
 *       count the system calls of a warm pair under strace. Prints
 *       "rc: OPEN CLOSE" of the warm pair.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <security/pam_appl.h>

#include "keyquota.h"
#include "threads.h"
#include "host_pam.h"

#define WORKERS 8

static const char *confdir, *service, *user;
static unsigned long user_uid;

static const struct pam_conv conv = { no_conversation, NULL };

static pam_handle_t *start(void)
{
	pam_handle_t *pamh = NULL;
	int rc = pam_start_confdir(service, user, &conv, confdir, &pamh);

	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "lifehost: pam_start_confdir: %s\n", pam_strerror(pamh, rc));
		exit(2);
	}
	return pamh;
}

/* One transaction with one open+close pair; 0 if both succeeded. */
static int transaction(void)
{
	pam_handle_t *pamh;
	int rc;

	wait_for_key_quota(user_uid);
	pamh = start();
	rc = pam_open_session(pamh, 0);
	if (rc == PAM_SUCCESS)
		rc = pam_close_session(pamh, 0);
	pam_end(pamh, rc);
	return rc != PAM_SUCCESS;
}

static void idle(void)
{
	pam_handle_t *pamh = start();
	char buf[64];
	int rc = pam_open_session(pamh, 0);

	printf("opened: %d\nthreads: %d\n", rc == PAM_SUCCESS, threads());
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	rc = pam_close_session(pamh, 0);
	pam_end(pamh, rc);
	printf("closed: %d\n", rc == PAM_SUCCESS);
}

struct worker {
	pthread_t thread;
	pid_t tid;
	long pairs;
	long failed;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	long i;

	w->tid = syscall(SYS_gettid);
	for (i = 0; i < w->pairs; i++)
		w->failed += transaction();
	return NULL;
}

/* pthread_join returns when the kernel clears the thread's tid, before the
 * task is reaped: for a moment the joined thread is still in
 * /proc/self/task (seen in the arm64 VM), and would be counted as the
 * runtime's. Wait, up to 2 s, until it is gone. */
static void wait_until_gone(pid_t tid)
{
	char path[64];
	int i;

	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
	for (i = 0; i < 2000 && access(path, F_OK) == 0; i++)
		usleep(1000);
}

/* n pairs on WORKERS threads at once; returns the failures. */
static long in_parallel(long n)
{
	struct worker w[WORKERS];
	long failed = 0;
	int i;

	for (i = 0; i < WORKERS; i++) {
		w[i].pairs = n / WORKERS + (i < n % WORKERS);
		w[i].failed = 0;
		if (pthread_create(&w[i].thread, NULL, work, &w[i]) != 0) {
			fprintf(stderr, "lifehost: pthread_create failed\n");
			exit(2);
		}
	}
	for (i = 0; i < WORKERS; i++) {
		pthread_join(w[i].thread, NULL);
		wait_until_gone(w[i].tid);
		failed += w[i].failed;
	}
	return failed;
}

static void hooks(void)
{
	long failed = transaction();

	printf("after_1: %d\nfailed_1: %ld\n", threads(), failed);
	failed += in_parallel(99);
	printf("after_100: %d\nfailed_100: %ld\n", threads(), failed);
	failed += in_parallel(900);
	printf("after_1000: %d\nfailed_1000: %ld\n", threads(), failed);
}

static void pair(void)
{
	pam_handle_t *pamh = start();
	int open_rc, close_rc;

	pam_open_session(pamh, 0);
	pam_close_session(pamh, 0);
	syscall(SYS_getppid);
	open_rc = pam_open_session(pamh, 0);
	close_rc = pam_close_session(pamh, 0);
	syscall(SYS_getppid);
	pam_end(pamh, PAM_SUCCESS);
	printf("rc: %d %d\n", open_rc, close_rc);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: lifehost idle|hooks|pair CONFDIR SERVICE USER [UID]\n");
		return 2;
	}
	confdir = argv[2];
	service = argv[3];
	user = argv[4];
	if (!strcmp(argv[1], "idle"))
		idle();
	else if (!strcmp(argv[1], "hooks") && argc == 6) {
		user_uid = strtoul(argv[5], NULL, 10);
		hooks();
	} else if (!strcmp(argv[1], "pair"))
		pair();
	else {
		fprintf(stderr, "lifehost: unknown mode %s\n", argv[1]);
		return 2;
	}
	return 0;
}
