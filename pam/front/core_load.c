/* Finding, checking and loading the Go core (pam_keyinit_go/core.so).
 *
 * The core is loaded on the first hook that needs Go, not at pam_start, and
 * it is loaded as a polite guest: the host must find its process as it was.
 *
 * Environment. A Go runtime reads its settings (GOMAXPROCS, GODEBUG, GOGC,
 * GOMEMLIMIT, GOTRACEBACK) from the environment block that follows argv on
 * the initial stack, once, while it starts; clearenv() in the host changes
 * nothing. In setuid-root hosts (su, sudo) an unprivileged caller writes
 * that block: GOMAXPROCS=100000 made thousands of root threads and a hang,
 * GODEBUG=schedtrace printed to the caller's terminal. So while the runtime
 * starts, every entry of the block that names a Go setting (GO...) holds
 * the module's own settings instead, or a harmless filler, and is put back
 * afterwards. Other entries are left alone: another thread of the host may
 * read them meanwhile. A block with no GO entry is not touched: the
 * runtime's link-time defaults (runtime.godebugDefault) and its one CPU
 * (below) give it the module's settings; only the traceback a fatal error
 * would print stays the runtime's default, and such an error ends the host
 * anyway.
 *
 * Threads. The loading thread is also held to the CPU it runs on, and made
 * SCHED_BATCH, while the runtime starts (its own affinity and policy are
 * given back). The runtime's threads, made from it, keep both: a runtime
 * that never runs two things at once needs no more than one CPU, and as
 * batch work it stays out of a login server's way. It also settles how
 * many threads the runtime makes: a hand-off inside its start (the garbage
 * collector's helpers) raced, and when the thread woken preempted the one
 * that woke it, the runtime made a fifth thread, in about one start in
 * three; batch threads do not preempt on wakeup, and 150 starts out of 150,
 * idle and with both CPUs busy, made four. And the runtime sizes itself to
 * the CPUs it may run on: one P without a GOMAXPROCS setting.
 *
 * Signals. The runtime installs handlers for SIGPIPE, SIGURG and the
 * synchronous faults, even over a SIG_IGN the host set, and adds SA_ONSTACK
 * to the host's own handlers; an ignored SIGPIPE lost that way stays lost in
 * every child the host execs. Every disposition is saved before the load and
 * put back after the start, except a synchronous fault (SIGSEGV, SIGBUS,
 * SIGFPE) the host left at its default: there the runtime keeps its handler,
 * which turns a fault in Go into a panic and passes any other to the default
 * action. Only what the runtime changed is put back (a handler of the
 * core's, or SA_ONSTACK added), not what another thread of the host set
 * meanwhile. Asynchronous signals stay blocked on the loading thread during
 * the start, so the runtime's threads inherit them blocked, and
 * core_entry.c blocks them on every call into Go: no handler of the host's
 * ever runs on a Go stack, so none needs SA_ONSTACK.
 *
 * Trust. The core runs as root inside login services, so like sudo with its
 * plugins, a privileged process (root in any uid, or AT_SECURE) refuses a
 * core (or its directory) that is not owned by root or is writable by group
 * or others, and loads the very file it checked (/proc/self/fd/N). The
 * core is found next to this file ($dir/pam_keyinit_go/core.so, which is
 * also where the build tree has it) or at the path fixed at build time
 * (KIG_CORE_PATH); never through the environment.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <security/pam_ext.h>

#include "../async_signals.h"
#include "front.h"

#ifndef KIG_CORE_PATH
#error "KIG_CORE_PATH (the installed core) must be set by the build"
#endif
#ifndef KIG_CORE_GODEBUG
#error "KIG_CORE_GODEBUG (the core's runtime settings) must be set by the build"
#endif

#define CORE_NAME "pam_keyinit_go/core.so"

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kig_core core;       /* resolved once; inherited by children */
static char **env_block;           /* argv + argc + 1: what the runtime reads */

/* A child forked while another thread was loading the core must not wait
 * for ever on a lock that thread, absent in the child, holds. */
static void reset_load_lock(void)
{
	pthread_mutex_init(&load_lock, NULL);
}

/* glibc passes argc and argv to the constructors of dlopen'ed objects too;
 * they are the ones the runtime's own constructor will get. The front is
 * never unloaded (-z nodelete), so the fork handler stays valid. */
__attribute__((constructor)) static void front_init(int argc, char **argv)
{
	pthread_atfork(NULL, NULL, reset_load_lock);
#ifdef __GLIBC__
	if (argv != NULL && argc >= 0)
		env_block = argv + argc + 1;
#else
	(void)argc;
	(void)argv;
#endif
}

/* --- the environment the runtime starts with ---------------------------- */

static const char *const go_settings[] = {
	"GOTRACEBACK=none",      /* a crash prints nothing to the caller's terminal */
	"GOMAXPROCS=1",          /* the module never runs Go in parallel */
	"GODEBUG=" KIG_CORE_GODEBUG,
};

#define NSETTINGS (sizeof(go_settings) / sizeof(go_settings[0]))

/* What the runtime sees in every other slot of the block. */
static const char hidden[] = "KEYINIT_GO_HIDDEN=1";

/* What the front lends the runtime while it starts, and must give back:
 * the environment block's slots, and the loading thread's CPUs and policy. */
struct lent {
	char **saved;       /* the block's own entries, where they were lent */
	size_t n;           /* entries in the block */
	int pinned;         /* the thread's CPUs were narrowed to one */
	int batch;          /* the thread was made SCHED_BATCH */
	cpu_set_t cpus;     /* and these were its own */
};

static void hold_to_one_batch_cpu(struct lent *l)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	if (cpu < 0 || sched_getaffinity(0, sizeof(l->cpus), &l->cpus) != 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	l->pinned = sched_setaffinity(0, sizeof(one), &one) == 0;
	if (sched_getscheduler(0) == SCHED_OTHER) {
		struct sched_param p = { 0 };

		l->batch = sched_setscheduler(0, SCHED_BATCH, &p) == 0;
	}
}

static void give_back(struct lent *l);

static int lend(struct lent *l)
{
	size_t i, k;

	l->saved = NULL;
	l->n = 0;
	l->pinned = 0;
	l->batch = 0;
	hold_to_one_batch_cpu(l);
	while (env_block != NULL && env_block[l->n] != NULL)
		l->n++;
	if (l->n == 0)
		return 1;
	l->saved = calloc(l->n, sizeof(char *));
	if (l->saved == NULL) {
		give_back(l);  /* the thread's CPUs and policy */
		return 0;
	}
	/* The block keeps its length: the runtime finds the auxiliary vector
	 * (page size, vDSO) just past its NULL. */
	for (i = 0, k = 0; i < l->n; i++) {
		if (strncmp(env_block[i], "GO", 2) != 0)
			continue;
		l->saved[i] = env_block[i];
		env_block[i] = (char *)(k < NSETTINGS ? go_settings[k++] : hidden);
	}
	return 1;
}

static void give_back(struct lent *l)
{
	size_t i;

	if (l->pinned)
		sched_setaffinity(0, sizeof(l->cpus), &l->cpus);
	if (l->batch) {
		struct sched_param p = { 0 };

		sched_setscheduler(0, SCHED_OTHER, &p);
	}
	if (l->saved == NULL)
		return;
	for (i = 0; i < l->n; i++)
		if (l->saved[i] != NULL)
			env_block[i] = l->saved[i];
	free(l->saved);
}

/* --- signal dispositions ------------------------------------------------ */

struct host_signals {
	struct sigaction act[NSIG];
	unsigned char saved[NSIG];
};

static void save_signals(struct host_signals *h)
{
	int s;

	for (s = 1; s < NSIG; s++)  /* libc refuses its own two: not saved */
		h->saved[s] = sigaction(s, NULL, &h->act[s]) == 0;
}

static int runtime_may_keep(int s, const struct sigaction *host)
{
	return (s == SIGSEGV || s == SIGBUS || s == SIGFPE) &&
	       !(host->sa_flags & SA_SIGINFO) && host->sa_handler == SIG_DFL;
}

/* Whether the runtime (the core loaded at core_base) changed a disposition:
 * a handler of its own, or SA_ONSTACK added to the host's. A disposition
 * another thread of the host set meanwhile is neither. */
static int runtime_changed(const struct sigaction *now, const struct sigaction *host, const void *core_base)
{
	Dl_info info;

	if (now->sa_handler == host->sa_handler)
		return now->sa_flags == (host->sa_flags | SA_ONSTACK) && now->sa_flags != host->sa_flags;
	return now->sa_handler != SIG_DFL && now->sa_handler != SIG_IGN &&
	       dladdr((void *)now->sa_handler, &info) != 0 && info.dli_fbase == core_base;
}

static void restore_signals(const struct host_signals *h, const void *core_base)
{
	int s;

	for (s = 1; s < NSIG; s++) {
		struct sigaction now;

		if (!h->saved[s] || runtime_may_keep(s, &h->act[s]) || sigaction(s, NULL, &now) != 0)
			continue;
		/* Only what the runtime changed: writing back an untouched
		 * default would add libc's SA_RESTORER flag, a change of its own. */
		if (runtime_changed(&now, &h->act[s], core_base))
			sigaction(s, &h->act[s], NULL);
	}
}

/* --- where the core is, and whether to trust it ------------------------- */

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

/* Whether this process must mind what it loads: root in any of its uids
 * (a setuid host may have dropped only its effective uid for now), or
 * started from a setuid or setgid file. */
static int privileged(void)
{
	uid_t r, e, s;

	if (getauxval(AT_SECURE) != 0)
		return 1;
	return getresuid(&r, &e, &s) != 0 || r == 0 || e == 0 || s == 0;
}

/* Opens the core for loading. In a privileged process the file opened and
 * its directory must be root's, and neither group nor others may write
 * them, as sudo checks its plugins; the core is then loaded from the file
 * checked (open_core's fd), not looked up again by name. Returns the fd,
 * or -1 after one line saying why. */
static int open_core(pam_handle_t *pamh, const char *path)
{
	char dir[PATH_MAX];
	const char *what = path;
	const char *slash = strrchr(path, '/');
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) != 0) {
		pam_syslog(pamh, LOG_ERR,
			   "cannot load the Go core %s: %m; reinstall pam_keyinit_go "
			   "(it needs pam_keyinit_go.so and pam_keyinit_go/core.so beside it)", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!privileged())
		return fd;  /* an unprivileged process can only harm itself */
	if (S_ISREG(sb.st_mode) && sb.st_uid == 0 && !(sb.st_mode & (S_IWGRP | S_IWOTH)) &&
	    slash != NULL && (size_t)(slash - path) < sizeof(dir)) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		what = dir;
		if (stat(dir, &sb) == 0 && sb.st_uid == 0 && !(sb.st_mode & (S_IWGRP | S_IWOTH)))
			return fd;
	}
	pam_syslog(pamh, LOG_ERR,
		   "refusing to load the Go core %s: %s must be a root-owned %s that group "
		   "and others cannot write (as the package installs it): fix its owner and mode",
		   path, what, what == path ? "file" : "directory");
	close(fd);
	return -1;
}

/* --- loading ------------------------------------------------------------ */

/* Resolves the entry points of the core mapped at h. */
static int resolve(pam_handle_t *pamh, void *h, const char *path)
{
	int (*abi)(void) = (int (*)(void))dlsym(h, "kig_core_abi");
	struct kig_core found;

	if (abi == NULL || abi() != KIG_CORE_ABI) {
		pam_syslog(pamh, LOG_ERR,
			   "%s is not the Go core of this pam_keyinit_go.so (interface %d): "
			   "reinstall pam_keyinit_go so that both files come from one build",
			   path, KIG_CORE_ABI);
		return 0;
	}
	found.started_here = (int (*)(pid_t *))dlsym(h, "kig_core_started_here");
	found.init = (int (*)(pam_handle_t *, int, int, const char **, struct kig_state *))
		dlsym(h, "kig_core_init");
	if (found.started_here == NULL || found.init == NULL)
		return 0;
	core = found;  /* both or neither: kig_core_here tests init alone */
	return 1;
}

/* Loads the core at path and waits for its runtime to start, lending it
 * the module's settings and giving the host its signals back. */
static void *load(pam_handle_t *pamh, const char *path, int fd)
{
	char checked[64];
	struct host_signals *sigs;
	struct lent lent;
	sigset_t mask;
	Dl_info core_info;
	void *h, *wait;

	sigs = malloc(sizeof(*sigs));
	if (sigs == NULL || !lend(&lent)) {
		free(sigs);
		pam_syslog(pamh, LOG_CRIT, "out of memory to load the Go core");
		return NULL;
	}
	kig_block_async_signals(&mask);
	save_signals(sigs);
	/* The file open_core checked; by name where /proc is missing. */
	snprintf(checked, sizeof(checked), "/proc/self/fd/%d", fd);
	h = dlopen(access(checked, F_OK) == 0 ? checked : path, RTLD_NOW | RTLD_LOCAL);
	/* Every call into the core waits until its runtime has started, which it
	 * does on a thread of its own: only then is the environment read. */
	wait = h ? dlsym(h, "kig_core_wait_started") : NULL;
	if (wait != NULL)
		((void (*)(void))wait)();
	give_back(&lent);
	if (wait != NULL && dladdr(wait, &core_info) != 0)
		restore_signals(sigs, core_info.dli_fbase);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	free(sigs);
	if (h == NULL)
		pam_syslog(pamh, LOG_ERR, "cannot load the Go core: %s; reinstall pam_keyinit_go", dlerror());
	return h;
}

/* The core, loaded if need be. Another copy of this front (one named by
 * another path in pam.d) may have loaded it already, in this process or in
 * a parent: then it is mapped, its runtime was started once, and it must
 * not be entered before started_here says this is that process. */
static int get_core(pam_handle_t *pamh)
{
	const char *path = core_path();
	int fd = open_core(pamh, path);
	void *h;

	if (fd < 0)
		return 0;
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	if (h == NULL)
		h = load(pamh, path, fd);
	close(fd);
	return h != NULL && resolve(pamh, h, path);
}

const struct kig_core *kig_core_here(pam_handle_t *pamh, pid_t *loader)
{
	int ok = 1;

	*loader = 0;
	pthread_mutex_lock(&load_lock);
	if (core.init == NULL)
		ok = get_core(pamh);
	pthread_mutex_unlock(&load_lock);
	if (!ok)
		return NULL;
	if (core.started_here(loader))
		return &core;
	return NULL;
}
