/* seccomp_run ERRNO PROGRAM [ARG...]
 *
 * Runs PROGRAM with a seccomp filter under which the key management system
 * calls (keyctl, add_key, request_key) fail with ERRNO ("ENOSYS", "EPERM",
 * "EACCES" or a number) and every other call is allowed: a kernel without
 * keyring support, or a container whose seccomp policy blocks keyctl. The
 * filter is installed in this process only (it is inherited across exec),
 * never in the test process that starts it. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "seccomp_run: add this architecture's AUDIT_ARCH"
#endif

static int parse_errno(const char *s)
{
	if (strcmp(s, "ENOSYS") == 0)
		return ENOSYS;
	if (strcmp(s, "EPERM") == 0)
		return EPERM;
	if (strcmp(s, "EACCES") == 0)
		return EACCES;
	return atoi(s);
}

int main(int argc, char **argv)
{
	int err;

	if (argc < 3 || (err = parse_errno(argv[1])) <= 0 || err > 4095) {
		fprintf(stderr, "usage: seccomp_run ENOSYS|EPERM|EACCES|NUMBER PROGRAM [ARG...]\n");
		return 2;
	}
	struct sock_filter filter[] = {
		/* Another ABI's system call numbers mean other calls: allow them. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_keyctl, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_add_key, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_request_key, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
	};
	struct sock_fprog prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};

	/* Without NO_NEW_PRIVS only a process with CAP_SYS_ADMIN may install a
	 * filter; with it, exec cannot gain privileges the filter would then
	 * constrain. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		perror("seccomp_run: PR_SET_NO_NEW_PRIVS");
		return 1;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		perror("seccomp_run: PR_SET_SECCOMP");
		return 1;
	}
	execvp(argv[2], argv + 2);
	perror("seccomp_run: exec");
	return 127;
}
