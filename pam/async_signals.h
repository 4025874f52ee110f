/* Blocking the asynchronous signals on the calling thread, for as long as
 * Go code runs on it (core_entry.c) or the Go runtime starts from it
 * (front/core_load.c): no handler of the host's may run on a Go stack, and
 * the runtime's threads inherit the mask they start with. The synchronous
 * faults stay deliverable: they cannot wait. */
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

#endif
