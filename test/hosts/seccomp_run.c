/* seccomp_run ERRNO PROGRAM [ARG...]
 *
 * Runs PROGRAM with a seccomp filter under which the key management system
 * calls (keyctl, add_key, request_key) fail with ERRNO ("ENOSYS", "EPERM",
 * "EACCES" or a number) and every other call is allowed: a kernel without
 * keyring support, or a container whose seccomp policy blocks keyctl. The
 * filter is installed in this process only (it is inherited across exec),
 * never in the test process that starts it. */
#include <stdio.h>
#include <unistd.h>

#include "seccomp_rules.h"

int main(int argc, char **argv)
{
	char spec[128];

	if (argc < 3 || seccomp_action(argv[1]) == 0) {
		fprintf(stderr, "usage: seccomp_run ENOSYS|EPERM|EACCES|NUMBER PROGRAM [ARG...]\n");
		return 2;
	}
	snprintf(spec, sizeof(spec), "keyctl=%s,add_key=%s,request_key=%s", argv[1], argv[1], argv[1]);
	if (install_seccomp_rules(spec) != 0)
		return 1;
	execvp(argv[2], argv + 2);
	perror("seccomp_run: exec");
	return 127;
}
