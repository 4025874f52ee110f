/* Blocking the asynchronous signals on the calling thread, for as long as
 * Go code runs on it (core_entry.c): no handler of the host's may run on a
 * Go stack. The synchronous faults stay deliverable: they cannot wait. */
#ifndef KIG_ASYNC_SIGNALS_H
#define KIG_ASYNC_SIGNALS_H

#include <pthread.h>
#include <signal.h>

static inline void kig_block_async_signals(sigset_t *old)
{
	sigset_t block;

	sigfillset(&block);
	sigdelset(&block, SIGSEGV);
	sigdelset(&block, SIGBUS);
	sigdelset(&block, SIGFPE);
	sigdelset(&block, SIGILL);
	sigdelset(&block, SIGTRAP);
	sigdelset(&block, SIGSYS);
	pthread_sigmask(SIG_BLOCK, &block, old);
}

/* Blocking every signal on the calling thread, while the Go runtime starts
 * from it (front/core_load.c): the runtime's threads keep the mask they
 * start with (pam/runtime_guard.c). glibc leaves its own two (SIGCANCEL and
 * SIGSETXID, 32 and 33) unblocked, as every thread needs them. */
static inline void kig_block_every_signal(sigset_t *old)
{
	sigset_t block;

	sigfillset(&block);
	pthread_sigmask(SIG_BLOCK, &block, old);
}

#endif
