/* Whether the calling thread's seccomp filter lets the Go runtime run on it.
 *
 * A filter that makes a call the runtime needs fail, or kills the process
 * on it, ends the host the moment the runtime makes that call: EPERM for
 * clone3 (glibc falls back to clone only on ENOSYS) aborts it in
 * pthread_create, EPERM for sigaltstack crashes it, and a kill action on
 * clone3, madvise, sigaltstack or sched_setaffinity kills it.
 *
 * Whose filter. A filter is a thread's: one installed without TSYNC applies
 * to the thread that installed it, and what it makes later, only.
 * /proc/self/status shows the main thread's; /proc/thread-self/status, read
 * on every hook that may enter Go, the calling thread's: "Seccomp:" its
 * mode, "Seccomp_filters:" (Linux 5.9 on) how many filters it has. Without
 * a filter (Seccomp: 0, the usual case) that read is all (openat, read,
 * close: test/session_life_test.go counts them). A filtered thread is
 * probed once, and the verdict kept in its thread-local storage with the
 * count it holds for: filters are never removed, so a count that grew is a
 * new filter, probed again. Where the kernel gives no count nothing shows a
 * new filter, and every hook probes. A status that cannot be read counts as
 * a filter: probed, and the verdict kept for as long as it stays unread.
 *
 * The probe. No interface shows a thread its filter's rules, so the probe
 * makes each call the runtime, its thread creation and the front make that
 * the host itself may not have made, in a child: the child inherits the
 * thread's filter, and if it is killed the host is not. The child is a
 * clone(2) of the calling thread with no exit signal: the host gets no
 * SIGCHLD, and its own wait() or waitpid(-1) never sees it (only __WCLONE or
 * __WALL does). It shares no memory with the host but one page, where it
 * records the step it is at, a call that failed and how, and that it
 * finished. It runs only raw system calls and library functions that take
 * no lock, since another host thread may have held one when it was made.
 *
 * The verdict is the filter's only when the probe saw it: the child killed
 * by SIGSYS (a seccomp kill; on the call of its step), a needed call failed
 * (the page says which; or wait4, in the host), or every step done, which
 * the page tells also when another thread of the host reaped the child
 * first (waitpid(-1, ..., __WALL) takes any child). Those verdicts are
 * kept. Else the probe says why it does not know, not blaming the filter,
 * and the next hook probes again: the child could not be started; was
 * killed from outside by any other signal (the caller of su may signal it:
 * it has the caller's real uid); was reaped before it finished; or had not
 * finished by its deadline, 2 s on CLOCK_MONOTONIC from its start, stopped
 * or held by a seccomp supervisor or tracer that does not answer, and is
 * killed then. Whatever it says but "allowed", the hook makes the keyring
 * in C (plain_keyinit.c).
 *
 * What the host makes to probe: openat, read and close (the status), mmap
 * (the page), rt_sigprocmask (the child starts with every signal blocked,
 * so no handler of the host's runs in it), clone, and wait4, on which it
 * spins until the child has shown that nanosleep is let through, and then
 * sleeps between polls; munmap only once the child has shown it is let
 * through, kill only past the deadline; the clock is read through the
 * vDSO. A filter that kills on clone, wait4 or mmap, which the probe
 * cannot try before it makes them, also kills every fork() and most
 * allocations of the host, so no PAM host runs under one.
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
#include <stdlib.h>
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

/* How long the probe may take: its child's forty-odd calls and three
 * processes took 3 to 15 ms on a busy 2-CPU VM (a fork of a process the Go
 * runtime has mapped is the most of it); a child held longer (stopped, or
 * at a seccomp supervisor that does not answer) holds the hook no longer
 * than this. */
#define DEADLINE_S 2

/* What the child and the host share: one page, mapped for each probe. A
 * page kept for the next would be shared with every fork() of the host,
 * whose probes would then write to it too. */
struct probe_page {
	volatile int step;       /* the step under way */
	volatile int failed;     /* step + 1 of a needed call that failed */
	volatile int err;        /* and its errno */
	volatile int thread_done;
	volatile int killed;     /* the signal a process the child made died of */
	volatile int slept;      /* nanosleep was let through: the host may sleep */
	volatile int unmapped;   /* munmap was let through: the host may unmap */
	volatile int finished;   /* every step done: the filter lets Go run */
	char *stack;             /* the child's own memory: a sigaltstack, a thread's stack, its stack */
};

/* The child's stacks are private: a process the child makes gets a copy,
 * where a shared stack would be run on by both at once. */
#define STACK_SIZE (128 * 1024)
static char probe_stack[STACK_SIZE] __attribute__((aligned(64)));

static long sys(long rc)
{
	return rc < 0 ? -errno : rc;
}

/* --- the steps: each makes one call as the runtime would ----------------- */

static long try_clone3(struct probe_page *p)
{
	struct clone_args args;
	long pid;

	(void)p;
	memset(&args, 0, sizeof(args));  /* a process, no exit signal */
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		syscall(SYS_exit_group, 0);
	if (pid < 0)  /* on ENOSYS glibc uses clone: the "clone" step */
		return errno == ENOSYS ? 0 : -errno;
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

/* What glibc's pthread_create makes where it does not use clone3: a
 * thread, by clone with the thread flags. That is where clone3 is missing,
 * and always on glibc builds without a clone3 wrapper: arm64 and the others
 * up to Debian 12's glibc 2.36, x86_64 before 2.34 (RHEL 8). The probe's own
 * child, made by clone without those flags, does not show whether a filter
 * that reads clone's flags lets a thread through (seen in the arm64 VM
 * stage: the runtime's threads come from clone there, not clone3). */
static long try_clone_thread(struct probe_page *p)
{
	char *top = p->stack + 96 * 1024;  /* above the sigaltstack's 32 KiB */
	int i;

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

	if (a == -1)
		return -errno;
	if (syscall(SYS_mprotect, a, page, PROT_READ | PROT_WRITE) != 0 ||
	    syscall(SYS_madvise, a, page, MADV_DONTNEED) != 0 ||
	    syscall(SYS_munmap, a, 2 * page) != 0)
		return -errno;
	p->unmapped = 1;
	return 0;
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

/* The first step: the host waits for the child with nanosleep only once
 * the child has shown that the filter lets it through. */
static long try_nanosleep(struct probe_page *p)
{
	struct timespec zero = { 0, 0 };

	if (syscall(SYS_nanosleep, &zero, NULL) != 0)
		return -errno;
	p->slept = 1;
	return 0;
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
	{ "nanosleep", try_nanosleep },
	{ "clone3", try_clone3 },
	{ "exit", try_exit },
	{ "clone", try_clone_thread },
	{ "mmap, mprotect, madvise or munmap", try_memory },
	{ "sigaltstack", try_sigaltstack },
	{ "rt_sigaction", try_sigaction },
	{ "rt_sigprocmask", try_sigprocmask },
	{ "gettid, getpid or tgkill", try_ids },  /* before rt_sigreturn's step, which makes them */
	{ "rt_sigreturn", try_sigreturn },
	{ "rseq", try_rseq },
	{ "futex", try_futex },
	{ "", try_tolerated },
};
#define NSTEPS (int)(sizeof(steps) / sizeof(steps[0]))


static int probe_child(void *arg)
{
	struct probe_page *p = arg;
	int i;

	for (i = 0; i < NSTEPS; i++) {
		long rc;

		p->step = i;
		rc = steps[i].run(p);
		if (rc < 0) {
			p->err = (int)-rc;
			p->failed = i + 1;
			for (;;)
				syscall(SYS_exit_group, 1);
		}
	}
	p->finished = 1;
	for (;;)
		syscall(SYS_exit_group, 0);
	return 0;
}

/* Whether the plain keyinit in C makes the call of a step too. */
static int plain_makes(int step)
{
	step -= NSTEPS - 1;
	return step >= 1 && step <= NTOLERATED && tolerated[step - 1].plain;
}

/* The call the child was making at step (its tolerated calls count on). */
static const char *step_name(int step)
{
	if (step < NSTEPS - 1)
		return steps[step].call;
	step -= NSTEPS - 1;
	return step >= 1 && step <= NTOLERATED ? tolerated[step - 1].name : "exit_group";
}

/* --- the host's side ---------------------------------------------------- */

static int past(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

enum { GONE, EXITED, RUNNING, UNWAITED };

/* Polls for the child until it ends or the deadline passes: EXITED with its
 * status, GONE if another thread of the host reaped it (ECHILD), RUNNING at
 * the deadline, UNWAITED if wait4 fails otherwise (the filter's errno in
 * *status). A signal to this thread ends no wait early or late. */
static int wait_child(pid_t pid, int *status, const struct probe_page *p, const struct timespec *deadline)
{
	const struct timespec tick = { 0, 100000 };

	for (;;) {
		pid_t r = waitpid(pid, status, __WCLONE | WNOHANG);

		if (r == pid)
			return EXITED;
		if (r < 0 && errno == ECHILD)
			return GONE;
		if (r < 0 && errno != EINTR) {
			*status = errno;
			return UNWAITED;
		}
		if (past(deadline))
			return RUNNING;
		if (p->slept)
			syscall(SYS_nanosleep, &tick, NULL);
	}
}

/* Whether the child is stopped (by a signal or a tracer), from its state
 * in /proc/PID/stat, after its name, which may hold any character. */
static int stopped(pid_t pid)
{
	static char buf[512];  /* under the load lock */
	char path[32];
	const char *end;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!kig_read_file(path, buf, sizeof(buf)) || (end = strrchr(buf, ')')) == NULL)
		return 0;
	return end[1] == ' ' && (end[2] == 'T' || end[2] == 't');
}

/* The verdict from how the child ended and what its page says; *sure is 1
 * if it is the filter's. ended is wait_child's answer. */
static int verdict(const struct probe_page *p, int ended, int status, int was_stopped, struct kig_why *why,
		   int *sure)
{
	const char *at = step_name(p->step);
	int sig = p->killed ? p->killed : ended == EXITED && WIFSIGNALED(status) ? WTERMSIG(status) : 0;

	*sure = 1;
	if (p->finished)
		return 1;
	if (ended == UNWAITED) {
		kig_why(why, "this thread's seccomp filter makes wait4 fail (%s), which the probe of the "
			"filter needs: allow it in the service's filter", strerror(status));
		return 0;
	}
	if (p->failed > 0 && !p->killed) {
		kig_why(why, "this thread's seccomp filter makes %s fail (%s), which the Go runtime needs: "
			"allow it in the service's filter", steps[p->failed - 1].call, strerror(p->err));
		return 0;
	}
	if (sig == SIGSYS) {
		why->kills_plain = plain_makes(p->step);
		kig_why(why, "this thread's seccomp filter kills on %s (SIGSYS), which the Go runtime needs: "
			"allow it in the service's filter", at);
		return 0;
	}
	*sure = 0;
	if (sig != 0)
		kig_why(why, "the probe of this thread's seccomp filter was killed from outside by signal %d "
			"while at %s, which is not the filter's doing: do not signal the service's processes "
			"while a session opens", sig, at);
	else if (ended == GONE)
		kig_why(why, "the probe of this thread's seccomp filter was reaped by another thread of the "
			"host (a wait for any child with __WALL or __WCLONE) before it finished, at %s, which "
			"is not the filter's doing: make the host wait for its own children by pid, or "
			"without __WALL", at);
	else if (ended == RUNNING && was_stopped)
		kig_why(why, "the probe of this thread's seccomp filter did not finish in %d s: it was "
			"stopped, by a signal or a tracer, at %s, which is not the filter's doing: do not stop "
			"the service's processes while a session opens", DEADLINE_S, at);
	else if (ended == RUNNING)
		kig_why(why, "the probe of this thread's seccomp filter did not finish in %d s: it was still "
			"at %s, which is not a refusal by the filter: if the filter hands that call to a "
			"supervisor or tracer, make it answer; else try again when the machine is less busy",
			DEADLINE_S, at);
	else
		kig_why(why, "the probe of this thread's seccomp filter ended at %s without a verdict "
			"(exit status %d), which is not a refusal by the filter: check what the filter does "
			"with exit_group", at, WEXITSTATUS(status));
	return 0;
}

/* Runs the probe in a child: 1 if the filter lets Go run on this thread,
 * else 0 with the reason; *sure is 1 if that is the filter's verdict, 0 if
 * the probe could not tell. */
static int probe(struct kig_why *why, int *sure)
{
	struct timespec deadline;
	struct probe_page *p;
	sigset_t all, old;
	int status = 0, ended, was_stopped = 0, allows, err;
	pid_t pid;

	*sure = 0;
	p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		kig_why(why, "the probe of this thread's seccomp filter could not be started (mmap: %m), "
			"which says nothing against the filter: see why this process cannot map a page");
		return 0;
	}
	p->stack = probe_stack;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += DEADLINE_S;
	/* The child starts with every signal blocked: none of the host's
	 * handlers runs in it. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(probe_child, probe_stack + STACK_SIZE - 64, 0, p);
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		kig_why(why, "the probe of this thread's seccomp filter could not be started (clone: %s), "
			"which says nothing against the filter: see why this service cannot make a process "
			"(RLIMIT_NPROC, pids.max)", strerror(err));
		return 0;  /* the page stays: munmap is untried */
	}
	ended = wait_child(pid, &status, p, &deadline);
	if (ended == RUNNING) {
		/* Past the deadline: killed, and reaped within a short grace (a
		 * child that outlives it, in no call we know of, is left to the
		 * host's own reaping). */
		was_stopped = stopped(pid);
		kill(pid, SIGKILL);
		deadline.tv_nsec += 200000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		wait_child(pid, &status, p, &deadline);
	}
	allows = verdict(p, ended, status, was_stopped, why, sure);
	/* Unmapped only where the child has shown munmap is let through; else
	 * the page stays mapped, one per such probe. */
	if (p->unmapped)
		munmap(p, sizeof(*p));
	return allows;
}

/* --- the calling thread's filter ---------------------------------------- */

#define NO_FILTER 0L
#define UNREAD    (-1L)  /* no status to read: probed as if filtered */
#define UNCOUNTED (-2L)  /* filtered, and the kernel gives no count: never kept */

/* NO_FILTER if /proc/thread-self/status says the calling thread has no
 * seccomp filter; else the key its verdict is kept under: the number of
 * its filters, UNREAD or UNCOUNTED. */
static long thread_filters(void)
{
	static char buf[4096];  /* under the load lock; the host's stack may be small */
	static const char mode[] = "\nSeccomp:\t", count[] = "\nSeccomp_filters:\t";
	const char *s;
	char *end;
	long n;

	if (!kig_read_file("/proc/thread-self/status", buf, sizeof(buf)) ||
	    (s = strstr(buf, mode)) == NULL)
		return UNREAD;
	s += sizeof(mode) - 1;
	if (s[0] == '0' && s[1] == '\n')
		return NO_FILTER;
	if ((s = strstr(s, count)) == NULL)
		return UNCOUNTED;
	n = strtol(s + sizeof(count) - 1, &end, 10);
	return n > 0 && *end == '\n' ? n : UNCOUNTED;
}

/* The calling thread's kept verdict and the key it holds for: its filters
 * never go away, and a new one changes the key. A new thread starts with
 * none (glibc clears a reused thread's dynamic TLS); a fork's thread keeps
 * its parent thread's, as it keeps its filters. */
static __thread struct {
	long key;  /* NO_FILTER: none kept */
	int allows;
	struct kig_why why;
} kept;

int kig_seccomp_allows_go(struct kig_why *why)
{
	long key = thread_filters();
	int allows, sure;

	if (key == NO_FILTER)
		return 1;
	if (key != UNCOUNTED && kept.key == key) {
		if (!kept.allows)
			*why = kept.why;
		return kept.allows;
	}
	allows = probe(why, &sure);
	if (sure) {
		kept.key = key;
		kept.allows = allows;
		kept.why = *why;
	}
	return allows;
}
