/* What the Go runtime may do to its host, enforced where it does it: the
 * core is linked with --wrap=sigaction and --wrap=pthread_create (Makefile),
 * so the runtime's C half (runtime/cgo) calls these instead of libc's.
 *
 * Signal dispositions. At its start the runtime installs handlers for
 * SIGPIPE, SIGURG and the synchronous faults, even over a SIG_IGN the host
 * set, and adds SA_ONSTACK to the host's own handlers; an ignored SIGPIPE
 * lost that way, even for a moment, is lost in every child another thread
 * of the host spawns meanwhile. Here it may set only SIGSEGV, SIGBUS and
 * SIGFPE, and only where the host left the default: a fault in Go code then
 * becomes a panic the bridge recovers, and the runtime passes any other
 * fault to the default action. Every other request leaves the host's
 * disposition as it is and reports it back as if it had been set. The
 * module needs none of them: it sends itself no SIGURG (asyncpreemptoff),
 * never writes to a pipe, and no host handler runs on a Go stack, since
 * asynchronous signals are blocked while Go code runs (core_entry.c).
 *
 * The runtime's threads. They start with the loading thread's mask, all
 * asynchronous signals blocked (front/core_load.c), but the runtime then
 * unblocks SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGPROF on each.
 * A process-directed signal goes to any thread that does not block it, so a
 * SIGSEGV a user sends with kill() to their own su, whose thread blocks it,
 * would land on a runtime thread and end su in the runtime's handler. So
 * every thread the runtime makes is recorded as it starts, and then made to
 * block every signal: it is sent SIGPROF, whose handler here widens the mask
 * the kernel restores when the handler returns (uc_sigmask). Signals sent
 * to the process then reach the host's threads only, as without the module.
 * The runtime needs none on its own threads: it sends no preemption signal,
 * and its threads never run the module's code (faults there are the calling
 * thread's). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/futex.h>

#include "runtime_guard.h"

int __real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

/* --- dispositions ------------------------------------------------------- */

static int in_this_object(const void *p)
{
	Dl_info mine, other;

	return dladdr((void *)&in_this_object, &mine) != 0 && dladdr(p, &other) != 0 &&
	       mine.dli_fbase == other.dli_fbase;
}

static int runtime_may_set(int sig)
{
	struct sigaction now;

	if (sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE)
		return 0;
	if (__real_sigaction(sig, NULL, &now) != 0)
		return 0;
	if (now.sa_flags & SA_SIGINFO)
		return in_this_object((const void *)now.sa_sigaction);
	return now.sa_handler == SIG_DFL;
}

int __wrap_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (act == NULL || runtime_may_set(sig))
		return __real_sigaction(sig, act, old);
	return __real_sigaction(sig, NULL, old);
}

/* --- the runtime's threads ---------------------------------------------- */

#define MAX_RUNTIME_THREADS 64

static pid_t runtime_tids[MAX_RUNTIME_THREADS];
static int threads_made;      /* recorded in runtime_tids (atomic) */
static int threads_blocked;   /* of those, made to block every signal (under block_lock) */
static pthread_mutex_t block_lock = PTHREAD_MUTEX_INITIALIZER;
static int block_from, block_to;  /* the runtime_tids being made to block (atomic) */
static int blocked_now;           /* how many of them have (atomic; a futex) */
static struct sigaction sigprof_before;

/* The kernel's own record of a disposition: read and written back raw, it
 * comes back exactly as it was (libc's sigaction would add SA_RESTORER to
 * a default the host never set). */
struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long mask;
};
static struct kernel_sigaction sigprof_kernel;

struct thread_start {
	void *(*fn)(void *);
	void *arg;
};

static void *runtime_thread(void *p)
{
	struct thread_start s = *(struct thread_start *)p;
	int i;

	free(p);
	i = __atomic_load_n(&threads_made, __ATOMIC_ACQUIRE);
	while (i < MAX_RUNTIME_THREADS &&
	       !__atomic_compare_exchange_n(&threads_made, &i, i + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	if (i < MAX_RUNTIME_THREADS)
		__atomic_store_n(&runtime_tids[i], (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	return s.fn(s.arg);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	struct thread_start *s = malloc(sizeof(*s));
	int rc;

	if (s == NULL)
		return EAGAIN;
	s->fn = fn;
	s->arg = arg;
	rc = __real_pthread_create(t, attr, runtime_thread, s);
	if (rc != 0)
		free(s);
	return rc;
}

static int being_blocked(pid_t tid)
{
	int i, to = __atomic_load_n(&block_to, __ATOMIC_ACQUIRE);

	for (i = __atomic_load_n(&block_from, __ATOMIC_ACQUIRE); i < to; i++)
		if (__atomic_load_n(&runtime_tids[i], __ATOMIC_ACQUIRE) == tid)
			return 1;
	return 0;
}

/* SIGPROF's handler while threads are being made to block: on one of them,
 * widen the mask it returns to; anything else is the host's SIGPROF (a
 * profiling timer), handed to what the host had. */
static void block_everything(int sig, siginfo_t *si, void *ctx)
{
	pid_t self = (pid_t)syscall(SYS_gettid);

	if (si->si_code == SI_TKILL && si->si_pid == getpid() && being_blocked(self)) {
		sigfillset(&((ucontext_t *)ctx)->uc_sigmask);
		__atomic_add_fetch(&blocked_now, 1, __ATOMIC_RELEASE);
		syscall(SYS_futex, &blocked_now, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		return;
	}
	if (sigprof_before.sa_flags & SA_SIGINFO)
		sigprof_before.sa_sigaction(sig, si, ctx);
	else if (sigprof_before.sa_handler != SIG_IGN && sigprof_before.sa_handler != SIG_DFL)
		sigprof_before.sa_handler(sig);
	else if (sigprof_before.sa_handler == SIG_DFL) {
		/* SIGPROF's default ends the process: let it. */
		syscall(SYS_rt_sigaction, sig, &sigprof_kernel, NULL, sizeof(sigprof_kernel.mask));
		syscall(SYS_tgkill, getpid(), self, sig);
	}
}

/* Waits up to a second in all for want threads' handlers to have run. */
static int wait_blocked(int want)
{
	struct timespec deadline, now, left;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 1;
	while ((n = __atomic_load_n(&blocked_now, __ATOMIC_ACQUIRE)) < want) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = deadline.tv_sec - now.tv_sec;
		left.tv_nsec = deadline.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0)
			return 0;
		syscall(SYS_futex, &blocked_now, FUTEX_WAIT_PRIVATE, n, &left, NULL, 0);
	}
	return 1;
}

int kig_block_runtime_threads(void)
{
	struct sigaction sa = { 0 };
	int made, sent = 0, i, ok = 1;

	if (__atomic_load_n(&threads_blocked, __ATOMIC_ACQUIRE) ==
	    __atomic_load_n(&threads_made, __ATOMIC_ACQUIRE))
		return 1;
	pthread_mutex_lock(&block_lock);
	sa.sa_sigaction = block_everything;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (syscall(SYS_rt_sigaction, SIGPROF, NULL, &sigprof_kernel, sizeof(sigprof_kernel.mask)) != 0 ||
	    __real_sigaction(SIGPROF, &sa, &sigprof_before) != 0) {
		pthread_mutex_unlock(&block_lock);
		return 0;
	}
	/* Every thread made since the last time, all at once. One still
	 * starting (its tid not yet recorded) is left for the next call. */
	made = __atomic_load_n(&threads_made, __ATOMIC_ACQUIRE);
	for (i = threads_blocked; i < made; i++)
		if (__atomic_load_n(&runtime_tids[i], __ATOMIC_ACQUIRE) == 0)
			break;
	made = i;
	__atomic_store_n(&blocked_now, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&block_from, threads_blocked, __ATOMIC_RELEASE);
	__atomic_store_n(&block_to, made, __ATOMIC_RELEASE);
	for (i = threads_blocked; i < made; i++)
		if (syscall(SYS_tgkill, getpid(), runtime_tids[i], SIGPROF) == 0)
			sent++;
	ok = wait_blocked(sent);
	__atomic_store_n(&block_to, 0, __ATOMIC_RELEASE);
	threads_blocked = made;
	syscall(SYS_rt_sigaction, SIGPROF, &sigprof_kernel, NULL, sizeof(sigprof_kernel.mask));
	pthread_mutex_unlock(&block_lock);
	return ok;
}
