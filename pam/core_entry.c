/* The Go core's entry points (core_api.h): the only symbols core.so exports.
 *
 * They are C so that the front can ask them things without entering Go, and
 * so that every call into Go is wrapped the same way:
 *   - Asynchronous signals are blocked on the calling thread while Go code
 *     runs. No handler of the host's then runs on a goroutine stack, and
 *     the host's handlers need no SA_ONSTACK (the front puts back the flags
 *     the runtime changed at its start). Pending signals arrive when the
 *     hook returns, or when Go calls back out to libpam, NSS or syslog
 *     (shims.c), which run with the host's mask on the thread's C stack.
 *     Synchronous faults stay deliverable: the runtime turns a fault in Go
 *     into a panic, which the bridge recovers.
 *   - The thread runs Go on the runtime's own signal stack and gets its own
 *     sigaltstack back afterwards, so a host handler marked SA_ONSTACK never
 *     lands on the runtime's 32 KiB stack (no guard page, Go heap below).
 *   - Whether this process may run Go at all is known here: the runtime
 *     records the process it started in (a pid and a page that the kernel
 *     zeroes in every child).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "async_signals.h"
#include "keyinit_pam.h"
#include "_cgo_export.h"

#define STARTED_TOKEN 0x6b69672d676f2131ULL  /* "kig-go!1" */

static pid_t loader_pid;               /* the process the runtime started in */
static volatile int forked;            /* set in every fork() child */
static volatile uint64_t *wipe_page;   /* MADV_WIPEONFORK: zero in every child */

/* The runtime's handlers of the synchronous faults, as its start left them
 * (see kig_core_wait_started). */
static const int fault_signals[] = { SIGSEGV, SIGBUS, SIGFPE };
static void *runtime_fault_handler[3];

/* In every fork() child: Go cannot run there, so a fault in the child's C
 * code must get the default action (a core dump), not the runtime's
 * handler, which would enter the runtime and could hang on a lock held by
 * a thread the child does not have. Only async-signal-safe calls here. */
static void mark_forked(void)
{
	size_t i;

	forked = 1;
	for (i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++) {
		struct sigaction now;

		if (runtime_fault_handler[i] != NULL && sigaction(fault_signals[i], NULL, &now) == 0 &&
		    (void *)now.sa_sigaction == runtime_fault_handler[i]) {
			now.sa_handler = SIG_DFL;
			now.sa_flags = 0;
			sigaction(fault_signals[i], &now, NULL);
		}
	}
}

/* Runs at dlopen, in the process whose runtime this is. A child made by
 * fork() runs the atfork handler; one made by a raw clone() does not, and in
 * a new pid namespace it may even have the loader's pid (1), but the kernel
 * hands it a zeroed copy of the wipe-on-fork page (Linux >= 4.14; on older
 * kernels only the pid and atfork tests remain). */
__attribute__((constructor)) static void record_loader(void)
{
	void *page;

	loader_pid = getpid();
	pthread_atfork(NULL, NULL, mark_forked);
	page = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return;
	if (madvise(page, (size_t)sysconf(_SC_PAGESIZE), MADV_WIPEONFORK) != 0) {
		munmap(page, (size_t)sysconf(_SC_PAGESIZE));
		return;
	}
	wipe_page = page;
	*wipe_page = STARTED_TOKEN;
}

int kig_core_abi(void)
{
	return KIG_CORE_ABI;
}

int kig_core_started_here(pid_t *loader)
{
	*loader = loader_pid;
	if (forked || getpid() != loader_pid)
		return 0;
	return wipe_page == NULL || *wipe_page == STARTED_TOKEN;
}

/* The runtime's signal stack for this thread, as the runtime set it at the
 * thread's first call: a thread keeps its Go M for life, so later calls must
 * find the same stack in place, the runtime does not set it again. */
static __thread stack_t go_sigstack;

struct go_call {
	sigset_t mask;
	stack_t sigstack;
};

/* The host's mask of the call into Go under way on this thread. */
static __thread sigset_t host_mask;

void kig_host_signals(sigset_t *go)
{
	pthread_sigmask(SIG_SETMASK, &host_mask, go);
}

void kig_go_signals(const sigset_t *go)
{
	pthread_sigmask(SIG_SETMASK, go, NULL);
}

static void enter_go(struct go_call *c)
{
	kig_block_async_signals(&c->mask);
	host_mask = c->mask;
	sigaltstack(NULL, &c->sigstack);
	if ((c->sigstack.ss_flags & SS_DISABLE) && go_sigstack.ss_sp != NULL)
		sigaltstack(&go_sigstack, NULL);
}

static void leave_go(const struct go_call *c)
{
	stack_t now = c->sigstack;

	if (sigaltstack(NULL, &now) == 0 && !(now.ss_flags & SS_DISABLE) &&
	    now.ss_sp != c->sigstack.ss_sp) {
		go_sigstack = now;
		go_sigstack.ss_flags = 0;
	}
	if (now.ss_sp != c->sigstack.ss_sp || now.ss_flags != c->sigstack.ss_flags) {
		stack_t back = c->sigstack;

#ifdef SS_AUTODISARM
		back.ss_flags &= SS_DISABLE | SS_AUTODISARM;  /* SS_ONSTACK is a status, not a setting */
#else
		back.ss_flags &= SS_DISABLE;  /* SS_ONSTACK is a status, not a setting */
#endif
		sigaltstack(&back, NULL);
	}
	pthread_sigmask(SIG_SETMASK, &c->mask, NULL);
}

void kig_core_wait_started(void)
{
	struct go_call c;
	size_t i;

	enter_go(&c);
	kig_go_ready();
	leave_go(&c);
	for (i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++) {
		struct sigaction now;

		if (sigaction(fault_signals[i], NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO))
			runtime_fault_handler[i] = (void *)now.sa_sigaction;
	}
}

int kig_core_init(pam_handle_t *pamh, int hook, int argc, const char **argv,
		  struct kig_state *st)
{
	struct go_call c;
	int rc;

	enter_go(&c);
	rc = kig_go_init(pamh, hook, argc, (char **)argv, st);
	leave_go(&c);
	return rc;
}
