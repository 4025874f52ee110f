/* runtime_guard.c: what the Go runtime may do to its host. */
#ifndef KIG_RUNTIME_GUARD_H
#define KIG_RUNTIME_GUARD_H

#include <signal.h>

/* libc's own sigaction, for the core's C code (the link wraps the name). */
int __real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* Clears _SigUnblock in runtime.sigtable (but for glibc's 32 and 33), so
 * that the runtime's threads keep the mask it starts with: every signal
 * blocked. Only before the runtime starts. */
void kig_keep_signals_blocked(void *sigtable);

#endif
