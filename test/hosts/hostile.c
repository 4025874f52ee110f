/* hostile REPORT SERVICE USER [SECCOMP_RULES]
 *
 * A PAM host for the hostile-conditions matrix (test/hostile_matrix_test.go):
 * pam_start, open_session, close_session and pam_end under whatever limits,
 * cgroup, closed or redirected fds 0-2 the test started it with, and, with
 * SECCOMP_RULES (seccomp_rules.h), a seccomp filter it installs in itself
 * after pam_start, so that only the session hooks run under it. It writes
 * "name: value" lines to REPORT, never to fds 0-2, which belong to the
 * test: whatever reaches them came from a module. Before and after PAM it
 * records its ids, capabilities, open-files limit, every signal disposition
 * and its signal mask ("before ..." / "after ..." lines); "alive: yes" is its last line.
 * Under a seccomp filter it records no "after" state and reads the session
 * keyring only if the open succeeded: its own calls must not be the ones
 * the filter kills on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <security/pam_appl.h>

#include "seccomp_rules.h"
#include "host_pam.h"


static FILE *report;

static void show_state(const char *when)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct caps[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
	uid_t r, e, s;
	gid_t rg, eg, sg;
	sigset_t mask;
	int sig;

	getresuid(&r, &e, &s);
	getresgid(&rg, &eg, &sg);
	syscall(SYS_capget, &hdr, caps);
	fprintf(report, "%s ids: %u %u %u / %u %u %u\n", when, r, e, s, rg, eg, sg);
	fprintf(report, "%s caps: %08x%08x %08x%08x\n", when, caps[1].effective, caps[0].effective,
		caps[1].permitted, caps[0].permitted);
	{
		struct rlimit files;

		getrlimit(RLIMIT_NOFILE, &files);
		fprintf(report, "%s nofile: %llu %llu\n", when, (unsigned long long)files.rlim_cur,
			(unsigned long long)files.rlim_max);
	}
	for (sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;

		if (sigaction(sig, NULL, &sa) == 0)
			fprintf(report, "%s sigaction %d: %p %#x\n", when, sig,
				(sa.sa_flags & SA_SIGINFO) ? (void *)sa.sa_sigaction : (void *)sa.sa_handler,
				(unsigned)sa.sa_flags);
	}
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	fprintf(report, "%s sigmask:", when);
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&mask, sig) == 1)
			fprintf(report, " %d", sig);
	fprintf(report, "\n");
}

static void show_session_keyring(void)
{
	char d[256];

	describe_session_keyring(d, sizeof(d));
	fprintf(report, "session keyring: %s\n", d);
}

int main(int argc, char **argv)
{
	struct pam_conv conv = { NULL, NULL };
	pam_handle_t *h = NULL;
	int fd;

	if (argc != 4 && argc != 5)
		return 2;
	/* Away from fds 0-2, which may be closed: the report must not take
	 * their place. */
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0 && fd < 3) {
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);

		close(fd);
		fd = high;
	}
	if (fd < 0 || (report = fdopen(fd, "w")) == NULL)
		return 3;
	setvbuf(report, NULL, _IOLBF, 0);
	show_state("before");
	fprintf(report, "pam_start: %d\n", pam_start(argv[2], argv[3], &conv, &h));
	if (argc == 5 && install_seccomp_rules(argv[4]) != 0)
		return 4;
	{
		int open = pam_open_session(h, 0);

		fprintf(report, "open: %d\n", open);
		if (open == PAM_SUCCESS || argc == 4)
			show_session_keyring();
	}
	fprintf(report, "close: %d\n", pam_close_session(h, 0));
	fprintf(report, "pam_end: %d\n", pam_end(h, PAM_SUCCESS));
	if (argc == 4)
		show_state("after");
	fprintf(report, "alive: yes\n");
	return 0;
}
