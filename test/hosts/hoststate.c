/* hoststate: a PAM host that checks the module leaves its process as it
 * found it, for test/hoststate_test.go.
 *
 *   hoststate session SERVICE USER   pam_start, open, close, pam_end
 *   hoststate auth SERVICE USER      pam_start, authenticate, acct_mgmt, pam_end
 *
 * Before PAM runs it sets up state a real host has: SIGPIPE ignored (as
 * systemd does for services), handlers for SIGUSR1, SIGURG and SIGCHLD, and
 * (with HOSTSTATE_ALTSTACK=1) a sigaltstack of its own; with
 * HOSTSTATE_ALTSTACK=late it first runs one whole session, so the thread's
 * runtime signal stack exists, and sets its own after. It prints one
 * "name: value" line per observation, "before ..." and "after ..." for what
 * must not change:
 *   sigaction N      handler and flags of signal N (1..64)
 *   sigmask          the calling thread's blocked signals
 *   sigaltstack      the calling thread's
 *   child SigIgn     the ignored set of a child it execs
 *   environ          every entry of environ, and of the block after argv
 *   cpus             the calling thread's CPU affinity
 *   sched policy     the calling thread's scheduling policy
 *   threads          entries of /proc/self/task
 * It also prints the PAM codes, the session keyring seen inside the
 * session, whether the Go core got loaded, and, in auth mode, whether
 * unshare(CLONE_NEWUSER) still works (a multi-threaded process cannot). It
 * counts the syslog lines written (the module's, the Go core's included)
 * and prints each signal mask they were written with.
 * In session mode it also says how many of the other threads (the
 * runtime's) are SCHED_BATCH and held to one CPU, and how many block every
 * signal.
 * With HOSTSTATE_PROMPT=1 the module's pam_get_user asks the conversation for
 * the user, which prints the signal mask it runs with.
 */
#undef _FORTIFY_SOURCE  /* this file defines syslog itself (below) */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <security/pam_appl.h>

#include "threads.h"
#include "host_pam.h"


extern char **environ;
static char **env_block;

static unsigned long long sigmask_bits(void);

/* Answers the user name prompt (with HOSTSTATE_PROMPT=1 pam_start gets no
 * user, so the module's pam_get_user asks for it) and records the signal
 * mask the host's conversation runs with: the host's own. */
static int conversation(int n, const struct pam_message **msg,
			struct pam_response **resp, void *data)
{
	struct pam_response *r;

	if (n != 1 || msg[0]->msg_style != PAM_PROMPT_ECHO_ON || data == NULL)
		return PAM_CONV_ERR;
	printf("conversation sigmask: %016llx\n", sigmask_bits());
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->resp = strdup(data)) == NULL) {
		free(r);
		return PAM_BUF_ERR;
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* Every syslog line of the module reaches glibc through libpam's
 * pam_syslog, which calls __syslog_chk (or syslog, built without
 * fortification): an executable's definitions come before libc's, so these
 * see each line, record the signal mask it is written with, and pass it on.
 * The Go core writes its lines with the host's own mask (pam/shims.c), not
 * with the one Go code runs with. */
#define MAX_SYSLOG_MASKS 8
static unsigned long long syslog_masks[MAX_SYSLOG_MASKS];
static int syslog_nmasks, syslog_calls;

static void syslog_seen(void)
{
	unsigned long long m = sigmask_bits();
	int i;

	syslog_calls++;
	for (i = 0; i < syslog_nmasks; i++)
		if (syslog_masks[i] == m)
			return;
	if (syslog_nmasks < MAX_SYSLOG_MASKS)
		syslog_masks[syslog_nmasks++] = m;
}

void __syslog_chk(int pri, int flag, const char *fmt, ...);
void __syslog_chk(int pri, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	syslog_seen();
	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

void syslog(int pri, const char *fmt, ...)
{
	va_list ap;

	syslog_seen();
	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

static void show_syslog(void)
{
	int i;

	printf("syslog calls: %d\n", syslog_calls);
	printf("syslog sigmasks:");
	for (i = 0; i < syslog_nmasks; i++)
		printf(" %016llx", syslog_masks[i]);
	printf("\n");
}

static void host_handler(int sig)
{
	(void)sig;
}

static void set_altstack(void)
{
	static char altstack[64 * 1024];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0 };

	sigaltstack(&ss, NULL);
}

static void setup_host(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = host_handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGURG, &sa, NULL);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	if (getenv("HOSTSTATE_ALTSTACK") != NULL && strcmp(getenv("HOSTSTATE_ALTSTACK"), "late") != 0)
		set_altstack();
}

static void show_signals(const char *when)
{
	int s;

	for (s = 1; s < NSIG; s++) {
		struct sigaction sa;

		if (sigaction(s, NULL, &sa) != 0)
			continue;  /* libc's own */
		printf("%s sigaction %d: %p %#x\n", when, s,
		       (sa.sa_flags & SA_SIGINFO) ? (void *)sa.sa_sigaction : (void *)sa.sa_handler,
		       (unsigned)sa.sa_flags);
	}
}

/* The calling thread's blocked signals, 1 to 64, as a bit mask. */
static unsigned long long sigmask_bits(void)
{
	sigset_t set;
	unsigned long long bits = 0;
	int s;

	pthread_sigmask(SIG_BLOCK, NULL, &set);
	for (s = 1; s < 65; s++)
		if (sigismember(&set, s) == 1)
			bits |= 1ULL << (s - 1);
	return bits;
}

static void show_sigmask(const char *when)
{
	printf("%s sigmask: %016llx\n", when, sigmask_bits());
}

static void show_sigaltstack(const char *when)
{
	stack_t ss;

	sigaltstack(NULL, &ss);
	if (ss.ss_flags & SS_DISABLE)
		printf("%s sigaltstack: disabled\n", when);
	else
		printf("%s sigaltstack: %p %zu %#x\n", when, ss.ss_sp, ss.ss_size, (unsigned)ss.ss_flags);
}

/* The SigIgn line of a child that execs grep on its own status. */
static void show_child_sigign(const char *when)
{
	char line[256] = "";
	int fd[2];
	pid_t pid;
	FILE *f;

	fflush(stdout);
	if (pipe(fd) != 0)
		return;
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		execl("/bin/grep", "grep", "^SigIgn", "/proc/self/status", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	f = fdopen(fd[0], "r");
	if (f != NULL && fgets(line, sizeof(line), f) != NULL)
		line[strcspn(line, "\n")] = '\0';
	if (f != NULL)
		fclose(f);
	waitpid(pid, NULL, 0);
	printf("%s child SigIgn: %s\n", when, line + strcspn(line, "\t "));
}

static void show_env(const char *when)
{
	char **e;

	for (e = environ; e != NULL && *e != NULL; e++)
		printf("%s environ: %s\n", when, *e);
	for (e = env_block; e != NULL && *e != NULL; e++)
		printf("%s env block: %s\n", when, *e);
}

/* Whether the Go core (pam_keyinit_go/core.so) is mapped: only a session
 * hook may load it. */
static int core_mapped(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "pam_keyinit_go/core.so") != NULL)
			found = 1;
	if (f != NULL)
		fclose(f);
	return found;
}

/* The calling thread's CPU affinity (the front narrows it while the runtime
 * starts). */
static void show_cpus(const char *when)
{
	cpu_set_t set;
	int cpu, n = 0;

	sched_getaffinity(0, sizeof(set), &set);
	printf("%s cpus:", when);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set)) {
			printf(" %d", cpu);
			n++;
		}
	printf(" (%d)\n", n);
	printf("%s sched policy: %d\n", when, sched_getscheduler(0));
}

/* How many of the other threads (the runtime's) are SCHED_BATCH and held
 * to one CPU, of how many: "N of M"; and the signals each blocks. */
static void show_other_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	pid_t self = (pid_t)syscall(SYS_gettid);
	int others = 0, batch_one_cpu = 0, blocking = 0;

	while (d != NULL && (de = readdir(d)) != NULL) {
		pid_t tid = (pid_t)atoi(de->d_name);
		unsigned long long blk;
		cpu_set_t set;

		if (de->d_name[0] == '.' || tid == self)
			continue;
		others++;
		if (sched_getscheduler(tid) == SCHED_BATCH && sched_getaffinity(tid, sizeof(set), &set) == 0 &&
		    CPU_COUNT(&set) == 1)
			batch_one_cpu++;
		blocking += blocks_every_signal(tid, &blk);
	}
	if (d != NULL)
		closedir(d);
	printf("other threads batch on one cpu: %d of %d\n", batch_one_cpu, others);
	printf("other threads blocking every signal: %d of %d\n", blocking, others);
}

static void show_state(const char *when)
{
	show_signals(when);
	show_sigmask(when);
	show_cpus(when);
	show_sigaltstack(when);
	show_child_sigign(when);
	show_env(when);
	printf("%s threads: %d\n", when, threads());
	fflush(stdout);
}

static void show_session_keyring(void)
{
	char d[256];

	describe_session_keyring(d, sizeof(d));
	printf("session keyring: %s\n", d);
}

int main(int argc, char **argv)
{
	pam_handle_t *h = NULL;
	int session;

	if (argc != 4 || (strcmp(argv[1], "session") && strcmp(argv[1], "auth"))) {
		fprintf(stderr, "usage: hoststate session|auth SERVICE USER\n");
		return 2;
	}
	env_block = argv + argc + 1;
	session = !strcmp(argv[1], "session");
	setup_host();
	if (session && getenv("HOSTSTATE_ALTSTACK") != NULL && !strcmp(getenv("HOSTSTATE_ALTSTACK"), "late")) {
		/* A first session on this thread, without a sigaltstack: the
		 * runtime gives the thread its own, which later calls put in
		 * place around Go (core_entry.c). Then the host's own. */
		struct pam_conv conv = { conversation, NULL };

		if (pam_start(argv[2], argv[3], &conv, &h) != PAM_SUCCESS || pam_open_session(h, 0) != PAM_SUCCESS ||
		    pam_close_session(h, 0) != PAM_SUCCESS || pam_end(h, PAM_SUCCESS) != PAM_SUCCESS) {
			fprintf(stderr, "hoststate: the first session failed\n");
			return 1;
		}
		h = NULL;
		set_altstack();
	}
	show_state("before");

	{
		/* With HOSTSTATE_PROMPT the user comes from the conversation. */
		int prompt = getenv("HOSTSTATE_PROMPT") != NULL;
		struct pam_conv conv = { conversation, prompt ? argv[3] : NULL };

		printf("pam_start: %d\n", pam_start(argv[2], prompt ? NULL : argv[3], &conv, &h));
	}
	if (session) {
		printf("open: %d\n", pam_open_session(h, 0));
		printf("threads in session: %d\n", threads());
		show_other_threads();
		show_session_keyring();
		printf("close: %d\n", pam_close_session(h, 0));
	} else {
		printf("authenticate: %d\n", pam_authenticate(h, 0));
		printf("acct_mgmt: %d\n", pam_acct_mgmt(h, 0));
	}
	printf("pam_end: %d\n", pam_end(h, PAM_SUCCESS));
	show_syslog();
	show_state("after");
	printf("core mapped: %s\n", core_mapped() ? "yes" : "no");
	if (!session)
		printf("unshare user: %s\n", unshare(CLONE_NEWUSER) == 0 ? "ok" : strerror(errno));
	printf("done: yes\n");
	return 0;
}
