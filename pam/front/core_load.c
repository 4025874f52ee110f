/* Finding, loading and starting the Go core (pam_keyinit_go/core.so).
 *
 * The core is loaded on the first hook that needs Go, not at pam_start, and
 * as a polite guest: the host must find its process as it was, and must
 * never die because of it.
 *
 *   - Where: next to this file ($dir/pam_keyinit_go/core.so, also where the
 *     build tree has it), else at the path fixed at build time
 *     (KIG_CORE_PATH); never through the environment. A privileged process
 *     loads it only from a path only root could have written (trust.c).
 *   - One runtime per process: two Go runtimes cannot share one. A core
 *     that another copy of this front (at another path in pam.d) loaded
 *     from the same file is used as it is; one from another file makes this
 *     front refuse, with one line.
 *   - Loading does not start the runtime (pam/rt0). It starts only after
 *     preflight.c has checked that it can run to the end here: a runtime
 *     that fails ends the host, `optional` or not.
 *   - It starts with an argv, environment and auxiliary vector of the
 *     front's (runtime_args.c): it never sees the caller's Go settings, and
 *     the host's environment and AT_RANDOM bytes are never touched.
 *   - Signals: the runtime starts from a thread that blocks every signal,
 *     and its threads keep that mask (the core clears the runtime's
 *     wish to unblock some); the core also keeps the runtime from changing
 *     the host's dispositions (pam/runtime_guard.c).
 *   - Limits: the runtime's syscall package raises the soft limit on open
 *     files to the hard one as it starts; the host's is put back.
 *   - Threads: the loading thread is held to the CPU it runs on, and made
 *     SCHED_BATCH, while the runtime starts; its own affinity and policy are
 *     given back. The runtime's threads, made from it, keep both: it never
 *     runs two things at once, and as batch work it stays out of a login
 *     server's way. It also settles how many threads the runtime makes: a
 *     hand-off in its start raced, and when the thread woken preempted the
 *     one that woke it the runtime made a fifth thread, in about one start
 *     in three; batch threads do not preempt on wakeup.
 *   - fork: dlopen in one thread while another forks gave children that
 *     crashed in ld.so, and a child forked while the runtime starts holds a
 *     half-started runtime. So fork() in any thread of the host waits while
 *     the core is loaded and started (an atfork handler takes the window's
 *     lock); the load makes no fork of its own.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "../async_signals.h"
#include "front.h"

#ifndef KIG_CORE_PATH
#error "KIG_CORE_PATH (the installed core) must be set by the build"
#endif

#define CORE_NAME "pam_keyinit_go/core.so"

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
/* The fork window: fork() in any thread waits while one holds it. Recursive,
 * so that a thread that forks inside it (an NSS module that forks, a signal
 * handler) goes on. */
static pthread_mutex_t window_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct kig_core core;       /* resolved once; inherited by children */

static void wait_for_window(void)
{
	pthread_mutex_lock(&window_lock);
}

static void end_window(void)
{
	pthread_mutex_unlock(&window_lock);
}

void kig_hold_forks(void)
{
	wait_for_window();
}

void kig_release_forks(void)
{
	end_window();
}

/* A child forked while another thread held a lock must not wait on it for
 * ever: that thread is absent in the child. */
static void reset_locks(void)
{
	static const pthread_mutex_t window = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

	pthread_mutex_init(&load_lock, NULL);
	window_lock = window;
	if (core.forked != NULL)
		core.forked();  /* Go may not run here if it runs in the parent */
}

/* The front is never unloaded (-z nodelete), so the handlers stay valid. */
__attribute__((constructor)) static void front_init(void)
{
	pthread_atfork(wait_for_window, end_window, reset_locks);
}

/* --- the loading thread's CPUs and policy ------------------------------- */

struct held {
	int pinned;         /* the thread's CPUs were narrowed to one */
	int batch;          /* the thread was made SCHED_BATCH */
	cpu_set_t cpus;     /* and these were its own */
};

static void hold_to_one_batch_cpu(struct held *h)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	h->pinned = 0;
	h->batch = 0;
	if (cpu < 0 || sched_getaffinity(0, sizeof(h->cpus), &h->cpus) != 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	h->pinned = sched_setaffinity(0, sizeof(one), &one) == 0;
	if (sched_getscheduler(0) == SCHED_OTHER) {
		struct sched_param p = { 0 };

		h->batch = sched_setscheduler(0, SCHED_BATCH, &p) == 0;
	}
}

static void give_back(const struct held *h)
{
	if (h->pinned)
		sched_setaffinity(0, sizeof(h->cpus), &h->cpus);
	if (h->batch) {
		struct sched_param p = { 0 };

		sched_setscheduler(0, SCHED_OTHER, &p);
	}
}

/* --- where the core is -------------------------------------------------- */

/* The core next to this file if there is one there, else the installed one.
 * Called under load_lock, which guards the buffer. */
static const char *core_path(void)
{
	static char buf[PATH_MAX];
	Dl_info info;
	const char *slash;
	struct stat sb;
	int n;

	if (dladdr((void *)&core_path, &info) == 0 || info.dli_fname == NULL ||
	    (slash = strrchr(info.dli_fname, '/')) == NULL)
		return KIG_CORE_PATH;
	n = snprintf(buf, sizeof(buf), "%.*s/" CORE_NAME, (int)(slash - info.dli_fname), info.dli_fname);
	if (n > 0 && (size_t)n < sizeof(buf) && stat(buf, &sb) == 0)
		return buf;
	return KIG_CORE_PATH;
}

struct other_core {
	const struct stat *ours;
	const char *name;
};

static int find_other_core(struct dl_phdr_info *info, size_t size, void *data)
{
	struct other_core *o = data;
	size_t n = strlen(info->dlpi_name);
	struct stat sb;

	(void)size;
	if (n < sizeof(CORE_NAME) || strcmp(info->dlpi_name + n - (sizeof(CORE_NAME) - 1), CORE_NAME) != 0 ||
	    info->dlpi_name[n - sizeof(CORE_NAME)] != '/')
		return 0;
	if (stat(info->dlpi_name, &sb) == 0 && sb.st_dev == o->ours->st_dev && sb.st_ino == o->ours->st_ino)
		return 0;
	o->name = info->dlpi_name;
	return 1;
}

/* --- loading and starting ----------------------------------------------- */

static int resolve(void *h, const char *path, struct kig_why *why)
{
	int (*abi)(void) = (int (*)(void))dlsym(h, "kig_core_abi");
	struct kig_core found;

	if (abi == NULL || abi() != KIG_CORE_ABI) {
		kig_why(why, "%s is not the Go core of this pam_keyinit_go.so (interface %d): "
			"reinstall pam_keyinit_go so that both files come from one build",
			path, KIG_CORE_ABI);
		return 0;
	}
	found.started_here = (int (*)(pid_t *))dlsym(h, "kig_core_started_here");
	found.start = (int (*)(int, char **))dlsym(h, "kig_core_start");
	found.wait_started = (void (*)(void))dlsym(h, "kig_core_wait_started");
	found.forked = (void (*)(void))dlsym(h, "kig_core_forked");
	found.init = (int (*)(const struct kig_call *, int, int, const char **, struct kig_state *))
		dlsym(h, "kig_core_init");
	if (found.started_here == NULL || found.start == NULL || found.wait_started == NULL ||
	    found.forked == NULL || found.init == NULL) {
		kig_why(why, "%s lacks an entry point of the Go core: reinstall pam_keyinit_go", path);
		return 0;
	}
	core = found;  /* all or none: kig_core_here tests init alone */
	return 1;
}

/* Maps the core at real (the file fd, checked) and resolves it. */
static int load(const char *real, int fd, const struct stat *checked, struct kig_why *why)
{
	struct other_core other = { checked, NULL };
	struct stat now;
	void *h;

	if (dl_iterate_phdr(find_other_core, &other) != 0) {
		kig_why(why, "this process already runs another Go core, %s, than %s, and two Go "
			"runtimes cannot share a process: name pam_keyinit_go.so by one path in every "
			"PAM stack", other.name, real);
		return 0;
	}
	h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		kig_why(why, "the Go core cannot be loaded (%s): reinstall pam_keyinit_go", dlerror());
		return 0;
	}
	/* The file checked is the file mapped: only root could swap it, and
	 * then it must not be half of each. */
	if (fstat(fd, &now) != 0 || stat(real, &now) != 0 || now.st_dev != checked->st_dev ||
	    now.st_ino != checked->st_ino) {
		kig_why(why, "the Go core %s was replaced while it was being loaded: try again when "
			"the package upgrade is over", real);
		return 0;
	}
	return resolve(h, real, why);
}

/* Starts the runtime on the calling thread's behalf and waits until it has
 * started, inside the window fork() waits for. */
static int start(void)
{
	struct rlimit files, now;
	struct held held;
	sigset_t mask;
	char **argv;
	int argc, ok, kept = getrlimit(RLIMIT_NOFILE, &files) == 0;

	kig_block_every_signal(&mask);
	hold_to_one_batch_cpu(&held);
	argv = kig_runtime_argv(&argc);
	ok = core.start(argc, argv);
	if (ok)
		core.wait_started();
	give_back(&held);
	if (kept && getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_cur != files.rlim_cur)
		setrlimit(RLIMIT_NOFILE, &files);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	return ok;
}

/* Takes the core another copy of this front (named by another path in
 * pam.d) has already mapped in this process, from the same file: it was
 * checked when that front loaded it, and mapping nothing new needs no
 * checks. Silent when there is none. */
static void adopt(void)
{
	static char real[PATH_MAX];  /* under load_lock */
	struct kig_why ignored;  /* loaded() says it again */
	void *h;

	if (realpath(core_path(), real) != NULL &&
	    (h = dlopen(real, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD)) != NULL)
		resolve(h, real, &ignored);
}

/* Loads the core if need be; 0 if it cannot be (why says why). */
static int loaded(struct kig_why *why)
{
	static char real[PATH_MAX];  /* under load_lock; the host's stack may be small */
	struct stat sb;
	sigset_t mask;
	int fd, ok;

	if (core.init != NULL)
		return 1;
	fd = kig_open_trusted(core_path(), real, &sb, why);
	if (fd < 0)
		return 0;
	/* No handler of the host's runs here: one that forked would wait on
	 * the window this thread holds. */
	kig_block_async_signals(&mask);
	pthread_mutex_lock(&window_lock);
	ok = load(real, fd, &sb, why);
	pthread_mutex_unlock(&window_lock);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	close(fd);
	return ok;
}

static void forked_from(struct kig_why *why, pid_t loader)
{
	kig_why(why, "this process was forked from process %d after that one started the Go "
		"runtime, and Go cannot run in such a fork: open the session before forking, or in "
		"a process that has not opened one", (int)loader);
}

/* Loads and starts the core, under load_lock; 1 if Go may run here now. */
static int load_and_start(pid_t *loader, struct kig_why *why)
{
	int ok;

	/* Checked before loading: the core's own constructor makes calls
	 * (madvise) a seccomp filter may kill on. */
	if (!kig_runtime_can_start(why) || !loaded(why))
		return 0;
	if (core.started_here(loader))
		return 1;  /* another copy of the front started it meanwhile */
	if (*loader != 0) {
		forked_from(why, *loader);
		return 0;
	}
	pthread_mutex_lock(&window_lock);
	ok = start();
	pthread_mutex_unlock(&window_lock);
	if (!ok)
		kig_why(why, "the Go core has no runtime entry: reinstall pam_keyinit_go so that both "
			"files come from one build");
	return ok;
}

const struct kig_core *kig_core_here(pid_t *loader, struct kig_why *why)
{
	int here;

	*loader = 0;
	pthread_mutex_lock(&load_lock);
	if (core.init == NULL)
		adopt();
	if (core.init != NULL && !kig_seccomp_allows_go(why)) {
		/* A thread may carry a seccomp filter of its own: it is checked
		 * at each hook, first, since started_here makes a call (getpid)
		 * such a filter may kill. In a fork *loader then stays 0. */
		here = 0;
	} else if (core.init != NULL && core.started_here(loader)) {
		here = 1;  /* started in this process: the usual case */
	} else if (*loader != 0) {
		forked_from(why, *loader);
		here = 0;
	} else {
		here = load_and_start(loader, why);
	}
	pthread_mutex_unlock(&load_lock);
	return here ? &core : NULL;
}
