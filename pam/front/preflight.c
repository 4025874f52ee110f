/* Whether the Go runtime can start, and run to the end, in this process.
 *
 * A Go runtime that cannot get what it needs does not fail: it writes
 * "fatal error: ..." to fd 2 and ends the whole process, whatever the PAM
 * stack says (`optional` included). pam_keyinit.so needs a few pages and no
 * thread, so under the same limits the host would have opened the session.
 * So before it starts the runtime the front checks what the runtime needs,
 * as far as a process can know it, and otherwise says which limit, its
 * value, what the runtime needs and what to do (struct kig_why), and the
 * hook makes the keyring in C instead (plain_keyinit.c). The needs are in internal/runtimefloor/floor.h, measured by
 * test/floor_test.go. Each check tries the real thing where it can:
 *   - address space (RLIMIT_AS) and data (RLIMIT_DATA): a mapping as large
 *     as the runtime reserves, made and unmade;
 *   - the seccomp filter: seccomp_probe.c;
 *   - the stack glibc gives new threads (from RLIMIT_STACK): within bounds;
 *   - a thread's stack: mapped as glibc maps it, and unmapped;
 *   - memory and pids cgroups (v1 or v2) with too little left: read from
 *     their files;
 *   - threads, where RLIMIT_NPROC applies: as many as the runtime makes,
 *     made with the attributes it uses, then ended.
 * Only processes that have not started the runtime are checked, once per
 * hook that would start it; after its start nothing more is needed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "../../internal/runtimefloor/floor.h"
#include "front.h"

#define KIB 1024UL

static unsigned long long kib(rlim_t v)
{
	return (unsigned long long)(v / KIB);
}

int kig_read_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return 1;
}

/* The process's mapped address space (VmSize) in KiB, 0 if unknown. */
static unsigned long long mapped_kib(void)
{
	char buf[128];
	unsigned long long pages = 0;

	if (!kig_read_file("/proc/self/statm", buf, sizeof(buf)))
		return 0;
	sscanf(buf, "%llu", &pages);
	return pages * (unsigned long long)sysconf(_SC_PAGESIZE) / KIB;
}

/* Whether a private mapping of size bytes with prot and flags can be made. */
static int can_map(size_t size, int prot, int flags)
{
	void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	if (p == MAP_FAILED)
		return 0;
	munmap(p, size);
	return 1;
}

/* The stack glibc gives a thread made with default attributes, as the
 * runtime's are. */
static size_t thread_stack(void)
{
	pthread_attr_t a;
	size_t size = 0;

	if (pthread_getattr_default_np(&a) == 0) {
		pthread_attr_getstacksize(&a, &size);
		pthread_attr_destroy(&a);
	}
	return size;
}

/* glibc sizes the stacks of new threads once, from the stack limit the
 * process started with: a limit pam_limits sets later changes nothing. The
 * least is KIG_FLOOR_STACK_MIN_KIB, or KIG_FLOOR_STACK_MIN_PAGES pages
 * where pages are larger (256 KiB with 64 KiB pages). */
static int stack_fits(struct kig_why *why, size_t stack)
{
	size_t min = (size_t)KIG_FLOOR_STACK_MIN_KIB * KIB, page = (size_t)getpagesize();

	if (min < KIG_FLOOR_STACK_MIN_PAGES * page)
		min = KIG_FLOOR_STACK_MIN_PAGES * page;
	if (stack >= min && stack <= KIG_FLOOR_STACK_MAX_KIB * KIB)
		return 1;
	kig_why(why,
		"new threads get %zu KiB stacks (glibc sizes them from the stack limit this process "
		"started with) and the runtime needs between %zu and %u KiB: start the service with a "
		"stack limit (RLIMIT_STACK: ulimit -s, LimitSTACK=) in that range or unlimited",
		stack / KIB, min / KIB, KIG_FLOOR_STACK_MAX_KIB);
	return 0;
}

static int memory_fits(struct kig_why *why, size_t stack)
{
	size_t as = KIG_FLOOR_AS_KIB * KIB + KIG_FLOOR_THREADS * stack;
	struct rlimit rl;

	if (!can_map(as, PROT_NONE, MAP_NORESERVE)) {
		unsigned long long mapped = mapped_kib();  /* one read of /proc/self/statm */

		getrlimit(RLIMIT_AS, &rl);
		kig_why(why,
			"the address space limit (RLIMIT_AS) of %llu KiB leaves less than the %zu KiB "
			"the runtime reserves beyond the %llu KiB this process maps: raise it (ulimit -v, "
			"limits.conf \"as\", LimitAS=) to unlimited or at least %llu KiB",
			rl.rlim_cur == RLIM_INFINITY ? 0ULL : kib(rl.rlim_cur), as / KIB, mapped,
			mapped + as / KIB + KIG_FLOOR_HOST_KIB);
		return 0;
	}
	/* A thread's stack as glibc maps it, committed: the kernel's overcommit
	 * check refuses one larger than memory and swap. */
	if (!can_map(stack, PROT_READ | PROT_WRITE, MAP_STACK)) {
		kig_why(why,
			"a thread stack of %zu KiB (glibc sizes it from the stack limit this process "
			"started with) cannot be mapped: start the service with a smaller stack limit "
			"(ulimit -s, LimitSTACK=)", stack / KIB);
		return 0;
	}
	if (!can_map(KIG_FLOOR_DATA_KIB * KIB, PROT_READ | PROT_WRITE, MAP_NORESERVE)) {
		getrlimit(RLIMIT_DATA, &rl);
		kig_why(why,
			"the data limit (RLIMIT_DATA) of %llu KiB leaves less than the %u KiB of private "
			"memory the runtime maps beyond this process's own: raise it (ulimit -d, "
			"limits.conf \"data\") to unlimited or by at least %u KiB",
			rl.rlim_cur == RLIM_INFINITY ? 0ULL : kib(rl.rlim_cur), KIG_FLOOR_DATA_KIB,
			KIG_FLOOR_DATA_KIB + KIG_FLOOR_HOST_KIB);
		return 0;
	}
	return 1;
}

/* --- threads ------------------------------------------------------------ */

/* Whether RLIMIT_NPROC can stop the runtime's threads: the kernel does not
 * count them against it for a real uid 0, or a process with CAP_SYS_RESOURCE
 * or CAP_SYS_ADMIN (su, sudo, a root daemon). */
static int nproc_applies(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];
	struct rlimit rl;

	if (getrlimit(RLIMIT_NPROC, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || getuid() == 0)
		return 0;
	if (syscall(SYS_capget, &hdr, caps) != 0)
		return 1;
	return !(caps[0].effective & ((1U << CAP_SYS_RESOURCE) | (1U << CAP_SYS_ADMIN)));
}

struct thread_probe {
	pthread_mutex_t lock;
	pthread_cond_t all_made;
	int go;
};

static void *wait_for_all(void *arg)
{
	struct thread_probe *t = arg;

	pthread_mutex_lock(&t->lock);
	while (!t->go)
		pthread_cond_wait(&t->all_made, &t->lock);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* Where RLIMIT_NPROC applies, the other processes of the real uid count too,
 * which only /proc could tell, slowly: so as many threads as the runtime
 * makes are made, all alive at once, with every signal blocked (none of
 * the host's lands on them), and ended. */
static int threads_fit(struct kig_why *why)
{
	struct thread_probe t = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	pthread_t th[KIG_FLOOR_THREADS];
	sigset_t all, old;
	int n, err = 0;
	struct rlimit rl;

	if (!nproc_applies())
		return 1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (n = 0; n < KIG_FLOOR_THREADS; n++)
		if ((err = pthread_create(&th[n], NULL, wait_for_all, &t)) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&t.lock);
	t.go = 1;
	pthread_cond_broadcast(&t.all_made);
	pthread_mutex_unlock(&t.lock);
	while (n-- > 0)
		pthread_join(th[n], NULL);
	if (err == 0)
		return 1;
	getrlimit(RLIMIT_NPROC, &rl);
	kig_why(why,
		"the runtime could not make the %d threads it needs (%s): raise the process limit of uid %u "
		"(RLIMIT_NPROC, now %llu; ulimit -u, limits.conf \"nproc\")",
		KIG_FLOOR_THREADS, strerror(err), (unsigned)getuid(), (unsigned long long)rl.rlim_cur);
	return 0;
}

/* --- cgroups: memory and pids ------------------------------------------- */

static int read_u64(const char *path, unsigned long long *v)
{
	char buf[64];

	if (!kig_read_file(path, buf, sizeof(buf)))
		return 0;
	if (strncmp(buf, "max", 3) == 0) {
		*v = ULLONG_MAX;
		return 1;
	}
	return sscanf(buf, "%llu", v) == 1;
}

/* What one controller's files are, in one hierarchy. */
struct knob {
	const char *root;    /* the hierarchy's mount point */
	const char *limit;   /* its limit file */
	const char *usage;   /* its usage file */
};

/* The least left (limit minus usage) in the cgroup at dir and every cgroup
 * above it but the root, which has no limit; ULLONG_MAX where none has a
 * limit. Its cgroup goes to where. */
static unsigned long long least_left(const struct knob *k, char *dir, char *where, size_t where_size)
{
	static char path[PATH_MAX];  /* under the load lock; the host's stack may be small */
	unsigned long long least = ULLONG_MAX;

	while (dir[0] != '\0') {
		unsigned long long max, cur;
		char *slash;

		/* Usage only where there is a limit: most levels have none ("max",
		 * or in v1 the largest page count, about 2^63). */
		if (snprintf(path, sizeof(path), "%s%s/%s", k->root, dir, k->limit) < (int)sizeof(path) &&
		    read_u64(path, &max) && max < (1ULL << 62) &&
		    snprintf(path, sizeof(path), "%s%s/%s", k->root, dir, k->usage) < (int)sizeof(path) &&
		    read_u64(path, &cur)) {
			unsigned long long left = max > cur ? max - cur : 0;

			if (left < least) {
				least = left;
				snprintf(where, where_size, "%s%s", k->root, dir);
			}
		}
		slash = strrchr(dir, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
	}
	return least;
}

/* Where cgroup v2 is: beside v1 (systemd's hybrid layout) or alone. */
static const char *unified_root(void)
{
	int fd = open("/sys/fs/cgroup/unified", O_PATH | O_CLOEXEC);

	if (fd < 0)
		return "/sys/fs/cgroup";
	close(fd);
	return "/sys/fs/cgroup/unified";
}

/* Whether this process's memory and pids cgroups (v1 or v2, and every one
 * above them) have room for the runtime: past a memory limit the kernel's
 * OOM killer would end the process, past pids.max pthread_create fails. */
static int cgroups_fit(struct kig_why *why)
{
	static const struct knob mem1 = { "/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes" };
	static const struct knob pids1 = { "/sys/fs/cgroup/pids", "pids.max", "pids.current" };
	static char line[PATH_MAX + 64], dir[PATH_MAX], mem_at[PATH_MAX], pids_at[PATH_MAX];  /* under the load lock */
	unsigned long long mem = ULLONG_MAX, pids = ULLONG_MAX;
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (f == NULL)
		return 1;  /* no /proc: nothing to read */
	while (fgets(line, sizeof(line), f) != NULL) {
		char *ctrls = strchr(line, ':'), *path;
		unsigned long long left;

		if (ctrls == NULL || (path = strchr(++ctrls, ':')) == NULL)
			continue;
		*path++ = '\0';
		path[strcspn(path, "\n")] = '\0';
		if (strcmp(path, "/") == 0)
			path[0] = '\0';
		if (path[0] == '\0') {
			continue;  /* the root cgroup: no limits */
		} else if (ctrls[0] == '\0') {
			const struct knob mem2 = { unified_root(), "memory.max", "memory.current" };
			const struct knob pids2 = { mem2.root, "pids.max", "pids.current" };

			snprintf(dir, sizeof(dir), "%s", path);
			if ((left = least_left(&mem2, dir, mem_at, sizeof(mem_at))) < mem)
				mem = left;
			snprintf(dir, sizeof(dir), "%s", path);
			if ((left = least_left(&pids2, dir, pids_at, sizeof(pids_at))) < pids)
				pids = left;
		} else if (strcmp(ctrls, "memory") == 0) {
			snprintf(dir, sizeof(dir), "%s", path);
			if ((left = least_left(&mem1, dir, mem_at, sizeof(mem_at))) < mem)
				mem = left;
		} else if (strcmp(ctrls, "pids") == 0) {
			snprintf(dir, sizeof(dir), "%s", path);
			if ((left = least_left(&pids1, dir, pids_at, sizeof(pids_at))) < pids)
				pids = left;
		}
	}
	fclose(f);
	if (mem < KIG_FLOOR_MEMORY_KIB * KIB) {
		kig_why(why,
			"the memory cgroup %s has %llu KiB left under its limit and the runtime needs "
			"about %u KiB as it starts (past the limit the kernel's OOM killer would end this "
			"process): raise that cgroup's memory limit (memory.max, memory.limit_in_bytes, "
			"MemoryMax=)", mem_at, mem / KIB, KIG_FLOOR_MEMORY_KIB);
		return 0;
	}
	if (pids < KIG_FLOOR_THREADS) {
		kig_why(why,
			"the pids cgroup %s has room for %llu more tasks and the runtime makes %d "
			"threads: raise its pids.max (TasksMax=) by at least %d", pids_at, pids,
			KIG_FLOOR_THREADS, KIG_FLOOR_THREADS);
		return 0;
	}
	return 1;
}

int kig_runtime_can_start(struct kig_why *why)
{
	size_t stack = thread_stack();

	/* The probe first: until it has run, only calls every host makes
	 * (mmap, open, read) are made. Threads last: they need clone3. */
	return kig_seccomp_allows_go(why) && stack_fits(why, stack) && memory_fits(why, stack) &&
	       cgroups_fit(why) && threads_fit(why);
}
