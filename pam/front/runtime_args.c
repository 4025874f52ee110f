/* The argv, environment and auxiliary vector the Go runtime starts with.
 *
 * A Go runtime reads its settings (GOMAXPROCS, GODEBUG, GOGC, GOMEMLIMIT,
 * GOTRACEBACK) from the environment block after argv, finds the auxiliary
 * vector past that block's end, and overwrites the 16 AT_RANDOM bytes it
 * points to. Started at dlopen it would be handed the host's: in a setuid
 * host the caller writes that environment (GOMAXPROCS=100000 made thousands
 * of root threads, GODEBUG=schedtrace printed to the caller's terminal),
 * and the host's AT_RANDOM bytes would change under it. The front starts it
 * with this block of its own instead (pam/rt0), so the runtime never reads
 * or writes the host's environment or auxiliary vector, and other threads
 * of the host, which may read or edit their environment meanwhile, see
 * nothing change.
 *
 * The runtime keeps pointers into argv for the life of the process, so the
 * block is static. Built once, under the front's load lock.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <stddef.h>
#include <sys/auxv.h>
#include <sys/random.h>

#include "front.h"

#ifndef KIG_CORE_GODEBUG
#error "KIG_CORE_GODEBUG (the core's runtime settings) must be set by the build"
#endif

/* The auxiliary vector entries the runtime reads, copied from the host's:
 * the page size (it cannot start without), the vDSO (fast clocks), the CPU
 * features. AT_SECURE is not passed: it would make the runtime open
 * /dev/null over any of fds 0-2 the host has closed; the settings it would
 * sanitise are the front's own. */
static const unsigned long copied_auxv[] = { AT_PAGESZ, AT_CLKTCK, AT_HWCAP, AT_HWCAP2, AT_SYSINFO_EHDR,
#ifdef AT_MINSIGSTKSZ
	AT_MINSIGSTKSZ,
#endif
};
#define NCOPIED (sizeof(copied_auxv) / sizeof(copied_auxv[0]))

static char *block[2 + 4 + 2 * (NCOPIED + 2)];
static unsigned char random_bytes[16];

char **kig_runtime_argv(int *argc)
{
	static char name[] = "pam_keyinit_go";
	static char traceback[] = "GOTRACEBACK=none";  /* a crash prints nothing */
	static char maxprocs[] = "GOMAXPROCS=1";       /* it never runs Go in parallel */
	static char godebug[] = "GODEBUG=" KIG_CORE_GODEBUG;
	size_t n = 0, i;

	block[n++] = name;
	block[n++] = NULL;
	block[n++] = traceback;
	block[n++] = maxprocs;
	block[n++] = godebug;
	block[n++] = NULL;
	for (i = 0; i < NCOPIED; i++) {
		unsigned long v = getauxval(copied_auxv[i]);

		if (v == 0)
			continue;
		block[n++] = (char *)copied_auxv[i];
		block[n++] = (char *)v;
	}
	/* Its own random seed; without one the runtime reads /dev/urandom. */
	if (getrandom(random_bytes, sizeof(random_bytes), GRND_NONBLOCK) == (ssize_t)sizeof(random_bytes)) {
		block[n++] = (char *)AT_RANDOM;
		block[n++] = (char *)random_bytes;
	}
	block[n++] = (char *)AT_NULL;
	block[n++] = NULL;
	*argc = 1;
	return block;
}
