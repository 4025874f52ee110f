/* floorhost CORE as|data|none KIB
 *
 * Measures the Go runtime's floor for test/floor_test.go: it loads the Go
 * core (CORE, build/pam_keyinit_go/core.so) and starts its runtime the way
 * the front does, with the front's own argv (pam/front/runtime_args.c,
 * compiled in), but without the front's checks, under an address-space or
 * data limit of KIB beyond what the process maps before it loads the core
 * (the headroom the front's check measures too). It prints "started" if the
 * runtime started; a runtime that cannot start ends the process, which the
 * test sees. The stack limit comes from the test (prlimit), as glibc sizes
 * thread stacks from it once, when the process starts.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../../pam/front/runtime_args.c"

/* Vm<name> of /proc/self/status, in KiB. */
static unsigned long long vm(const char *name)
{
	char line[256];
	unsigned long long v = 0;
	size_t n = strlen(name);
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == ':')
			v = strtoull(line + n + 1, NULL, 10);
	if (f != NULL)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	int (*start)(int, char **);
	void (*wait_started)(void);
	char **rargv;
	int rargc;
	void *h;

	if (argc != 4)
		return 2;
	if (strcmp(argv[2], "none") != 0) {
		int as = strcmp(argv[2], "as") == 0;
		rlim_t v = (rlim_t)((vm(as ? "VmSize" : "VmData") + strtoull(argv[3], NULL, 10)) * 1024);
		struct rlimit rl = { v, v };

		if (setrlimit(as ? RLIMIT_AS : RLIMIT_DATA, &rl) != 0) {
			perror("setrlimit");
			return 2;
		}
	}
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		printf("dlopen failed: %s\n", dlerror());
		return 3;
	}
	start = (int (*)(int, char **))dlsym(h, "kig_core_start");
	wait_started = (void (*)(void))dlsym(h, "kig_core_wait_started");
	if (start == NULL || wait_started == NULL)
		return 2;
	rargv = kig_runtime_argv(&rargc);
	if (!start(rargc, rargv))
		return 2;
	wait_started();
	printf("started\n");
	return 0;
}
