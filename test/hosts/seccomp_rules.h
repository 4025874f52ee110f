/* Seccomp filters for the test hosts: "CALL=ACTION[,CALL=ACTION...]", where
 * CALL is a system call's name, or clone_thread: clone with CLONE_THREAD
 * in its flags (a thread; a fork is let through), and ACTION is ENOSYS, EPERM, EACCES, an errno number, "kill" (the process
 * is killed, SECCOMP_RET_KILL_PROCESS) or, for a filter installed with a
 * listener, "notify" (the call waits for the listener's supervisor,
 * SECCOMP_RET_USER_NOTIF). Every other call is allowed. Shared by
 * seccomp_run.c (a filter for a program it execs), hostile.c (one it
 * installs in itself between pam_start and the session) and filterhost.c
 * (one a thread installs on itself alone). */
#ifndef KIG_TEST_SECCOMP_RULES_H
#define KIG_TEST_SECCOMP_RULES_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#define NATIVE_ARCH AUDIT_ARCH_S390X
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#else
#error "seccomp_rules.h: add this architecture's AUDIT_ARCH"
#endif

struct seccomp_call {
	const char *name;
	long nr;
};

#define CALL(n) { #n, __NR_##n }
static const struct seccomp_call seccomp_calls[] = {
	CALL(keyctl), CALL(add_key), CALL(request_key),
	CALL(clone), CALL(clone3), CALL(exit), CALL(mmap), CALL(munmap), CALL(mprotect), CALL(madvise),
	CALL(sigaltstack), CALL(rt_sigaction), CALL(rt_sigreturn), CALL(rt_sigprocmask), CALL(futex), CALL(nanosleep),
	CALL(gettid), CALL(getpid), CALL(tgkill), CALL(sched_getaffinity), CALL(sched_setaffinity),
	CALL(sched_getscheduler), CALL(sched_setscheduler), CALL(getcpu), CALL(sched_yield),
	CALL(getrandom), CALL(rseq), CALL(set_robust_list), CALL(getresuid), CALL(setresuid),
	CALL(setresgid), CALL(capget), CALL(prlimit64), CALL(wait4),
};
#undef CALL

static long seccomp_call_nr(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(seccomp_calls) / sizeof(seccomp_calls[0]); i++)
		if (strcmp(seccomp_calls[i].name, name) == 0)
			return seccomp_calls[i].nr;
	return -1;
}

/* Where clone's flags are: its first argument, but on s390x its second;
 * the low 32 bits of the 64-bit word, which a big-endian machine stores
 * second. */
#if defined(__s390x__)
#define CLONE_FLAGS_AT (offsetof(struct seccomp_data, args[1]) + 4)
#elif __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define CLONE_FLAGS_AT (offsetof(struct seccomp_data, args[0]) + 4)
#else
#define CLONE_FLAGS_AT offsetof(struct seccomp_data, args[0])
#endif
#define CLONE_THREAD_FLAG 0x00010000  /* sched.h's CLONE_THREAD */

static unsigned seccomp_action(const char *s)
{
	int err;

	if (strcmp(s, "kill") == 0)
		return SECCOMP_RET_KILL_PROCESS;
	if (strcmp(s, "notify") == 0)
		return SECCOMP_RET_USER_NOTIF;
	err = strcmp(s, "ENOSYS") == 0 ? ENOSYS : strcmp(s, "EPERM") == 0 ? EPERM :
	      strcmp(s, "EACCES") == 0 ? EACCES : atoi(s);
	if (err <= 0 || err > 4095)
		return 0;
	return SECCOMP_RET_ERRNO | (unsigned)err;
}

/* Installs the filter spec describes on the calling thread alone (no
 * TSYNC; threads and processes it makes later inherit it). With listener,
 * a listener fd for its "notify" rules goes there. 0 on success, -1 (with
 * a message on stderr) on a bad spec or a refused filter. */
static int install_seccomp_filter(const char *spec, int *listener)
{
	struct sock_filter f[3 + 5 * 16 + 2];
	char buf[512], *rule, *save = NULL;
	size_t n = 0;

	if (strlen(spec) >= sizeof(buf))
		return -1;
	strcpy(buf, spec);
	/* Another ABI's system call numbers mean other calls: allow them. */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (rule = strtok_r(buf, ",", &save); rule != NULL; rule = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(rule, '=');
		long nr;
		unsigned action;

		int thread;

		if (eq == NULL || n + 5 > sizeof(f) / sizeof(f[0]) - 1)
			goto bad;
		*eq = '\0';
		thread = strcmp(rule, "clone_thread") == 0;
		nr = thread ? __NR_clone : seccomp_call_nr(rule);
		action = seccomp_action(eq + 1);
		if (nr < 0 || action == 0 || (action == SECCOMP_RET_USER_NOTIF && listener == NULL))
			goto bad;
		if (thread) {
			/* clone, and CLONE_THREAD set: the action; then the call's
			 * number back for the next rule. */
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 4);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, CLONE_FLAGS_AT);
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD_FLAG, 0, 1);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
			continue;
		}
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	{
		struct sock_fprog prog = { .len = (unsigned short)n, .filter = f };

		/* Without NO_NEW_PRIVS only a process with CAP_SYS_ADMIN may
		 * install a filter; with it, exec cannot gain privileges the
		 * filter would then constrain. */
		long rc;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    (rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				  listener != NULL ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &prog)) < 0) {
			perror("seccomp filter");
			return -1;
		}
		if (listener != NULL)
			*listener = (int)rc;
	}
	return 0;
bad:
	fprintf(stderr, "bad seccomp rule in %s: want CALL=ENOSYS|EPERM|EACCES|ERRNO|kill|notify\n", spec);
	return -1;
}

static inline int install_seccomp_rules(const char *spec)
{
	return install_seccomp_filter(spec, NULL);
}

#endif
