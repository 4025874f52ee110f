/* What the Go core's runtime needs from the process that starts it: its
 * floor. The runtime cannot fail gracefully: when it cannot reserve its
 * address space, allocate its heap metadata or make a thread, it ends the
 * whole host process. So the front checks these before it starts the
 * runtime (pam/front/preflight.c) and refuses the hook, with one line,
 * below them; "keyinit-go check" warns about limits.conf items below them
 * (internal/runtimefloor). The numbers come from test/floor_test.go, which
 * measures the runtime's real needs on this toolchain and fails when they
 * outgrow these. One source: both sides read this file. Sizes in KiB, as
 * limits.conf and ulimit write them. */
#ifndef KIG_RUNTIME_FLOOR_H
#define KIG_RUNTIME_FLOOR_H

/* Address space (RLIMIT_AS) the runtime reserves beyond what the process
 * already maps, but for its threads' stacks (the front adds one default
 * stack a thread): its page allocator's summaries (599,168 KiB) and its
 * scavenger's index (524,288 KiB), its heap arena map and first arena, and
 * glibc's malloc arena of each of its threads (64 MiB each). Started as the
 * front starts it, the runtime failed at up to 1,566,000 KiB of headroom,
 * not monotonically: it also started at 801,000 to 1,198,000, but only by
 * going on without its scavenger's index, whose failed reservation it does
 * not check (it then maps at fixed low addresses): the front never relies
 * on that. */
#define KIG_FLOOR_AS_KIB 1600000

/* Private writable memory (RLIMIT_DATA) beyond the process's own: the heap
 * arena map, the first heap arena, its threads' stacks. It failed at up to
 * 94,000 KiB. */
#define KIG_FLOOR_DATA_KIB 120000

/* The stack size glibc gives new threads, from the RLIMIT_STACK the process
 * started with (2 MiB when it was unlimited), which the runtime's threads
 * get. The runtime started with 16 KiB; libpam itself needs 64. Above the
 * maximum four stacks outgrow what a login host maps (at 64 GiB the kernel
 * refused the mapping here). And at least KIG_FLOOR_STACK_MIN_PAGES pages:
 * with 64 KiB pages (test/vm) one page is a session host's own edge (on
 * ppc64le it died of SIGSEGV in 7 of 20 runs with pam_keyinit.so as with
 * this module; once in two runs on arm64), two and three pages always
 * lived; the floor keeps four (256 KiB there). */
#define KIG_FLOOR_STACK_MIN_KIB 64
#define KIG_FLOOR_STACK_MIN_PAGES 4
#define KIG_FLOOR_STACK_MAX_KIB 1048576

/* Threads the runtime makes (tasks, for RLIMIT_NPROC and pids.max): four,
 * and a fifth now and then (2 starts in 100 under RLIMIT_NPROC 5). */
#define KIG_FLOOR_THREADS 5

/* Memory a memory cgroup must have left: a start charged up to 3.7 MiB
 * on amd64 with the core's pages not yet in the page cache, 1.7 MiB with
 * them; on arm64 (test/vm) up to 9.2 MiB with 4 KiB pages, 3.7 MiB with 16
 * KiB and 12 MiB with 64 KiB pages (8 MiB in 5 starts of 6), where every
 * page touched costs 64 KiB. One floor for every page size, twice the
 * largest. */
#define KIG_FLOOR_MEMORY_KIB 24576

/* For "keyinit-go check" only, which judges an absolute limit in a
 * limits.conf file without a process to look at: what a login host maps of
 * its own, added to KIG_FLOOR_AS_KIB and KIG_FLOOR_DATA_KIB, and the stack
 * glibc gives each thread under the usual 8 MiB stack limit. */
#define KIG_FLOOR_HOST_KIB 65536
#define KIG_FLOOR_DEFAULT_STACK_KIB 8192

#endif
