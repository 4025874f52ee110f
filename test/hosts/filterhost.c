/* filterhost MODE REPORT SERVICE USER RULES
 *
 * A PAM host whose session hooks run under a seccomp filter (RULES, as
 * seccomp_rules.h reads them), for test/thread_filter_test.go:
 *   cold   a thread installs RULES on itself alone (no TSYNC) and opens and
 *          closes a session there: the first session hook of the process;
 *   warm   the same, after the main thread opened and closed a session (the
 *          Go runtime is running);
 *   pair   a thread with a harmless filter of its own (request_key=EPERM)
 *          makes a transaction and ends, then another as in cold;
 *   grow   one thread makes a transaction under the harmless filter, then
 *          adds RULES as a second filter and makes another; it does not
 *          end (the process exits around it): a thread Go ran on calls the
 *          runtime's sigaltstack when it ends, which RULES may kill;
 *   reap   another thread reaps with waitpid(-1, ..., __WALL) in a loop,
 *          while the main thread, under RULES of its own, opens and closes
 *          a session;
 *   stop, kill
 *          as cold, with getcpu handed to a supervisor thread (no thread of
 *          the host makes it, the front's probe child does): the supervisor
 *          sends SIGSTOP, or SIGKILL, to the process that makes the first
 *          one, and lets later ones through.
 * It writes "name: value" lines to REPORT: "open" (its code), "open_us"
 * (how long it took, in microseconds), "session keyring" and one "linked"
 * for each key in it (as KEYCTL_DESCRIBE gives them, read on the thread
 * that opened), "close", "reaped" (reap: how many children the reaper
 * reaped), "signalled" (stop, kill: the pid), and "alive: yes" last.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <security/pam_appl.h>

#include "seccomp_rules.h"
#include "host_pam.h"

#define KEYCTL_READ 11

static const char *service, *user;
static FILE *report;
static const struct pam_conv conv = { no_conversation, NULL };

/* The calling thread's session keyring and the keys linked in it. */
static void show_keyrings(void)
{
	int32_t ids[64];
	long id = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
	long n = syscall(SYS_keyctl, KEYCTL_READ, id, ids, sizeof(ids));
	char d[256];
	long i;

	describe_session_keyring(d, sizeof(d));
	fprintf(report, "session keyring: %s\n", d);
	for (i = 0; i < n / (long)sizeof(ids[0]) && i < 64; i++) {
		if (syscall(SYS_keyctl, KEYCTL_DESCRIBE, (long)ids[i], d, sizeof(d)) < 0)
			snprintf(d, sizeof(d), "error %d", errno);
		d[sizeof(d) - 1] = '\0';
		fprintf(report, "linked: %s\n", d);
	}
}

static int supervised_signal;  /* stop, kill: what the supervisor sends */
static int listener_pipe[2];   /* the filtered thread hands its listener over */

/* One transaction; with rules, under a filter the calling thread installs
 * on itself after pam_start (in stop and kill, with a listener it hands to
 * the supervisor). */
static void transaction(const char *rules)
{
	struct timespec t0, t1;
	pam_handle_t *h = NULL;
	int rc, listener = -1;

	if (pam_start(service, user, &conv, &h) != PAM_SUCCESS) {
		fprintf(report, "pam_start: failed\n");
		return;
	}
	if (rules != NULL && (install_seccomp_filter(rules, supervised_signal ? &listener : NULL) != 0 ||
			      (supervised_signal && write(listener_pipe[1], &listener, sizeof(listener)) !=
							    sizeof(listener)))) {
		fprintf(report, "filter: failed\n");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = pam_open_session(h, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(report, "open: %d\nopen_us: %ld\n", rc,
		(long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
	if (rc == PAM_SUCCESS)
		show_keyrings();
	fprintf(report, "close: %d\n", pam_close_session(h, 0));
	pam_end(h, PAM_SUCCESS);
}

static const char *thread_rules;
#define HARMLESS "request_key=EPERM"  /* neither the front nor Go makes it */

static void *filtered(void *arg)
{
	(void)arg;
	transaction(thread_rules);
	return NULL;
}

static void *harmless(void *arg)
{
	(void)arg;
	transaction(HARMLESS);
	return NULL;
}

static int done_pipe[2];

static void *growing(void *arg)
{
	(void)arg;
	transaction(HARMLESS);
	transaction(thread_rules);
	if (write(done_pipe[1], "", 1) != 1)
		return NULL;
	for (;;)
		pause();
}

static void *supervise(void *arg)
{
	int fd, signalled = 0;

	(void)arg;
	if (read(listener_pipe[0], &fd, sizeof(fd)) != sizeof(fd))
		return NULL;
	for (;;) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;

		memset(&req, 0, sizeof(req));
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (!signalled) {
			/* No answer: the signal withdraws the notification. */
			signalled = (int)req.pid;
			fprintf(report, "signalled: %d\n", signalled);
			kill((pid_t)req.pid, supervised_signal);
			continue;
		}
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

static volatile int reaping = 1;
static int reaped;

static void *reap(void *arg)
{
	int status;

	(void)arg;
	/* Polls without a pause: a child that ends is reaped before the
	 * front's own poll, 100 us apart, comes round. */
	while (reaping)
		if (waitpid(-1, &status, __WALL | WNOHANG) > 0)
			reaped++;
	return NULL;
}

static int run_thread(void *(*fn)(void *))
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, NULL) != 0)
		return -1;
	return pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
	const char *mode;
	pthread_t t;
	char rules[512];

	if (argc != 6)
		return 2;
	mode = argv[1];
	service = argv[3];
	user = argv[4];
	if ((report = fopen(argv[2], "w")) == NULL)
		return 3;
	setvbuf(report, NULL, _IOLBF, 0);
	thread_rules = argv[5];
	if (strcmp(mode, "cold") == 0) {
		run_thread(filtered);
	} else if (strcmp(mode, "warm") == 0) {
		transaction(NULL);
		run_thread(filtered);
	} else if (strcmp(mode, "pair") == 0) {
		run_thread(harmless);
		run_thread(filtered);
	} else if (strcmp(mode, "grow") == 0) {
		char done;

		if (pipe(done_pipe) != 0 || pthread_create(&t, NULL, growing, NULL) != 0 ||
		    read(done_pipe[0], &done, 1) != 1)
			return 4;
	} else if (strcmp(mode, "reap") == 0) {
		if (pthread_create(&t, NULL, reap, NULL) != 0)
			return 4;
		transaction(argv[5]);
		reaping = 0;
		pthread_join(t, NULL);
		fprintf(report, "reaped: %d\n", reaped);
	} else if (strcmp(mode, "stop") == 0 || strcmp(mode, "kill") == 0) {
		supervised_signal = strcmp(mode, "stop") == 0 ? SIGSTOP : SIGKILL;
		snprintf(rules, sizeof(rules), "%s%sgetcpu=notify", argv[5], argv[5][0] ? "," : "");
		thread_rules = rules;
		if (pipe(listener_pipe) != 0 || pthread_create(&t, NULL, supervise, NULL) != 0)
			return 4;
		run_thread(filtered);
	} else {
		return 2;
	}
	fprintf(report, "alive: yes\n");
	return 0;
}
