/* racehost: host threads that race the first load of the module's Go core,
 * for test/race_load_test.go.
 *
 *   racehost KIND CONFDIR SERVICE USER UID
 *
 * The main thread runs one transaction, pam_start_confdir, pam_open_session
 * (which, the first time in a process, loads the core and starts its
 * runtime), pam_close_session and pam_end, while helper threads, started
 * and looping before pam_start and stopped after pam_end, do one KIND of
 * thing in a tight loop and check what they see:
 *
 *   getenv    2 threads: every variable the host started with reads back
 *             with its value, no Go setting or variable of the module's
 *             appears, environ is entry by entry what it was, and so are
 *             the environment block after argv and the 16 bytes AT_RANDOM
 *             points to.
 *   setenv    1 thread: sets and unsets a private variable, and checks that
 *             the host's own (AAA_FIRST, BBB_KEEP, ...) are never lost and no
 *             GO* or KEYINIT* entry the host did not have appears. One
 *             thread only: another one reading environ while glibc's setenv
 *             reallocates it would be the host's own race.
 *   clearenv  1 thread clears the environment and sets the original set
 *             back, 1 thread reads it; the two take turns under a mutex
 *             (glibc frees the array clearenv drops, so an unsynchronised
 *             reader would be the host's own bug), which leaves the loading
 *             thread (libpam, the module) the only one that does not take
 *             it: the reader must always find the full original set. The
 *             transaction must log nothing: syslog(3) reads TZ with getenv,
 *             and in the main thread that crashes on the array clearenv
 *             frees, whatever the module (so the service directory needs an
 *             "other" file, or libpam logs that it has none).
 *   forkexec  1 thread forks and execs cat /proc/self/environ
 *             /proc/self/status: the child's environment and SigIgn line
 *             must be the host's (the host ignores SIGPIPE first thing).
 *   forkpam   1 thread forks children (forkpam_thread says when) that run a
 *             transaction of their own on a new handle and _exit with a code
 *             that encodes the results (pam_child); each is waited for at
 *             most RACEHOST_CHILD_DEADLINE seconds (10), then killed.
 *   sigprof-flip
 *             1 thread sets SIGPROF's handler, to one and then the other of
 *             two of its own, and checks before each change that the one it
 *             set last is still in place; at the end the main thread checks
 *             it too. No SIGPROF is sent.
 *   sigprof-timer
 *             1 thread profiles the process as a profiler would, in short
 *             bursts: it sets a SIGPROF handler of its own and arms
 *             ITIMER_PROF (every 1 ms of the process's CPU time), burns
 *             1 ms of CPU, then disarms the timer, lets any SIGPROF still
 *             pending arrive and puts SIG_DFL back; each time it first checks
 *             that the handler it set last is still in place. SIGPROF's
 *             default ends the process ("Profiling timer expired"), so a
 *             SIG_DFL put back over its handler while the timer runs kills
 *             the host. Its handler must have run by the end.
 *
 * In every kind, as soon as pam_open_session returns, the main thread
 * checks that every thread that is not the host's (the runtime's) blocks
 * every signal but glibc's 32 and 33 (/proc/self/task/TID/status, SigBlk).
 *
 * At the end the main thread checks its environment, the block after argv,
 * AT_RANDOM and SigIgn once more, and prints "name: value" lines, all at
 * the end (nothing is buffered while helpers fork):
 *   start, open, close, end      the main thread's PAM codes
 *   session keyring              its keyring inside the session
 *   open ms                      how long its pam_open_session took
 *   loops, loops in open         helper loops, and those that began while
 *                                the main thread was in pam_open_session
 *   mismatches, first mismatch   what a helper or the end found wrong
 *   runtime threads              threads not the host's after the open
 *   sigprof ticks                times the host's SIGPROF handlers ran
 *   children                     children forked (forkexec, forkpam)
 *   children forked at the core  forkpam: forked as the core was seen mapped
 *   child open 0, child open 14  forkpam: children that ended well, opening
 *                                with 0 or with PAM_SESSION_ERR
 *   child other, child signal, child timeout, first child problem
 *                                children that ended otherwise
 *   done: yes
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <security/pam_appl.h>

#include "keyquota.h"
#include "host_pam.h"
#include "threads.h"

#define MAX_ENV 256

extern char **environ;

static const char *kind, *confdir, *service, *user;
static double child_deadline = 10;  /* seconds; RACEHOST_CHILD_DEADLINE */

/* What the host started with. */
static char *env_copy[MAX_ENV];   /* environ's entries, copied */
static size_t env_n;
static char **env_block;          /* the block after argv, as the kernel left it */
static char *block_copy[MAX_ENV];
static size_t block_n;
static unsigned char random_copy[16];
static const unsigned char *at_random;
static char sigign[64];           /* the host's SigIgn line */

/* Names that must never appear: the Go settings the host did not set, and
 * what an earlier front lent or hid. */
static const char *const absent[] = {
	"GOTRACEBACK", "GOGC", "GOMEMLIMIT", "GOENV", "GOFLAGS", "KEYINIT_GO_HIDDEN",
};

static volatile int stop, in_open, opened;  /* opened: pam_open_session returned */
static int ready;                 /* helpers that have looped once (atomic) */
static long loops, loops_in_open; /* atomic */

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static long mismatches;
static char first_mismatch[1024] = "none";

static long children, child_open0, child_open14, child_other, child_signal, child_timeout;
static char first_child_problem[512] = "none";

static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;  /* clearenv kind */

#define MAX_HOST_THREADS 8
static pid_t host_tids[MAX_HOST_THREADS];  /* the main thread's and the helpers' */
static int host_tid_n;                     /* atomic */
static long runtime_threads = -1;          /* threads not the host's after the open */

static struct pam_conv conv = { no_conversation, NULL };

static void mismatch(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void mismatch(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&report_lock);
	if (mismatches++ == 0) {
		va_start(ap, fmt);
		vsnprintf(first_mismatch, sizeof(first_mismatch), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&report_lock);
}

static void child_problem(long *counter, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void child_problem(long *counter, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&report_lock);
	(*counter)++;
	if (strcmp(first_child_problem, "none") == 0) {
		va_start(ap, fmt);
		vsnprintf(first_child_problem, sizeof(first_child_problem), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&report_lock);
}

static void count_loop(void)
{
	__atomic_add_fetch(&loops, 1, __ATOMIC_RELAXED);
	if (in_open)
		__atomic_add_fetch(&loops_in_open, 1, __ATOMIC_RELAXED);
}

static void say_ready(void)
{
	__atomic_add_fetch(&ready, 1, __ATOMIC_RELEASE);
}

/* --- what the host started with ----------------------------------------- */

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL) {
		fprintf(stderr, "racehost: out of memory\n");
		exit(2);
	}
	return d;
}

static void read_sigign(char *out, size_t size)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	snprintf(out, size, "?");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "SigIgn:", 7) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, size, "%s", line + 7 + strspn(line + 7, " \t"));
		}
	if (f != NULL)
		fclose(f);
}

static void snapshot(char **argv, int argc)
{
	char **e;

	for (e = environ; *e != NULL; e++) {
		if (env_n == MAX_ENV) {
			fprintf(stderr, "racehost: more than %d variables\n", MAX_ENV);
			exit(2);
		}
		env_copy[env_n++] = xstrdup(*e);
	}
	env_block = argv + argc + 1;
	for (e = env_block; *e != NULL && block_n < MAX_ENV; e++)
		block_copy[block_n++] = xstrdup(*e);
	at_random = (const unsigned char *)getauxval(AT_RANDOM);
	if (at_random != NULL)
		memcpy(random_copy, at_random, sizeof(random_copy));
	read_sigign(sigign, sizeof(sigign));
}

/* "where: what" if the environment read with getenv is not the original:
 * every variable there with its value, none of absent[] (unless the host
 * started with it). Returns 1 if it is. */
static int getenv_is_original(const char *where)
{
	size_t i;

	for (i = 0; i < env_n; i++) {
		const char *eq = strchr(env_copy[i], '=');
		char name[256];
		const char *v;

		if (eq == NULL || (size_t)(eq - env_copy[i]) >= sizeof(name))
			continue;
		memcpy(name, env_copy[i], (size_t)(eq - env_copy[i]));
		name[eq - env_copy[i]] = '\0';
		v = getenv(name);
		if (v == NULL || strcmp(v, eq + 1) != 0) {
			mismatch("%s: getenv(%s) = %s%s%s; the host has %s", where, name, v ? "\"" : "",
				 v ? v : "NULL", v ? "\"" : "", env_copy[i]);
			return 0;
		}
	}
	for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		const char *v = getenv(absent[i]);
		size_t k, len = strlen(absent[i]);
		int had = 0;

		for (k = 0; k < env_n; k++)
			if (strncmp(env_copy[k], absent[i], len) == 0 && env_copy[k][len] == '=')
				had = 1;
		if (v != NULL && !had) {
			mismatch("%s: getenv(%s) = \"%s\"; the host never set it", where, absent[i], v);
			return 0;
		}
	}
	return 1;
}

/* environ entry by entry, with extra (one "NAME=" prefix) allowed once
 * anywhere. Only for a thread no other host thread edits environ against. */
static int environ_is_original(const char *where, const char *extra)
{
	size_t i = 0, n = 0;
	char **e;

	for (e = environ; e != NULL && *e != NULL; e++) {
		if (extra != NULL && strncmp(*e, extra, strlen(extra)) == 0)
			continue;
		if (i >= env_n || strcmp(*e, env_copy[i]) != 0) {
			mismatch("%s: environ[%zu] is \"%s\"; the host's is \"%s\"", where, n, *e,
				 i < env_n ? env_copy[i] : "(the end)");
			return 0;
		}
		i++;
		n++;
	}
	if (i != env_n) {
		mismatch("%s: environ has %zu entries; the host's has %zu", where, i, env_n);
		return 0;
	}
	return 1;
}

static int block_and_random_are_original(const char *where)
{
	size_t i;

	for (i = 0; i < block_n; i++)
		if (env_block[i] == NULL || strcmp(env_block[i], block_copy[i]) != 0) {
			mismatch("%s: env block[%zu] is \"%s\"; it was \"%s\"", where, i,
				 env_block[i] ? env_block[i] : "NULL", block_copy[i]);
			return 0;
		}
	if (env_block[block_n] != NULL) {
		mismatch("%s: env block[%zu] is \"%s\"; it was the end", where, block_n, env_block[block_n]);
		return 0;
	}
	if (at_random != NULL && memcmp(at_random, random_copy, sizeof(random_copy)) != 0) {
		mismatch("%s: the 16 bytes at AT_RANDOM changed", where);
		return 0;
	}
	return 1;
}

/* --- getenv ------------------------------------------------------------- */

static void *getenv_thread(void *unused)
{
	int said = 0;

	(void)unused;
	while (!stop) {
		getenv_is_original("getenv thread");
		environ_is_original("getenv thread", NULL);
		block_and_random_are_original("getenv thread");
		count_loop();
		if (!said) {
			said = 1;
			say_ready();
		}
	}
	return NULL;
}

/* --- setenv ------------------------------------------------------------- */

/* Entries starting with GO or KEYINIT the host did not start with. */
static void no_new_go_entries(const char *where)
{
	char **e;

	for (e = environ; e != NULL && *e != NULL; e++) {
		size_t i;
		int had = 0;

		if (strncmp(*e, "GO", 2) != 0 && strncmp(*e, "KEYINIT", 7) != 0)
			continue;
		for (i = 0; i < env_n; i++)
			if (strcmp(*e, env_copy[i]) == 0)
				had = 1;
		if (!had)
			mismatch("%s: environ has \"%s\", which the host never set", where, *e);
	}
}

static void *setenv_thread(void *unused)
{
	char value[32];
	long i = 0;

	(void)unused;
	while (!stop) {
		const char *v;

		snprintf(value, sizeof(value), "v%ld", i++);
		if (setenv("RACE_PRIVATE", value, 1) != 0)
			mismatch("setenv: %s", strerror(errno));
		v = getenv("RACE_PRIVATE");
		if (v == NULL || strcmp(v, value) != 0)
			mismatch("setenv thread: RACE_PRIVATE reads \"%s\" after setting \"%s\"", v ? v : "NULL", value);
		getenv_is_original("setenv thread, set");
		no_new_go_entries("setenv thread, set");
		environ_is_original("setenv thread, set", "RACE_PRIVATE=");
		if (unsetenv("RACE_PRIVATE") != 0)
			mismatch("unsetenv: %s", strerror(errno));
		if ((v = getenv("RACE_PRIVATE")) != NULL)
			mismatch("setenv thread: RACE_PRIVATE reads \"%s\" after unsetenv", v);
		getenv_is_original("setenv thread, unset");
		no_new_go_entries("setenv thread, unset");
		environ_is_original("setenv thread, unset", NULL);
		count_loop();
		if (i == 1)
			say_ready();
	}
	return NULL;
}

/* --- clearenv ----------------------------------------------------------- */

static void *clearenv_thread(void *unused)
{
	long i = 0;

	(void)unused;
	while (!stop) {
		size_t k;

		pthread_mutex_lock(&env_lock);
		if (clearenv() != 0)
			mismatch("clearenv failed");
		if (environ != NULL && environ[0] != NULL)
			mismatch("clearenv thread: environ has \"%s\" after clearenv", environ[0]);
		for (k = 0; k < env_n; k++) {
			char name[256];
			const char *eq = strchr(env_copy[k], '=');

			if (eq == NULL || (size_t)(eq - env_copy[k]) >= sizeof(name))
				continue;
			memcpy(name, env_copy[k], (size_t)(eq - env_copy[k]));
			name[eq - env_copy[k]] = '\0';
			if (setenv(name, eq + 1, 1) != 0)
				mismatch("setenv %s: %s", name, strerror(errno));
		}
		getenv_is_original("clearenv thread");
		environ_is_original("clearenv thread", NULL);
		pthread_mutex_unlock(&env_lock);
		block_and_random_are_original("clearenv thread");
		count_loop();
		if (i++ == 0)
			say_ready();
	}
	return NULL;
}

static void *clearenv_reader(void *unused)
{
	long i = 0;

	(void)unused;
	while (!stop) {
		pthread_mutex_lock(&env_lock);
		getenv_is_original("clearenv reader");
		environ_is_original("clearenv reader", NULL);
		pthread_mutex_unlock(&env_lock);
		count_loop();
		if (i++ == 0)
			say_ready();
	}
	return NULL;
}

/* --- children ----------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for pid until deadline (a hung child is killed); returns 1 with
 * *status, or 0 on a timeout. */
static int wait_until(pid_t pid, int *status, double deadline)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR) {
			*status = 0;
			return 1;
		}
		if (now_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return 0;
		}
		usleep(200);
	}
}

/* --- forkexec ----------------------------------------------------------- */

/* Compares what the exec'd cat printed, its own /proc/self/environ (NUL
 * separated) and then its /proc/self/status, with the host's environment
 * and SigIgn. */
static void check_report(const char *out, size_t len)
{
	const char *p = out, *end = out + len, *status;
	size_t i = 0;
	char line[64];

	/* The environment ends where the status file begins ("Name:"). */
	status = memmem(out, len, "Name:\t", 6);
	if (status == NULL) {
		mismatch("exec'd child: no /proc/self/status in its output (%zu bytes)", len);
		return;
	}
	while (p < status) {
		size_t n = strnlen(p, (size_t)(status - p));

		if (i >= env_n || strcmp(p, env_copy[i]) != 0) {
			mismatch("exec'd child: environ[%zu] is \"%.*s\"; the host's is \"%s\"", i, (int)n, p,
				 i < env_n ? env_copy[i] : "(the end)");
			return;
		}
		i++;
		p += n + 1;
	}
	if (i != env_n) {
		mismatch("exec'd child: %zu variables; the host has %zu", i, env_n);
		return;
	}
	p = memmem(status, (size_t)(end - status), "\nSigIgn:", 8);
	if (p == NULL) {
		mismatch("exec'd child: no SigIgn line");
		return;
	}
	p += 8;
	p += strspn(p, " \t");
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(p, "\n"), p);
	if (strcmp(line, sigign) != 0)
		mismatch("exec'd child: SigIgn %s; the host's is %s", line, sigign);
}

static void *forkexec_thread(void *unused)
{
	static char cat[] = "cat", env[] = "/proc/self/environ", status[] = "/proc/self/status";
	char *args[] = { cat, env, status, NULL };
	static __thread char out[65536];
	long i = 0;

	(void)unused;
	while (!stop) {
		size_t got = 0;
		int fd[2], st;
		double deadline;
		pid_t pid;

		if (pipe2(fd, O_CLOEXEC) != 0) {
			mismatch("pipe: %s", strerror(errno));
			break;
		}
		pid = fork();
		if (pid == 0) {
			dup2(fd[1], 1);
			execve("/bin/cat", args, environ);
			_exit(127);
		}
		close(fd[1]);
		if (pid < 0) {
			close(fd[0]);
			mismatch("fork: %s", strerror(errno));
			break;
		}
		deadline = now_s() + child_deadline;
		for (;;) {
			struct pollfd p = { fd[0], POLLIN, 0 };
			ssize_t n;

			if (poll(&p, 1, 100) <= 0) {
				if (now_s() > deadline)
					break;
				continue;
			}
			n = read(fd[0], out + got, sizeof(out) - 1 - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		close(fd[0]);
		out[got] = '\0';
		__atomic_add_fetch(&children, 1, __ATOMIC_RELAXED);
		if (!wait_until(pid, &st, deadline))
			child_problem(&child_timeout, "exec'd child %d hung", (int)pid);
		else if (WIFSIGNALED(st))
			child_problem(&child_signal, "exec'd child %d: signal %d", (int)pid, WTERMSIG(st));
		else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			child_problem(&child_other, "exec'd child %d: exit %d", (int)pid, WEXITSTATUS(st));
		else
			check_report(out, got);
		count_loop();
		if (i++ == 0)
			say_ready();
	}
	return NULL;
}

/* --- forkpam ------------------------------------------------------------ */

static char keyring_prefix[64];   /* "keyring;UID;" */

/* A child's own transaction on a new handle. Its exit code: its open's code
 * (0..31); +32 if close returned PAM_PERM_DENIED, which libpam returns for
 * a required module after the open failed whatever the module says, +64 if
 * it returned anything else but 0; +128 if the open succeeded without
 * giving the child the user's _ses; 254 if pam_end failed, 255 if
 * pam_start did. So 0 and 46 (open PAM_SESSION_ERR, close PAM_PERM_DENIED)
 * are the two good ends. */
static void pam_child(void)
{
	pam_handle_t *h = NULL;
	int open, close, code;
	char d[256];

	if (pam_start_confdir(service, user, &conv, confdir, &h) != PAM_SUCCESS)
		_exit(255);
	open = pam_open_session(h, 0);
	code = open & 31;
	if (open == PAM_SUCCESS) {
		describe_session_keyring(d, sizeof(d));
		if (strncmp(d, keyring_prefix, strlen(keyring_prefix)) != 0 || strlen(d) < 5 ||
		    strcmp(d + strlen(d) - 5, ";_ses") != 0)
			code |= 128;
	}
	close = pam_close_session(h, 0);
	if (close == PAM_PERM_DENIED)
		code |= 32;
	else if (close != PAM_SUCCESS)
		code |= 64;
	if (pam_end(h, PAM_SUCCESS) != PAM_SUCCESS)
		_exit(254);
	_exit(code);
}

static void child_ended(pid_t pid, int status)
{
	int code;

	if (WIFSIGNALED(status)) {
		child_problem(&child_signal, "forked child %d: signal %d", (int)pid, WTERMSIG(status));
		return;
	}
	code = WEXITSTATUS(status);
	if (code == 0)
		__atomic_add_fetch(&child_open0, 1, __ATOMIC_RELAXED);
	else if (code == (PAM_SESSION_ERR | 32))
		__atomic_add_fetch(&child_open14, 1, __ATOMIC_RELAXED);
	else if (code >= 254)
		child_problem(&child_other, "forked child %d: %s failed", (int)pid, code == 255 ? "pam_start" : "pam_end");
	else
		child_problem(&child_other, "forked child %d: exit %d (open %d%s%s%s)", (int)pid, code, code & 31,
			      code & 32 ? ", close PAM_PERM_DENIED" : "", code & 64 ? ", close failed" : "",
			      code & 128 ? ", not the user's _ses" : "");
}

/* Forks children without waiting for the last: one before pam_start (a
 * process that never loaded anything), one as the main thread enters
 * pam_open_session (the front is loaded, the core not yet), one as soon as
 * the Go core is seen mapped (the front is then loading it or starting its
 * runtime, inside the window fork() waits for, or has just done so), and one
 * 5 ms after that if the main thread is still in pam_open_session. The main
 * thread goes on to close and pam_end only once this thread has stopped
 * forking (forks_done): a child forked while libpam dlclose()s modules in
 * pam_end fails its own dlopen in ld.so ("Inconsistency detected by
 * ld.so"), glibc's race and libpam's, whatever the modules. Then waits for
 * each child at most RACEHOST_CHILD_DEADLINE seconds. */
static volatile int forks_done;
static long forked_at_core;

static int is_core(struct dl_phdr_info *info, size_t size, void *data)
{
	static const char name[] = "pam_keyinit_go/core.so";
	size_t n = strlen(info->dlpi_name);

	(void)size;
	(void)data;
	return n >= sizeof(name) - 1 && strcmp(info->dlpi_name + n - (sizeof(name) - 1), name) == 0;
}

static pid_t fork_pam_child(void)
{
	pid_t pid = fork();

	if (pid == 0)
		pam_child();
	if (pid < 0)
		mismatch("fork: %s", strerror(errno));
	else
		__atomic_add_fetch(&children, 1, __ATOMIC_RELAXED);
	count_loop();
	return pid;
}

static void *forkpam_thread(void *unused)
{
	pid_t pids[4];
	int n = 0, i, status;
	double core_seen = 0, deadline;

	(void)unused;
	if ((pids[n] = fork_pam_child()) > 0)
		n++;
	say_ready();
	while (!in_open && !opened && !stop)
		usleep(20);
	if (in_open && (pids[n] = fork_pam_child()) > 0)
		n++;
	while (in_open) {
		if (core_seen == 0 && dl_iterate_phdr(is_core, NULL) != 0) {
			if ((pids[n] = fork_pam_child()) > 0)
				n++;
			forked_at_core++;
			core_seen = now_s();
		} else if (core_seen != 0 && now_s() > core_seen + 0.005) {
			if ((pids[n] = fork_pam_child()) > 0)
				n++;
			break;
		}
		usleep(20);
	}
	forks_done = 1;
	deadline = now_s() + child_deadline;
	for (i = 0; i < n; i++) {
		if (!wait_until(pids[i], &status, deadline))
			child_problem(&child_timeout, "forked child %d hung", (int)pids[i]);
		else
			child_ended(pids[i], status);
	}
	return NULL;
}

/* --- sigprof ------------------------------------------------------------ */

static long sigprof_ticks;             /* atomic */
static void (*last_prof)(int) = SIG_DFL;  /* what the host set last */

static void prof_a(int sig)
{
	(void)sig;
	__atomic_add_fetch(&sigprof_ticks, 1, __ATOMIC_RELAXED);
}

static void prof_b(int sig)
{
	(void)sig;
	__atomic_add_fetch(&sigprof_ticks, 1, __ATOMIC_RELAXED);
}

/* "where: ..." unless SIGPROF's handler is the one the host set last. */
static void prof_is_hosts(const char *where)
{
	struct sigaction now;

	if (sigaction(SIGPROF, NULL, &now) != 0)
		mismatch("%s: sigaction(SIGPROF): %s", where, strerror(errno));
	else if (now.sa_handler != last_prof)
		mismatch("%s: SIGPROF's handler is %p; the host set %p (%s)", where, (void *)now.sa_handler,
			 (void *)last_prof, last_prof == SIG_DFL ? "SIG_DFL" : "a handler of its own");
}

/* Sets SIGPROF's handler, once the one set last is checked. */
static void set_prof(void (*handler)(int), const char *where)
{
	struct sigaction sa;

	prof_is_hosts(where);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPROF, &sa, NULL) != 0)
		mismatch("%s: sigaction(SIGPROF): %s", where, strerror(errno));
	last_prof = handler;
}

static void *sigprof_flip_thread(void *unused)
{
	long i = 0;

	(void)unused;
	while (!stop) {
		set_prof(i % 2 == 0 ? prof_a : prof_b, "sigprof-flip thread");
		count_loop();
		if (i++ == 0)
			say_ready();
	}
	return NULL;
}

static void prof_timer(long usec)
{
	struct itimerval it = { { 0, usec }, { 0, usec } };

	if (setitimer(ITIMER_PROF, &it, NULL) != 0)
		mismatch("setitimer(ITIMER_PROF): %s", strerror(errno));
}

/* A burst of profiling: handler, timer, seconds of CPU (or until the
 * handler has run, if until_tick), no timer, no SIGPROF pending, SIG_DFL. */
static void profile(void (*handler)(int), double seconds, int until_tick)
{
	sigset_t prof, pending;
	long ticks = __atomic_load_n(&sigprof_ticks, __ATOMIC_RELAXED);
	double end = now_s() + seconds;

	set_prof(handler, "sigprof-timer thread, on");
	prof_timer(1000);
	while (now_s() < end && !(until_tick && __atomic_load_n(&sigprof_ticks, __ATOMIC_RELAXED) > ticks))
		;
	/* With SIGPROF blocked here, sigpending shows one the timer sent that
	 * no thread took yet; unblocked, it arrives here. */
	sigemptyset(&prof);
	sigaddset(&prof, SIGPROF);
	pthread_sigmask(SIG_BLOCK, &prof, NULL);
	prof_timer(0);
	while (sigpending(&pending) == 0 && sigismember(&pending, SIGPROF) == 1) {
		pthread_sigmask(SIG_UNBLOCK, &prof, NULL);
		pthread_sigmask(SIG_BLOCK, &prof, NULL);
	}
	set_prof(SIG_DFL, "sigprof-timer thread, off");
	pthread_sigmask(SIG_UNBLOCK, &prof, NULL);
}

static void *sigprof_timer_thread(void *unused)
{
	long i = 0;

	(void)unused;
	while (!stop) {
		profile(i % 2 == 0 ? prof_a : prof_b, 0.001, 0);
		count_loop();
		if (i++ == 0)
			say_ready();
	}
	/* The handler must have run: profile until it has (2 s at most). */
	if (__atomic_load_n(&sigprof_ticks, __ATOMIC_RELAXED) == 0)
		profile(prof_a, 2, 1);
	if (__atomic_load_n(&sigprof_ticks, __ATOMIC_RELAXED) == 0)
		mismatch("sigprof-timer thread: the host's SIGPROF handler never ran");
	return NULL;
}

/* --- the runtime's threads ---------------------------------------------- */

static void note_host_thread(void)
{
	int i = __atomic_fetch_add(&host_tid_n, 1, __ATOMIC_ACQ_REL);

	if (i < MAX_HOST_THREADS)
		host_tids[i] = (pid_t)syscall(SYS_gettid);
}

static int is_host_thread(pid_t tid)
{
	int i, n = __atomic_load_n(&host_tid_n, __ATOMIC_ACQUIRE);

	for (i = 0; i < n && i < MAX_HOST_THREADS; i++)
		if (host_tids[i] == tid)
			return 1;
	return 0;
}

/* Every thread of the process that is not the host's blocks every signal
 * but glibc's 32 and 33: none of those sent to the process lands there. */
static void check_runtime_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;

	runtime_threads = 0;
	while (d != NULL && (de = readdir(d)) != NULL) {
		pid_t tid = (pid_t)atoi(de->d_name);
		unsigned long long blk;

		if (de->d_name[0] == '.' || is_host_thread(tid))
			continue;
		runtime_threads++;
		if (!blocks_every_signal(tid, &blk))
			mismatch("thread %d, not the host's, blocks %016llx; want %016llx (every signal but 32 and 33)",
				 (int)tid, blk, EVERY_SIGNAL_BLOCKED);
	}
	if (d != NULL)
		closedir(d);
}

/* --- main --------------------------------------------------------------- */

static void *helper(void *fn)
{
	note_host_thread();
	return ((void *(*)(void *))fn)(NULL);
}

static void start_helper(pthread_t *t, void *(*fn)(void *))
{
	if (pthread_create(t, NULL, helper, (void *)fn) != 0) {
		fprintf(stderr, "racehost: pthread_create failed\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	pthread_t t[4];
	int nthreads = 0, i, start_rc, open_rc = -1, close_rc = -1, end_rc = -1;
	pam_handle_t *h = NULL;
	char keyring[256] = "none";
	struct sigaction sa;
	double t0, open_s = 0;

	/* First thing, as systemd does for its services. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if (argc != 6) {
		fprintf(stderr, "usage: racehost getenv|setenv|clearenv|forkexec|forkpam|sigprof-flip|sigprof-timer "
			"CONFDIR SERVICE USER UID\n");
		return 2;
	}
	if (getenv("RACEHOST_CHILD_DEADLINE") != NULL)
		child_deadline = atof(getenv("RACEHOST_CHILD_DEADLINE"));
	kind = argv[1];
	confdir = argv[2];
	service = argv[3];
	user = argv[4];
	snprintf(keyring_prefix, sizeof(keyring_prefix), "keyring;%s;", argv[5]);
	snapshot(argv, argc);
	wait_for_key_quota(strtoul(argv[5], NULL, 10));
	note_host_thread();

	if (strcmp(kind, "getenv") == 0) {
		start_helper(&t[nthreads++], getenv_thread);
		start_helper(&t[nthreads++], getenv_thread);
	} else if (strcmp(kind, "setenv") == 0) {
		start_helper(&t[nthreads++], setenv_thread);
	} else if (strcmp(kind, "clearenv") == 0) {
		start_helper(&t[nthreads++], clearenv_thread);
		start_helper(&t[nthreads++], clearenv_reader);
	} else if (strcmp(kind, "forkexec") == 0) {
		start_helper(&t[nthreads++], forkexec_thread);
	} else if (strcmp(kind, "forkpam") == 0) {
		start_helper(&t[nthreads++], forkpam_thread);
	} else if (strcmp(kind, "sigprof-flip") == 0) {
		start_helper(&t[nthreads++], sigprof_flip_thread);
	} else if (strcmp(kind, "sigprof-timer") == 0) {
		start_helper(&t[nthreads++], sigprof_timer_thread);
	} else {
		fprintf(stderr, "racehost: unknown kind %s\n", kind);
		return 2;
	}
	/* Every helper is in its loop before libpam is. */
	t0 = now_s();
	while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) < nthreads && now_s() < t0 + 5)
		usleep(50);

	start_rc = pam_start_confdir(service, user, &conv, confdir, &h);
	if (start_rc == PAM_SUCCESS) {
		in_open = 1;
		open_s = now_s();
		open_rc = pam_open_session(h, 0);
		open_s = now_s() - open_s;
		in_open = 0;
		opened = 1;
		check_runtime_threads();
		t0 = now_s();
		while (strcmp(kind, "forkpam") == 0 && !forks_done && now_s() < t0 + child_deadline)
			usleep(50);
		describe_session_keyring(keyring, sizeof(keyring));
		close_rc = pam_close_session(h, 0);
		end_rc = pam_end(h, PAM_SUCCESS);
	}
	stop = 1;
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);

	/* The host as it started. */
	getenv_is_original("main thread, at the end");
	environ_is_original("main thread, at the end", NULL);
	block_and_random_are_original("main thread, at the end");
	{
		char now[64];

		read_sigign(now, sizeof(now));
		if (strcmp(now, sigign) != 0)
			mismatch("main thread, at the end: SigIgn %s; it was %s", now, sigign);
	}
	prof_is_hosts("main thread, at the end");

	printf("kind: %s\n", kind);
	printf("start: %d\n", start_rc);
	printf("open: %d\n", open_rc);
	printf("session keyring: %s\n", keyring);
	printf("close: %d\n", close_rc);
	printf("end: %d\n", end_rc);
	printf("open ms: %.1f\n", open_s * 1000);
	printf("loops: %ld\n", loops);
	printf("loops in open: %ld\n", loops_in_open);
	printf("mismatches: %ld\n", mismatches);
	printf("first mismatch: %s\n", first_mismatch);
	printf("runtime threads: %ld\n", runtime_threads);
	printf("sigprof ticks: %ld\n", sigprof_ticks);
	printf("children: %ld\n", children);
	printf("children forked at the core: %ld\n", forked_at_core);
	printf("child open 0: %ld\n", child_open0);
	printf("child open 14: %ld\n", child_open14);
	printf("child other: %ld\n", child_other);
	printf("child signal: %ld\n", child_signal);
	printf("child timeout: %ld\n", child_timeout);
	printf("first child problem: %s\n", first_child_problem);
	printf("done: yes\n");
	return fflush(stdout) == 0 ? 0 : 1;
}
