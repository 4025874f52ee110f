/* The Go core's entry points (core_api.h): the only symbols core.so exports.
 *
 * They are C so that the front can ask them things without entering Go, and
 * so that every call into Go is wrapped the same way:
 *   - Asynchronous signals are blocked on the calling thread while Go code
 *     runs. No handler of the host's then runs on a goroutine stack, and
 *     the host's handlers need no SA_ONSTACK (the front puts back the flags
 *     the runtime changed at its start). Pending signals arrive when the
 *     hook returns, or while Go writes a syslog line (shims.c), which runs
 *     with the host's mask on the thread's C stack. The front looks the user
 *     up (pam_get_user, NSS) before Go runs, with the host's mask.
 *     Synchronous faults stay deliverable: the runtime turns a fault in Go
 *     into a panic, which the bridge recovers.
 *   - The thread runs Go on the runtime's own signal stack and gets its own
 *     sigaltstack back afterwards, so a host handler marked SA_ONSTACK never
 *     lands on the runtime's 32 KiB stack (no guard page, Go heap below).
 *   - Whether this process may run Go at all is known here: the runtime
 *     records the process it started in (a pid and a page that the kernel
 *     zeroes in every child).
 * The runtime starts here too (kig_core_start), after one edit of its
 * signal table that leaves its threads blocking every signal, as the front
 * starts it (runtime_guard.c).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <security/pam_ext.h>

#include "async_signals.h"
#include "keyinit_pam.h"
#include "runtime_guard.h"
#include "_cgo_export.h"

#define STARTED_TOKEN 0x6b69672d676f2131ULL  /* "kig-go!1" */

static pid_t loader_pid;               /* the process the runtime started in; 0 before */
static volatile int forked;            /* set in every fork() child after the start */
static volatile uint64_t *wipe_page;   /* MADV_WIPEONFORK: zero in every child */

/* The runtime's handlers of the synchronous faults, as its start left them
 * (see kig_core_wait_started). */
static const int fault_signals[] = { SIGSEGV, SIGBUS, SIGFPE };
static void *runtime_fault_handler[3];

/* In every fork() child (the front's atfork handler calls it): Go cannot
 * run there once the runtime has started in the parent, so a fault in the
 * child's C code must get the default action (a core dump), not the
 * runtime's handler, which would enter the runtime and could hang on a lock
 * held by a thread the child does not have. Only async-signal-safe calls
 * here. It is the front's handler, not one of the core's own, because the
 * core registers none: pthread_atfork while the front loads the core would
 * wait on glibc's fork lock, which a forking thread holds while it waits
 * for that load to end. */
void kig_core_forked(void)
{
	size_t i;

	if (loader_pid == 0)
		return;  /* no runtime yet: the child may start its own */
	forked = 1;
	for (i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++) {
		struct sigaction now;

		if (runtime_fault_handler[i] != NULL && __real_sigaction(fault_signals[i], NULL, &now) == 0 &&
		    (void *)now.sa_sigaction == runtime_fault_handler[i]) {
			now.sa_handler = SIG_DFL;
			now.sa_flags = 0;
			__real_sigaction(fault_signals[i], &now, NULL);
		}
	}
}

/* Runs at dlopen. The runtime does not start then (pam/rt0): the front
 * starts it later with kig_core_start, and only that process may enter Go.
 * A child made by fork() is marked by kig_core_forked; one made by a raw
 * clone() is not, and in a new pid namespace it may even have the starter's
 * pid (1), but the kernel hands it a zeroed copy of the wipe-on-fork page
 * (Linux >= 4.14; on older kernels only the pid and fork tests remain). */
__attribute__((constructor)) static void watch_forks(void)
{
	void *page = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (page == MAP_FAILED)
		return;
	if (madvise(page, (size_t)sysconf(_SC_PAGESIZE), MADV_WIPEONFORK) != 0) {
		munmap(page, (size_t)sysconf(_SC_PAGESIZE));
		return;
	}
	wipe_page = page;
}

int kig_core_abi(void)
{
	return KIG_CORE_ABI;
}

/* --- starting the runtime ----------------------------------------------- */

/* pam/rt0: the runtime's entry, which the link puts in .init_array instead
 * of the runtime's own, is started with RT0_MAGIC as its third argument;
 * with RT0_SIGTABLE instead, it returns the address of runtime.sigtable.
 * ld.so passes the host's environ there, a pointer, and neither value is
 * an address environ can have: both are above 2^61, beyond the end of user
 * space (2^47 on amd64, 2^52 on arm64 and ppc64le, 2^57 on riscv64; s390x
 * maps above 2^53 only where a mapping asks for it): the callers cannot be
 * confused. */
#define RT0_MAGIC 0x2131746f72676b69ULL
#define RT0_SIGTABLE 0x2132746f72676b69ULL

/* How the entry is recognised among the core's .init_array entries, on each
 * architecture: the bytes at start_at are its first instruction of its own
 * (ppc64le's first two set the TOC pointer, and vary with the link), and
 * the 8 bytes at magic_at are RT0_MAGIC as the machine stores a 64-bit
 * word. amd64's instruction is the MOVQ whose immediate is the magic, which
 * the entry compares; elsewhere no instruction holds a 64-bit constant
 * whole, so the magic is data and the instruction a branch over it. amd64
 * keeps its form: it has no data among its instructions, and it is the
 * entry the whole test suite has run on amd64.
 * test/cross_test.go reads this table: keep one row a line, in this form.
 *
 * A new architecture (one where Go supports -buildmode=c-shared) needs:
 *   - pam/rt0/rt0_ARCH.s: the entry, after rt0_arm64.s (a branch over the
 *     magic, then the comparisons of the C ABI's third argument register),
 *     and ARCH taken out of rt0_other.go's build constraint;
 *   - a row here with the offsets the assembler gave it (go tool objdump,
 *     or the cross test's failure), and its compiler's macro below;
 *   - runtime_guard.c: the runtime's signal table must be the one it
 *     mirrors (sigtab_linux_generic.go);
 *   - test/sysmon_pin_test.go: the runtime's library entry of the
 *     architecture in its table (the registers argc and argv arrive in,
 *     how it starts the runtime's first thread);
 *   - test/cross_test.go and internal/pamdir: its compiler, ELF machine
 *     and Debian triplet; the Makefile's ARCH_NAMES: its package names;
 *   - internal/runtimefloor/floor.h: the floor measured on a machine of
 *     that architecture (test/floor_test.go), if it differs. */
struct rt0_shape {
	const char *goarch;
	size_t start_at, start_len;
	unsigned char start[4];
	size_t magic_at;
};
static const struct rt0_shape rt0_shapes[] = {
	{ "amd64", 0, 2, { 0x48, 0xb8 }, 2 },               /* MOVQ $magic, AX */
	{ "arm64", 0, 4, { 0x03, 0x00, 0x00, 0x14 }, 4 },   /* B 12(PC) */
	{ "ppc64le", 8, 4, { 0x0c, 0x00, 0x00, 0x48 }, 12 }, /* after the TOC prologue: BR 12(PC) */
	{ "s390x", 0, 4, { 0xa7, 0xf4, 0x00, 0x06 }, 4 },   /* BRC 15, 12(PC) */
	{ "riscv64", 0, 4, { 0x6f, 0x00, 0xc0, 0x00 }, 4 }, /* JAL ZERO, 12(PC) */
};

#if defined(__x86_64__)
#define RT0_GOARCH "amd64"
#elif defined(__aarch64__)
#define RT0_GOARCH "arm64"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && _CALL_ELF == 2
#define RT0_GOARCH "ppc64le"
#elif defined(__s390x__)
#define RT0_GOARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define RT0_GOARCH "riscv64"
#else
#error "pam/rt0 has no runtime entry for this architecture (see above how one is added)"
#endif

typedef void *(*rt0_entry)(long argc, char **argv, unsigned long long magic);

struct rt0_search {
	const void *base;    /* this object's load address */
	const struct rt0_shape *shape;
	rt0_entry entry;
};

static const struct rt0_shape *rt0_shape(void)
{
	size_t i;

	for (i = 0; i < sizeof(rt0_shapes) / sizeof(rt0_shapes[0]); i++)
		if (strcmp(rt0_shapes[i].goarch, RT0_GOARCH) == 0)
			return &rt0_shapes[i];
	return NULL;
}

static int find_rt0(struct dl_phdr_info *info, size_t size, void *data)
{
	struct rt0_search *s = data;
	const ElfW(Dyn) *d = NULL;
	const uintptr_t *init = NULL;
	size_t n = 0, i;

	(void)size;
	if ((const void *)info->dlpi_addr != s->base)
		return 0;
	for (i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			d = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
	for (; d != NULL && d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_INIT_ARRAY)
			init = (const uintptr_t *)(info->dlpi_addr + d->d_un.d_ptr);
		else if (d->d_tag == DT_INIT_ARRAYSZ)
			n = d->d_un.d_val / sizeof(uintptr_t);
	}
	for (i = 0; init != NULL && i < n; i++) {
		const unsigned char *code = (const unsigned char *)init[i];
		uint64_t magic;

		memcpy(&magic, code + s->shape->magic_at, sizeof(magic));
		if (memcmp(code + s->shape->start_at, s->shape->start, s->shape->start_len) == 0 &&
		    magic == RT0_MAGIC)
			s->entry = (rt0_entry)init[i];
	}
	return 1;
}

/* Starts the runtime from the calling thread, whose mask its threads keep
 * (every signal blocked: front/core_load.c), once its sigtable no longer
 * tells them to unblock some. */
int kig_core_start(int argc, char **argv)
{
	struct rt0_search s = { NULL, rt0_shape(), NULL };
	Dl_info self;

	if (s.shape == NULL || dladdr((void *)&kig_core_start, &self) == 0)
		return 0;
	s.base = self.dli_fbase;
	dl_iterate_phdr(find_rt0, &s);
	if (s.entry == NULL)
		return 0;
	loader_pid = getpid();
	if (wipe_page != NULL)
		*wipe_page = STARTED_TOKEN;
	kig_keep_signals_blocked(s.entry(0, NULL, RT0_SIGTABLE));
	s.entry(argc, argv, RT0_MAGIC);
	return 1;
}

int kig_core_started_here(pid_t *loader)
{
	*loader = loader_pid;
	if (loader_pid == 0 || forked || getpid() != loader_pid)
		return 0;
	return wipe_page == NULL || *wipe_page == STARTED_TOKEN;
}

/* The runtime's signal stack for this thread, as the runtime set it at the
 * thread's first call: a thread keeps its Go M for life (the runtime binds
 * an extra M to a C thread until it exits), so later calls must find the
 * same stack in place; the runtime does not set it again. */
static __thread stack_t go_sigstack;

struct go_call {
	sigset_t mask;     /* the host's, put back on the way out */
	stack_t sigstack;  /* the host's */
	int swapped;       /* enter_go put go_sigstack in its place */
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

/* Two system calls in, two out, once the thread's runtime stack is known:
 * a warm hook pays for nothing else (test/session_life_test.go counts them). */
static void enter_go(struct go_call *c)
{
	kig_block_async_signals(&c->mask);
	host_mask = c->mask;
	c->swapped = 0;
	/* One call sets the runtime's stack and reads the host's. It fails
	 * (EPERM) only while the thread runs on its own signal stack: a hook
	 * called from a signal handler; then Go runs there, as it would have
	 * at the thread's first call. */
	if (go_sigstack.ss_sp != NULL && sigaltstack(&go_sigstack, &c->sigstack) == 0) {
		c->swapped = 1;
		return;
	}
	sigaltstack(NULL, &c->sigstack);
}

static void leave_go(const struct go_call *c)
{
	stack_t now = c->sigstack;
	stack_t back = c->sigstack;

#ifdef SS_AUTODISARM
	back.ss_flags &= SS_DISABLE | SS_AUTODISARM;  /* SS_ONSTACK is a status, not a setting */
#else
	back.ss_flags &= SS_DISABLE;  /* SS_ONSTACK is a status, not a setting */
#endif
	if (c->swapped) {
		sigaltstack(&back, NULL);
	} else {
		/* The thread's first call: the runtime may have set a stack of
		 * its own, which later calls put in place themselves. */
		if (sigaltstack(NULL, &now) == 0 && !(now.ss_flags & SS_DISABLE) &&
		    now.ss_sp != c->sigstack.ss_sp) {
			go_sigstack = now;
			go_sigstack.ss_flags = 0;
		}
		if (now.ss_sp != c->sigstack.ss_sp || now.ss_flags != c->sigstack.ss_flags)
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

		if (__real_sigaction(fault_signals[i], NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO))
			runtime_fault_handler[i] = (void *)now.sa_sigaction;
	}
}

int kig_core_init(const struct kig_call *call, int hook, int argc, const char **argv,
		  struct kig_state *st)
{
	struct go_call c;
	int rc;

	enter_go(&c);
	rc = kig_go_init((struct kig_call *)call, hook, argc, (char **)argv, st);
	leave_go(&c);
	return rc;
}
