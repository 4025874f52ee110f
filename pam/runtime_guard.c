/* What the Go runtime may do to its host, enforced where it does it.
 *
 * Signal dispositions. The core is linked with --wrap=sigaction (Makefile),
 * so the runtime's C half (runtime/cgo) calls __wrap_sigaction instead of
 * libc's. At its start the runtime installs handlers for SIGPIPE, SIGURG
 * and the synchronous faults, even over a SIG_IGN the host set, and adds
 * SA_ONSTACK to the host's own handlers; an ignored SIGPIPE lost that way,
 * even for a moment, is lost in every child another thread of the host
 * spawns meanwhile. Here it may set only SIGSEGV, SIGBUS and SIGFPE, and
 * only where the host left the default: a fault in Go code then becomes a
 * panic the bridge recovers, and the runtime passes any other fault to the
 * default action. Every other request leaves the host's disposition as it
 * is and reports it back as if it had been set. The module needs none of
 * them: it sends itself no SIGURG (asyncpreemptoff), never writes to a
 * pipe, and no host handler runs on a Go stack, since asynchronous signals
 * are blocked while Go code runs (core_entry.c).
 *
 * The runtime's threads block every signal. A process-directed signal goes
 * to any thread that does not block it, so a SIGSEGV a user sends with
 * kill() to their own su, whose thread blocks it, would land on a thread of
 * the runtime's that did not, and end su in the runtime's handler. Each
 * thread the runtime makes sets its own mask as it starts
 * (minitSignalMask, runtime/signal_unix.go): the mask its M was given, less
 * every signal the runtime's sigtable marks _SigUnblock (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGTRAP, SIGSTKFLT, SIGCHLD, SIGPROF, 32, 33, 34). Every
 * M is given the mask of the runtime's first thread (initSigmask), which
 * pthread_create made from the thread that started the runtime, and the
 * front starts it with every signal blocked (front/core_load.c). So, before
 * the runtime starts, kig_keep_signals_blocked clears _SigUnblock in the
 * table, but for 32 and 33, glibc's SIGCANCEL and SIGSETXID, which glibc
 * never lets a thread block (set*id() signals every thread with SIGSETXID
 * and waits for each). Then every thread of the runtime's blocks every
 * other signal from its first instruction, and signals sent to the process
 * reach the host's threads only, as without the module: nothing is sent,
 * no disposition of the host's is touched, even for a moment. The runtime
 * needs no signal on its own threads: it sends no preemption signal, and
 * they never run the module's code (faults there are the calling
 * thread's). A host thread's first call into Go runs minitSignalMask too,
 * and now keeps the mask enter_go gave it (core_entry.c), as every later
 * call does: the runtime would have unblocked SIGCHLD and SIGPROF there
 * for that call, and the synchronous faults if the host blocked them.
 *
 * _SigUnblock has no other reader than blockableSig, which only
 * minitSignalMask and os/signal (not in the core) call; the table's layout,
 * the flag's value and how a thread gets its mask are checked for every Go
 * release the build accepts by test/sysmon_pin_test.go. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime_guard.h"

int __real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

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

/* runtime.sigTabT, an entry of runtime.sigtable: {flags int32; name string},
 * indexed by signal number; 65 entries (sigtab_linux_generic.go, the table
 * of every Linux architecture but mips, whose has 129). A Go string is a
 * pointer and a length (int), so an entry is 24 bytes on every 64-bit
 * target, flags first, 4 bytes of padding, in either byte order: flags is
 * an int32 on both sides. */
#if defined(__mips__)
#error "runtime.sigtable is sigtab_linux_mipsx.go's on mips (129 entries): GO_SIGTABLE_LEN and the pin test must follow it"
#endif
struct go_sigtab {
	int32_t flags;
	const char *name;
	intptr_t name_len;
};
_Static_assert(sizeof(struct go_sigtab) == 3 * sizeof(void *) &&
		       offsetof(struct go_sigtab, name) == sizeof(void *) &&
		       offsetof(struct go_sigtab, name_len) == 2 * sizeof(void *),
	       "runtime.sigTabT's layout: {int32; pointer; int}, each field word-aligned");

#define GO_SIGTABLE_LEN 65
#define GO_SIG_UNBLOCK (1 << 7)  /* runtime._SigUnblock, the 8th flag */

void kig_keep_signals_blocked(void *sigtable)
{
	struct go_sigtab *t = sigtable;
	int sig;

	for (sig = 0; sig < GO_SIGTABLE_LEN; sig++)
		if (sig != 32 && sig != 33)
			t[sig].flags &= ~GO_SIG_UNBLOCK;
}
