/* The benchmark driver behind 'make bench' (test/bench/run.sh runs it).
 *
 * It is a plain C PAM host, like login or cron, so every module is measured
 * the same way and the Go modules pay their real cgo entry and runtime
 * start-up. Each run uses one service of a pam_start_confdir directory, made
 * by run.sh, that holds a single "session required MODULE ..." line (for
 * mem, pam_permit.so auth and account lines before it).
 *
 *   bench warm DIR SERVICE USER N   N x (open, close), PAIRS_PER_HANDLE on each handle
 *   bench full DIR SERVICE USER N   N x (pam_start, open, close, pam_end)
 *   bench cold DIR SERVICE USER N   N x a new process running "once"
 *   bench once DIR SERVICE USER     one transaction; the exit code says if it worked
 *   bench mem  DIR SERVICE USER N   memory and threads before any session hook,
 *                                   after the first open and after N transactions
 *
 * Each mode prints one line of name=value pairs: ns= is the mean time of one
 * successful step, med= the median (a typical step; on a shared machine the
 * mean also holds other processes' time slices). Each step is timed on its
 * own, and the clock stops between steps for two things of the kernel and
 * of libpam:
 *
 * - With "force revoke" each open makes a keyring that counts against the
 *   user's key quota (kernel.keys.maxkeys, 200 for a non-root user) until
 *   the kernel's deferred key garbage collector frees it, some milliseconds
 *   after the close; a tight loop outruns it and open fails with EDQUOT.
 *   Every PAIRS_PER_HANDLE steps the driver reads the user's quota in
 *   /proc/key-users and, past three quarters, waits for the collector (the
 *   machine's key limits are not touched). A step that fails all the same
 *   is counted (errors=) and left out of the time.
 * - pam_modutil_getpwnam, which both keyinit modules call at every open,
 *   leaves one more item in the handle's data list each time and searches
 *   the whole list the next time: the k-th open on one handle costs O(k^2)
 *   string compares in libpam. Real hosts open once or twice per handle, so
 *   warm pairs run PAIRS_PER_HANDLE at a time on one handle.
 */
#define _GNU_SOURCE
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <security/pam_appl.h>

#include "../hosts/keyquota.h"
#include "../hosts/host_pam.h"

#define PAIRS_PER_HANDLE 16

extern char **environ;

/* No module of the bench stacks asks anything. */
static const struct pam_conv conv = { no_conversation, NULL };

static const char *dir, *service, *user;
static uid_t user_uid;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits, off the clock, until the key collector has freed most of the
 * user's quota, if more than three quarters of it is in use. */
static void pace(void)
{
	long keys, max;

	key_quota(user_uid, &keys, &max);
	if (keys <= max * 3 / 4)
		return;
	for (int ms = 0; ms < 5000 && keys > max / 4; ms++) {
		usleep(1000);
		key_quota(user_uid, &keys, &max);
	}
}

static pam_handle_t *start(void)
{
	pam_handle_t *h = NULL;
	int rc = pam_start_confdir(service, user, &conv, dir, &h);

	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "bench: pam_start_confdir(%s, %s): %s\n", service, dir,
			h ? pam_strerror(h, rc) : "failed");
		exit(2);
	}
	return h;
}

/* One open and close on h; returns the number of failed calls (0..2). */
static int open_close(pam_handle_t *h)
{
	int errors = 0;

	if (pam_open_session(h, 0) != PAM_SUCCESS)
		errors++;
	if (pam_close_session(h, 0) != PAM_SUCCESS)
		errors++;
	return errors;
}

static int transaction(void)
{
	pam_handle_t *h = start();
	int errors = open_close(h);

	if (pam_end(h, PAM_SUCCESS) != PAM_SUCCESS)
		errors++;
	return errors;
}

/* The times of successful steps (steps, when not NULL, holds each); a
 * failed step is counted, not timed. */
struct tally {
	long ok, errors;
	long long ns;
	long long *steps;
};

static void add(struct tally *t, long long t0, int errors)
{
	long long dt = now_ns() - t0;

	if (errors == 0) {
		if (t->steps != NULL)
			t->steps[t->ok] = dt;
		t->ok++;
		t->ns += dt;
		return;
	}
	t->errors += errors;
	if (t->errors > 10000) {
		fprintf(stderr, "bench: %s: more than 10000 failed calls, giving up\n", service);
		exit(1);
	}
	usleep(1000);  /* most likely EDQUOT: give the key collector time */
}

static int by_value(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* A tally that records each of n steps. */
static struct tally timed(long n)
{
	struct tally t = { 0, 0, 0, calloc(n, sizeof(long long)) };

	if (t.steps == NULL) {
		perror("bench: calloc");
		exit(2);
	}
	return t;
}

static void report(struct tally *t)
{
	qsort(t->steps, t->ok, sizeof(long long), by_value);
	printf("ns=%lld med=%lld errors=%ld n=%ld\n", t->ns / t->ok, t->steps[t->ok / 2], t->errors, t->ok);
	free(t->steps);
}

/* The first PAIRS_PER_HANDLE steps of warm and full, which fault in the
 * module's code and data, are not counted. */
static struct tally *counted(struct tally *t, struct tally *warmup)
{
	return warmup->ok < PAIRS_PER_HANDLE ? warmup : t;
}

static void warm(long n)
{
	struct tally t = timed(n), warmup = { 0, 0, 0, NULL };

	while (t.ok < n) {
		pam_handle_t *h;

		pace();
		h = start();
		for (int i = 0; i < PAIRS_PER_HANDLE && t.ok < n; i++) {
			struct tally *into = counted(&t, &warmup);
			long long t0 = now_ns();

			add(into, t0, open_close(h));
		}
		pam_end(h, PAM_SUCCESS);
	}
	report(&t);
}

static void full(long n)
{
	struct tally t = timed(n), warmup = { 0, 0, 0, NULL };

	for (long i = 0; t.ok < n; i++) {
		struct tally *into = counted(&t, &warmup);
		long long t0;

		if (i % PAIRS_PER_HANDLE == 0)
			pace();
		t0 = now_ns();
		add(into, t0, transaction());
	}
	report(&t);
}

/* Each child is this program run as "once": exec, dynamic linking of libpam,
 * pam_start loading the module, open (the Go runtime starts at pam_start for
 * the bare Go module, at the first open for ours), close, pam_end and exit.
 * The clock runs from spawn to reaping. */
static void cold(long n, const char *self)
{
	char *argv[] = { (char *)self, "once", (char *)dir, (char *)service, (char *)user, NULL };
	struct tally t = timed(n), warmup = { 0, 0, 0, NULL };

	for (long i = 0; t.ok < n; i++) {
		struct tally *into = warmup.ok < 2 ? &warmup : &t;
		long long t0;
		pid_t pid;
		int status;

		if (i % PAIRS_PER_HANDLE == 0)
			pace();
		t0 = now_ns();
		if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ) != 0) {
			perror("bench: posix_spawn");
			exit(2);
		}
		if (waitpid(pid, &status, 0) != pid)
			status = -1;
		add(into, t0, !WIFEXITED(status) || WEXITSTATUS(status) != 0);
	}
	report(&t);
}

/* The number after "name" in the first line of file that starts with it,
 * or -1. */
static long proc_field(const char *file, const char *name)
{
	char line[256];
	long v = -1;
	size_t len = strlen(name);
	FILE *f = fopen(file, "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, len) == 0) {
			sscanf(line + len, "%ld", &v);
			break;
		}
	fclose(f);
	return v;
}

/* What mem reports at each point: resident memory, the part of it that is
 * this process's own written pages (Private_Dirty: the heap, stacks and
 * data the module and a Go runtime add; file pages of code are shared with
 * every process that maps them and do not count), and threads. */
struct usage {
	long rss_kib, dirty_kib, threads;
};

static struct usage measure(void)
{
	struct usage u = {
		proc_field("/proc/self/status", "VmRSS:"),
		proc_field("/proc/self/smaps_rollup", "Private_Dirty:"),
		proc_field("/proc/self/status", "Threads:"),
	};
	return u;
}

static void print_usage(const char *at, struct usage u)
{
	printf("rss_%s_kib=%ld dirty_%s_kib=%ld threads_%s=%ld ", at, u.rss_kib, at, u.dirty_kib, at, u.threads);
}

static void transactions(struct tally *t, long until)
{
	for (long i = 0; t->ok < until; i++) {
		if (i % PAIRS_PER_HANDLE == 0)
			pace();
		add(t, now_ns(), transaction());
	}
}

/* A Go runtime finishes starting in threads of its own after the call that
 * started it returns (dlopen for the bare module, the first open for ours);
 * waiting lets it settle so the figures do not depend on a race. */
static void settle(void)
{
	usleep(200000);
}

/* First a host that never reaches a session: pam_start, pam_authenticate,
 * pam_acct_mgmt (pam_permit.so in the service), as su or sudo do before a
 * session or when they fail; the module is loaded but none of its hooks has
 * run. Then the first open and close on that handle, then n transactions.
 * The first handle stays open, so a C module stays loaded across the
 * transactions as it would in a host that keeps one. Memory is also read
 * after the first tenth of the transactions: growth after that point is
 * growth per transaction, not the one-time cost of the first calls. */
static void mem(long n)
{
	struct tally t = { 0, 0, 0, NULL };
	struct usage idle, open, tenth, after;
	pam_handle_t *h = start();

	if (pam_authenticate(h, 0) != PAM_SUCCESS)
		t.errors++;
	if (pam_acct_mgmt(h, 0) != PAM_SUCCESS)
		t.errors++;
	settle();
	idle = measure();
	if (pam_open_session(h, 0) != PAM_SUCCESS)
		t.errors++;
	settle();
	open = measure();
	if (pam_close_session(h, 0) != PAM_SUCCESS)
		t.errors++;
	transactions(&t, n / 10);
	tenth = measure();
	transactions(&t, n);
	after = measure();
	/* Printed at the end: stdio's buffer is not counted at any point. */
	print_usage("idle", idle);
	print_usage("open", open);
	print_usage("tenth", tenth);
	print_usage("after", after);
	printf("errors=%ld n=%ld\n", t.errors, t.ok);
	pam_end(h, PAM_SUCCESS);
}

int main(int argc, char **argv)
{
	struct passwd *pw;
	long n = 0;

	if (argc < 5 || (strcmp(argv[1], "once") != 0 && argc < 6)) {
		fprintf(stderr, "usage: %s warm|full|cold|mem|once CONFDIR SERVICE USER [N]\n", argv[0]);
		return 2;
	}
	dir = argv[2];
	service = argv[3];
	user = argv[4];
	if (argc > 5 && (n = atol(argv[5])) <= 0) {
		fprintf(stderr, "bench: N must be positive\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (strcmp(argv[1], "once") == 0)
		return transaction() == 0 ? 0 : 1;
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "bench: no user %s\n", user);
		return 2;
	}
	user_uid = pw->pw_uid;
	if (strcmp(argv[1], "warm") == 0)
		warm(n);
	else if (strcmp(argv[1], "full") == 0)
		full(n);
	else if (strcmp(argv[1], "cold") == 0)
		cold(n, argv[0]);
	else if (strcmp(argv[1], "mem") == 0)
		mem(n);
	else {
		fprintf(stderr, "bench: unknown mode %s\n", argv[1]);
		return 2;
	}
	return 0;
}
