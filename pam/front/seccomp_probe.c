/* Whether this process's seccomp filter lets the Go runtime run.
 *
 * A filter that makes a call the runtime needs fail, or kills the process
 * on it, ends the host the moment the runtime makes that call: EPERM for
 * clone3 (glibc falls back to clone only on ENOSYS) aborts it in
 * pthread_create, EPERM for sigaltstack crashes it, and a kill action on
 * clone3, madvise, sigaltstack or sched_setaffinity kills it. No interface
 * shows a process its own filter, so the probe tries each call the runtime,
 * its thread creation and the front make that the host itself may not have
 * made, in a child: the child inherits the filter, and if it is killed the
 * host is not. Without a filter (Seccomp: 0 in /proc/self/status, the usual
 * case) nothing is tried.
 *
 * The child is a clone(2) of the calling thread with no exit signal: the
 * host gets no SIGCHLD, and its own wait() or waitpid(-1) never sees it
 * (only __WCLONE or __WALL does). It shares no memory with the host but one
 * page, where it says which call it is making. It runs only raw system calls
 * and library functions that take no lock, since another host thread may
 * have held one when it was made. One call cannot be probed this way: clone
 * itself, which makes the child; a filter that kills it also kills every
 * fork() of the host (glibc's fork is clone), so no PAM host runs under one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "front.h"

#define KEYCTL_GET_KEYRING_ID 0
#define KEY_SPEC_SESSION_KEYRING -3

/* What the child and the host share: one page. */
struct probe_page {
	volatile int step;       /* the step under way */
	volatile int failed;     /* step + 1 of a needed call that failed */
	volatile int err;        /* and its errno */
	volatile int clone3_enosys;
	volatile int thread_done;
	volatile int killed;     /* the signal a process the child made died of */
	char *stack;             /* the child's own memory: a sigaltstack, a thread's stack, its stack */
};

/* The child's stacks are private: a process the child makes gets a copy,
 * where a shared stack would be run on by both at once. Both areas are
 * kept for the next probe, never unmapped: the host makes no call the probe
 * has not shown it may make, but mmap, clone and wait4 to run it. */
#define STACK_SIZE (128 * 1024)
static char probe_stack[STACK_SIZE] __attribute__((aligned(64)));
static struct probe_page *shared;

static long sys(long rc)
{
	return rc < 0 ? -errno : rc;
}

/* --- the steps: each makes one call as the runtime would ----------------- */

static long try_clone3(struct probe_page *p)
{
	struct clone_args args;
	long pid;

	memset(&args, 0, sizeof(args));  /* a process, no exit signal */
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		syscall(SYS_exit_group, 0);
	if (pid < 0) {
		if (errno == ENOSYS)
			p->clone3_enosys = 1;  /* glibc then uses clone: next step */
		return errno == ENOSYS ? 0 : -errno;
	}
	syscall(SYS_wait4, pid, NULL, __WCLONE, NULL);
	return 0;
}

/* The exit a thread makes when it ends (the front's thread probe's do): a
 * process that makes it, killed for it, is reported as the probe child
 * killed on "exit". */
static long try_exit(struct probe_page *p)
{
	struct clone_args args;
	int status = 0;
	long pid;

	memset(&args, 0, sizeof(args));
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0)
		return 0;  /* clone3 is missing: try_clone_thread exits a thread */
	if (pid == 0) {
		syscall(SYS_exit, 0);
		/* exit failed, and glibc's thread exit would spin on it */
		syscall(SYS_exit_group, errno > 0 && errno < 256 ? errno : EPERM);
	}
	syscall(SYS_wait4, pid, &status, __WCLONE, NULL);
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		return -WEXITSTATUS(status);
	if (!WIFSIGNALED(status))
		return 0;
	p->killed = WTERMSIG(status);
	return -ECHILD;
}

static int probe_thread(void *arg)
{
	((struct probe_page *)arg)->thread_done = 1;
	syscall(SYS_exit, 0);
	return 0;
}

/* What glibc's pthread_create makes when clone3 is missing: a thread. */
static long try_clone_thread(struct probe_page *p)
{
	char *top = p->stack + 96 * 1024;  /* above the sigaltstack's 32 KiB */
	int i;

	if (!p->clone3_enosys)
		return 0;
	if (clone(probe_thread, top, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
		  CLONE_THREAD | CLONE_SYSVSEM, p) < 0)
		return -errno;
	for (i = 0; i < 100000 && !p->thread_done; i++)
		syscall(SYS_sched_yield);
	return 0;
}

static long try_memory(struct probe_page *p)
{
	long page = 4096;
	long a = syscall(SYS_mmap, NULL, 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	(void)p;
	if (a == -1)
		return -errno;
	if (syscall(SYS_mprotect, a, page, PROT_READ | PROT_WRITE) != 0 ||
	    syscall(SYS_madvise, a, page, MADV_DONTNEED) != 0)
		return -errno;
	return sys(syscall(SYS_munmap, a, 2 * page));
}

static long try_sigaltstack(struct probe_page *p)
{
	stack_t old, ss = { .ss_sp = p->stack, .ss_size = 32 * 1024, .ss_flags = 0 };

	if (syscall(SYS_sigaltstack, NULL, &old) != 0 || syscall(SYS_sigaltstack, &ss, NULL) != 0)
		return -errno;
	return 0;
}

static long try_sigaction(struct probe_page *p)
{
	unsigned long act[4];  /* the kernel's struct sigaction: handler, flags, restorer, mask */

	(void)p;
	if (syscall(SYS_rt_sigaction, SIGSEGV, NULL, act, 8) != 0)
		return -errno;
	return sys(syscall(SYS_rt_sigaction, SIGSEGV, act, NULL, 8));
}

static void probe_handler(int sig)
{
	(void)sig;
}

/* A signal handled, and its return (rt_sigreturn): the runtime's handlers
 * (a fault in Go code becomes a panic). */
static long try_sigreturn(struct probe_page *p)
{
	struct sigaction sa;
	sigset_t one;

	(void)p;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = probe_handler;
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		return -errno;
	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	if (syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), SIGUSR1) != 0)
		return -errno;
	return sys(syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &one, NULL, 8));
}

/* glibc registers each new thread with rseq and aborts the process if that
 * fails where the main thread's worked: the kernel's own answer to this
 * call is EINVAL, any other is the filter's. */
static long try_rseq(struct probe_page *p)
{
	(void)p;
	if (syscall(SYS_rseq, NULL, 0, 0, 0) == 0 || errno == EINVAL)
		return 0;
	return -errno;
}

static long try_sigprocmask(struct probe_page *p)
{
	unsigned long set;

	(void)p;
	return sys(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &set, 8));
}

static long try_futex(struct probe_page *p)
{
	int word = 0;

	(void)p;
	return sys(syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
}

static long try_nanosleep(struct probe_page *p)
{
	struct timespec zero = { 0, 0 };

	(void)p;
	return sys(syscall(SYS_nanosleep, &zero, NULL));
}

static long try_ids(struct probe_page *p)
{
	(void)p;
	if (syscall(SYS_gettid) < 0 || syscall(SYS_getpid) < 0)
		return -errno;
	return sys(syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), 0));
}

/* Calls whose failure the runtime, glibc or the front get over; only a
 * filter that kills on them matters. Each is made with harmless arguments
 * (an fd of -1, the same affinity, no-op id changes); the filter sees only
 * the call. */
static unsigned long scratch[16];

#define CALL(nr, a, b, c) { #nr, SYS_##nr, { (long)(a), (long)(b), (long)(c) }, 0 }
#define PLAIN(nr, a, b, c) { #nr, SYS_##nr, { (long)(a), (long)(b), (long)(c) }, 1 }
/* PLAIN: the plain keyinit in C makes it too (plain_keyinit.c) */
static const struct tolerated_call {
	const char *name;
	long nr;
	long arg[3];
	int plain;
} tolerated[] = {
	CALL(sched_getaffinity, 0, sizeof(scratch), scratch),
	CALL(sched_setaffinity, 0, sizeof(scratch), scratch),  /* what sched_getaffinity gave */
	CALL(sched_getscheduler, 0, 0, 0),
	CALL(sched_setscheduler, 0, SCHED_BATCH, scratch + 15),  /* priority 0 */
	CALL(getcpu, scratch, NULL, NULL),
	CALL(sched_yield, 0, 0, 0),
	CALL(getrandom, scratch, 1, 1 /* GRND_NONBLOCK */),
	CALL(openat, AT_FDCWD, "/", O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_PATH),
	CALL(read, -1, scratch, 0),
	CALL(close, -1, 0, 0),
	CALL(set_robust_list, NULL, 0, 0),
	CALL(prlimit64, 0, RLIMIT_NOFILE, NULL),
	PLAIN(keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0),
	PLAIN(getresuid, scratch, scratch + 1, scratch + 2),
	PLAIN(getresgid, scratch, scratch + 1, scratch + 2),
	PLAIN(setresuid, -1, -1, -1),
	PLAIN(setresgid, -1, -1, -1),
	CALL(capget, NULL, NULL, 0),
};
#undef CALL
#undef PLAIN
#define NTOLERATED (int)(sizeof(tolerated) / sizeof(tolerated[0]))

static long try_tolerated(struct probe_page *p)
{
	int i;

	for (i = 0; i < NTOLERATED; i++) {
		p->step++;
		syscall(tolerated[i].nr, tolerated[i].arg[0], tolerated[i].arg[1], tolerated[i].arg[2]);
	}
	return 0;
}

/* The steps in order, by the names of the calls they make, for the log
 * line: the needed ones fail the probe on any error. */
struct step {
	const char *call;
	long (*run)(struct probe_page *);
};

static const struct step steps[] = {
	{ "clone3", try_clone3 },
	{ "exit", try_exit },
	{ "clone", try_clone_thread },
	{ "mmap, mprotect, madvise or munmap", try_memory },
	{ "sigaltstack", try_sigaltstack },
	{ "rt_sigaction", try_sigaction },
	{ "rt_sigprocmask", try_sigprocmask },
	{ "rt_sigreturn", try_sigreturn },
	{ "rseq", try_rseq },
	{ "futex", try_futex },
	{ "nanosleep", try_nanosleep },
	{ "gettid, getpid or tgkill", try_ids },
	{ "", try_tolerated },
};
#define NSTEPS (int)(sizeof(steps) / sizeof(steps[0]))


static int probe_child(void *arg)
{
	struct probe_page *p = arg;
	int i;

	for (i = 0; i < NSTEPS; i++) {
		long rc;

		p->step = i < NSTEPS - 1 ? i : NSTEPS - 1;
		rc = steps[i].run(p);
		if (rc < 0) {
			p->err = (int)-rc;
			p->failed = i + 1;
			syscall(SYS_exit_group, 1);
		}
	}
	syscall(SYS_exit_group, 0);
	return 0;
}

/* Whether the plain keyinit in C makes the call of a step too. */
static int plain_makes(int step)
{
	step -= NSTEPS - 1;
	return step >= 1 && step <= NTOLERATED && tolerated[step - 1].plain;
}

static const char *step_name(int step)
{
	if (step < NSTEPS - 1)
		return steps[step].call;
	step -= NSTEPS - 1;
	return step >= 1 && step <= NTOLERATED ? tolerated[step - 1].name : "exit_group";
}

/* Whether /proc/self/status says the process has no seccomp filter. */
static int no_filter(void)
{
	static char buf[4096];  /* under the load lock; the host's stack may be small */
	const char *s;

	if (!kig_read_file("/proc/self/status", buf, sizeof(buf)))
		return 0;
	s = strstr(buf, "\nSeccomp:");
	return s != NULL && strncmp(s + strlen("\nSeccomp:"), "\t0\n", 3) == 0;
}

/* Waits up to 2 s for the child; a filter whose supervisor never answers
 * must not hang the host. */
static int wait_child(pid_t pid, int *status)
{
	struct timespec tick = { 0, 100000 };
	int i;

	for (i = 0; i < 20000; i++) {
		pid_t r = waitpid(pid, status, __WCLONE | WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, __WCLONE);
	return 0;
}

int kig_seccomp_allows_go(struct kig_why *why)
{
	struct probe_page *p;
	sigset_t all, old;
	int status = 0, waited, ok;
	pid_t pid;

	if (no_filter())
		return 1;
	if (shared == NULL) {
		p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			kig_why(why, "mapping memory to probe this thread's seccomp filter failed (%m)");
			return 0;
		}
		shared = p;
	}
	p = shared;
	memset((void *)p, 0, sizeof(*p));
	p->stack = probe_stack;
	/* The child starts with every signal blocked: none of the host's
	 * handlers runs in it. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(probe_child, p->stack + STACK_SIZE - 64, 0, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	waited = pid > 0 && wait_child(pid, &status);
	ok = waited && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (ok)
		return 1;
	if (!waited)
		kig_why(why, "the probe of this thread's seccomp filter %s",
			pid <= 0 ? "could not be started" : "did not finish in 2 s");
	else if (WIFSIGNALED(status) || p->killed) {
		why->kills_plain = plain_makes(p->step);
		kig_why(why, "this thread's seccomp filter kills on %s (signal %d), which the Go "
			"runtime needs: allow it in the service's filter",
			step_name(p->step), p->killed ? p->killed : WTERMSIG(status));
	} else
		kig_why(why, "this thread's seccomp filter makes %s fail (%s), which the Go runtime "
			"needs: allow it in the service's filter",
			p->failed > 0 ? steps[p->failed - 1].call : step_name(p->step), strerror(p->err));
	return 0;
}
