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
 * already maps: its page allocator's and scavenger's summaries, its heap
 * arena map and first arena, its threads' stacks. */
#define KIG_FLOOR_AS_KIB 1600000

/* Private writable memory (RLIMIT_DATA) beyond the process's own: the heap
 * arena map and the first heap arena. */
#define KIG_FLOOR_DATA_KIB 120000

/* The stack size glibc gives new threads (RLIMIT_STACK, or 8 MiB when it is
 * unlimited), which the runtime's threads get: below the minimum a Go
 * system stack overflows, above the maximum the threads' stacks do not fit. */
#define KIG_FLOOR_STACK_MIN_KIB 64
#define KIG_FLOOR_STACK_MAX_KIB 1048576

/* Threads the runtime makes (processes, for RLIMIT_NPROC and pids.max). */
#define KIG_FLOOR_THREADS 4

/* Memory the runtime touches while it starts (a memory cgroup's headroom). */
#define KIG_FLOOR_MEMORY_KIB 8192

/* For "keyinit-go check" only, which judges an absolute limit in a
 * limits.conf file without a process to look at: what a login host maps of
 * its own, added to KIG_FLOOR_AS_KIB and KIG_FLOOR_DATA_KIB, and the stack
 * glibc gives each thread under the usual 8 MiB stack limit. */
#define KIG_FLOOR_HOST_KIB 65536
#define KIG_FLOOR_DEFAULT_STACK_KIB 8192

#endif
