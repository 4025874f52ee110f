/* runtime_guard.c: what the Go runtime may do to its host. */
#ifndef KIG_RUNTIME_GUARD_H
#define KIG_RUNTIME_GUARD_H

#include <signal.h>
#include <sys/types.h>

/* libc's own sigaction, for the core's C code (the link wraps the name). */
int __real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* Makes every thread the runtime has made since the last call block every
 * signal. Returns 0 if one could not be reached in time. Cheap when the
 * runtime made no new thread. */
int kig_block_runtime_threads(void);

#endif
