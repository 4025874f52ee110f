/* pamhost: reproduces how real PAM hosts fork and thread around the session
 * calls, for test/hosts_test.go.
 *
 *   pamhost PATTERN SERVICE USER
 *   pamhost threads SERVICE USER1,...,USER8 UID1,...,UID8
 *   pamhost ids SERVICE USER RUID,EUID,SUID RGID,EGID,SGID [drop-dac-override|no-caps]
 *
 * PATTERN is systemd, sudo-b, sshd, login, early-fork, fork-after-session,
 * pidns-clone, child-close, child-delete, child-nested-close. After USER,
 * fork-after-session and pidns-clone take the user the late child opens a
 * session for (default: USER). It prints
 * one "name: value" line per observation for the test to assert on, and
 * waits for each forked child at most CHILD_DEADLINE seconds (a hung child
 * is killed and reported as "timeout"). Exit status 0 means it ran to the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <glob.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <security/pam_appl.h>
#include "host_pam.h"

#define CHILD_DEADLINE 10

static const char *service, *user, *late_user;

static struct pam_conv conv = { no_conversation, NULL };

static void say(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* The calling thread's session keyring serial (after the call under test:
 * looking it up in a thread with none installs one). */
static long session_serial(void)
{
	return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
}

/* Writes "keyring;uid;gid;perm;name", "revoked" or "error N" into buf. */
static void describe(long id, char *buf, size_t len)
{
	long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, buf, len);

	if (n < 0)
		snprintf(buf, len, errno == EKEYREVOKED ? "revoked" : "error %d", errno);
	else
		buf[len - 1] = '\0';
}

static void say_key(const char *name, long id)
{
	char d[256];

	describe(id, d, sizeof(d));
	say(name, "%ld %s", id, d);
}

/* "name ids: RUID EUID SUID / RGID EGID SGID / CapInh CapPrm CapEff". */
static void say_ids(const char *name)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct cap[2];
	uid_t r, e, su;
	gid_t rg, eg, sg;
	char label[64];

	getresuid(&r, &e, &su);
	getresgid(&rg, &eg, &sg);
	memset(cap, 0, sizeof(cap));
	syscall(SYS_capget, &hdr, cap);
	snprintf(label, sizeof(label), "%s ids", name);
	say(label, "%u %u %u / %u %u %u / %08x%08x %08x%08x %08x%08x",
	    (unsigned)r, (unsigned)e, (unsigned)su, (unsigned)rg, (unsigned)eg, (unsigned)sg,
	    cap[1].inheritable, cap[0].inheritable, cap[1].permitted, cap[0].permitted,
	    cap[1].effective, cap[0].effective);
}

static pam_handle_t *start(void)
{
	pam_handle_t *h = NULL;
	int rc = pam_start(service, user, &conv, &h);

	if (rc != PAM_SUCCESS) {
		say("pam_start", "%d", rc);
		exit(2);
	}
	return h;
}

/* Waits at most CHILD_DEADLINE seconds for pid (a hung child is killed) and
 * reports how it ended as "NAME exit". */
static void wait_child(const char *name, pid_t pid)
{
	char label[64];
	int status, waited;

	snprintf(label, sizeof(label), "%s exit", name);
	for (waited = 0; waited < CHILD_DEADLINE * 100; waited++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (WIFEXITED(status))
				say(label, "%d", WEXITSTATUS(status));
			else
				say(label, "signal %d", WTERMSIG(status));
			return;
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	say(label, "timeout");
}

/* Forks; the child runs f(h) and exits; the parent waits for it. */
static void in_child(const char *name, void (*f)(pam_handle_t *), pam_handle_t *h)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		say(name, "fork failed: %s", strerror(errno));
		exit(2);
	}
	if (pid == 0) {
		f(h);
		fflush(stdout);
		_exit(0);
	}
	wait_child(name, pid);
}

/* The parent's part of the patterns that open in the parent, run a forked
 * child and close in the parent (sshd, login, a late fork). */
static void open_child_close(pam_handle_t *h, int establish, const char *child,
			     void (*f)(pam_handle_t *))
{
	long s;

	if (establish)
		say("parent setcred establish", "%d", pam_setcred(h, PAM_ESTABLISH_CRED));
	say("parent open", "%d", pam_open_session(h, 0));
	s = session_serial();
	say_key("parent session", s);
	in_child(child, f, h);
	say("parent close", "%d", pam_close_session(h, 0));
	say_key("parent session after close", s);
	say("parent end", "%d", pam_end(h, PAM_SUCCESS));
}

/* --- systemd: open in the parent; close, setcred(DELETE) and pam_end in the
 * forked "(sd-pam)" child. */
static void systemd_child(pam_handle_t *h)
{
	say("child close", "%d", pam_close_session(h, 0));
	say("child setcred delete", "%d", pam_setcred(h, PAM_DELETE_CRED));
	say("child end", "%d", pam_end(h, PAM_DATA_SILENT));
}

static void pattern_systemd(void)
{
	pam_handle_t *h = start();
	long s;

	say("parent setcred establish", "%d", pam_setcred(h, PAM_ESTABLISH_CRED));
	say("parent open", "%d", pam_open_session(h, 0));
	s = session_serial();
	say_key("parent session", s);
	in_child("child", systemd_child, h);
	say_key("parent session after child", s);
	say("parent end", "%d", pam_end(h, PAM_SUCCESS));
}

/* --- sudo -b: pam_start in the parent; open, close, pam_end in a child. */
/* A child's own session on h: open, close and pam_end, with the keyring
 * it got and what became of it. */
static void child_session(pam_handle_t *h)
{
	long s;

	say("child open", "%d", pam_open_session(h, 0));
	s = session_serial();
	say_key("child session", s);
	say("child close", "%d", pam_close_session(h, 0));
	say_key("child session after close", s);
	say("child end", "%d", pam_end(h, PAM_SUCCESS));
}

static void pattern_sudo_b(void)
{
	pam_handle_t *h = start();

	in_child("child", child_session, h);
	say("parent end", "%d", pam_end(h, PAM_SUCCESS));
}

/* --- sshd: authenticate in a forked child; setcred and open in the
 * monitor; setcred(ESTABLISH) again in the post-auth child; close in the
 * monitor. */
static void sshd_auth_child(pam_handle_t *h)
{
	say("auth child authenticate", "%d", pam_authenticate(h, 0));
}

static void sshd_session_child(pam_handle_t *h)
{
	say("session child setcred establish", "%d", pam_setcred(h, PAM_ESTABLISH_CRED));
	say_key("session child session", session_serial());
}

static void pattern_sshd(void)
{
	pam_handle_t *h = start();

	in_child("auth child", sshd_auth_child, h);
	open_child_close(h, 1, "session child", sshd_session_child);
}

/* --- login, su, runuser, GDM: open in the parent; the child calls
 * pam_end(PAM_DATA_SILENT) and would exec the shell; the parent closes. */
static void login_child(pam_handle_t *h)
{
	say("child end", "%d", pam_end(h, PAM_DATA_SILENT));
	say_key("child session", session_serial());
}

static void pattern_login(void)
{
	open_child_close(start(), 1, "child", login_child);
}

/* --- early fork: a child forked right after pam_start (module loaded)
 * starts its own handle and opens; the parent then works as usual. */
static void early_child(pam_handle_t *parent)
{
	pam_handle_t *h = NULL;

	(void)parent;
	say("child start", "%d", pam_start(service, user, &conv, &h));
	child_session(h);
}

static void pattern_early_fork(void)
{
	pam_handle_t *h = start();
	long s;

	in_child("child", early_child, h);
	say("parent open", "%d", pam_open_session(h, 0));
	s = session_serial();
	say_key("parent session", s);
	say("parent close", "%d", pam_close_session(h, 0));
	say_key("parent session after close", s);
	say("parent end", "%d", pam_end(h, PAM_SUCCESS));
}


/* A new handle for late_user in a process where Go cannot run: open,
 * report the keyring, close, report it again. */
static void late_session(const char *who)
{
	pam_handle_t *h = NULL;
	char label[64];
	long s;

	snprintf(label, sizeof(label), "%s start", who);
	say(label, "%d", pam_start(service, late_user, &conv, &h));
	snprintf(label, sizeof(label), "%s open", who);
	say(label, "%d", pam_open_session(h, 0));
	s = session_serial();
	snprintf(label, sizeof(label), "%s session", who);
	say_key(label, s);
	snprintf(label, sizeof(label), "%s close", who);
	say(label, "%d", pam_close_session(h, 0));
	snprintf(label, sizeof(label), "%s session after close", who);
	say_key(label, s);
	snprintf(label, sizeof(label), "%s end", who);
	say(label, "%d", pam_end(h, PAM_SUCCESS));
}

/* --- fork after a session: the parent opens (its Go runtime is running),
 * then forks a child that starts a new handle and needs a new keyring, for
 * the same user or another. Go cannot run in it: the plain keyinit in C
 * makes that user's keyring, at once, and nothing hangs. */
static void late_child(pam_handle_t *parent)
{
	(void)parent;
	late_session("child");
}

static void pattern_fork_after_session(void)
{
	open_child_close(start(), 0, "child", late_child);
}

/* --- a container's init: the process that starts the runtime is pid 1 of
 * its pid namespace, and a child made by a raw clone() into a new pid
 * namespace is pid 1 again, and runs no atfork handler. */
static void pidns_grandchild(void)
{
	say("grandchild pid", "%d", (int)getpid());
	late_session("grandchild");
}

static void pidns_init(pam_handle_t *unused)
{
	pam_handle_t *h = start();
	pid_t pid;

	(void)unused;
	say("init pid", "%d", (int)getpid());
	say("init open", "%d", pam_open_session(h, 0));
	fflush(stdout);
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		pidns_grandchild();
		fflush(stdout);
		_exit(0);
	}
	wait_child("grandchild", pid);
	say("init close", "%d", pam_close_session(h, 0));
}

static void pattern_pidns_clone(void)
{
	if (unshare(CLONE_NEWPID) != 0) {
		say("unshare", "%s", strerror(errno));
		exit(2);
	}
	in_child("init", pidns_init, NULL);
}

/* --- the forked-child C paths one at a time: the parent opens (twice for
 * the nested case), the child only closes or only deletes the credentials,
 * and reports the keyring and its own ids and capabilities around it. */
static long child_serial;

/* "default" if sig is at its default action. */
static const char *disposition(int sig)
{
	struct sigaction sa;

	sigaction(sig, NULL, &sa);
	return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL ? "default" : "a handler";
}

static void child_close(pam_handle_t *h)
{
	/* Go cannot run here: a fault must not enter the runtime's handler. */
	say("child SIGSEGV", "%s", disposition(SIGSEGV));
	say_ids("child before");
	say("child close", "%d", pam_close_session(h, 0));
	say_key("child session after close", child_serial);
	say_ids("child after");
}

static void child_delete(pam_handle_t *h)
{
	say_ids("child before");
	say("child setcred delete", "%d", pam_setcred(h, PAM_DELETE_CRED));
	say_key("child session after delete", child_serial);
	say_ids("child after");
}

static void child_nested_close(pam_handle_t *h)
{
	say_ids("child before");
	say("child close 1", "%d", pam_close_session(h, 0));
	say_key("child session after close 1", child_serial);
	say("child close 2", "%d", pam_close_session(h, 0));
	say_key("child session after close 2", child_serial);
	say_ids("child after");
}

static void pattern_child(void (*f)(pam_handle_t *), int opens)
{
	pam_handle_t *h = start();
	int i;

	for (i = 0; i < opens; i++)
		say("parent open", "%d", pam_open_session(h, 0));
	child_serial = session_serial();
	say_key("parent session", child_serial);
	say("parent SIGSEGV", "%s", disposition(SIGSEGV));
	in_child("child", f, h);
	say_key("parent session after child", child_serial);
	say("parent end", "%d", pam_end(h, PAM_DATA_SILENT));
}

/* --- a host that starts with unusual ids or capabilities (set here, while
 * the process is single-threaded): every hook must leave them as they were.
 * caps: "drop-dac-override" drops CAP_DAC_OVERRIDE from the effective set,
 * "no-caps" empties every set; NULL keeps what the ids leave. */
static void pattern_ids(const char *uids, const char *gids, const char *caps)
{
	unsigned r, e, su, rg, eg, sg;
	pam_handle_t *h;
	long s;

	if (sscanf(uids, "%u,%u,%u", &r, &e, &su) != 3 || sscanf(gids, "%u,%u,%u", &rg, &eg, &sg) != 3) {
		fprintf(stderr, "pamhost ids: bad ids\n");
		exit(2);
	}
	if (setresgid(rg, eg, sg) != 0 || setresuid(r, e, su) != 0) {
		say("set ids", "%s", strerror(errno));
		exit(2);
	}
	if (caps != NULL) {
		struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct cap[2];

		syscall(SYS_capget, &hdr, cap);
		if (!strcmp(caps, "no-caps"))
			memset(cap, 0, sizeof(cap));
		else if (!strcmp(caps, "drop-dac-override"))
			cap[0].effective &= ~(1u << CAP_DAC_OVERRIDE);
		else {
			fprintf(stderr, "pamhost ids: unknown %s\n", caps);
			exit(2);
		}
		if (syscall(SYS_capset, &hdr, cap) != 0) {
			say("capset", "%s", strerror(errno));
			exit(2);
		}
	}
	say_ids("start");
	h = start();
	say_ids("after start");
	say("open", "%d", pam_open_session(h, 0));
	s = session_serial();
	say_key("session", s);
	say_ids("after open");
	say("close", "%d", pam_close_session(h, 0));
	say_key("session after close", s);
	say_ids("after close");
	say("end", "%d", pam_end(h, PAM_SUCCESS));
	say_ids("after end");
}

/* --- threads: THREADS threads each run ROUNDS full transactions at once. */
#define THREADS 8
#define ROUNDS 50

/* Thread i runs its transactions for user i: one user's key quota (200 keys)
 * would otherwise be exhausted by 400 keyrings made faster than the kernel's
 * deferred garbage collector frees the revoked ones. */
struct worker_arg {
	char user[64];
	char owner[64];  /* "keyring;UID;" */
};

static pthread_barrier_t done_barrier, checked_barrier;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static int failed_calls, not_new, not_users, ids_changed, not_revoked;

static void count(int *counter)
{
	pthread_mutex_lock(&count_lock);
	(*counter)++;
	pthread_mutex_unlock(&count_lock);
}

static void check_ids(void)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	getresuid(&r, &e, &s);
	getresgid(&rg, &eg, &sg);
	if (r || e || s || rg || eg || sg)
		count(&ids_changed);
}

static void *worker(void *p)
{
	const struct worker_arg *arg = p;
	long previous = 0;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		pam_handle_t *h = NULL;
		char d[256];
		long s;

		if (pam_start(service, arg->user, &conv, &h) != PAM_SUCCESS) {
			count(&failed_calls);
			continue;
		}
		if (pam_open_session(h, 0) != PAM_SUCCESS)
			count(&failed_calls);
		check_ids();
		s = session_serial();
		describe(s, d, sizeof(d));
		if (s == previous)
			count(&not_new);
		if (strncmp(d, arg->owner, strlen(arg->owner)) != 0)
			count(&not_users);
		previous = s;
		if (pam_close_session(h, 0) != PAM_SUCCESS)
			count(&failed_calls);
		check_ids();
		describe(s, d, sizeof(d));
		if (strcmp(d, "revoked") != 0)
			count(&not_revoked);
		pam_end(h, PAM_SUCCESS);
	}
	/* Stay alive until the main thread has read every thread's ids. */
	pthread_barrier_wait(&done_barrier);
	pthread_barrier_wait(&checked_barrier);
	return NULL;
}

/* Whether the Uid and Gid lines of every thread in /proc/self/task match. */
static int tasks_ids_equal(int *tasks)
{
	char first[512] = "", line[256];
	glob_t g;
	size_t i;
	int equal = 1;

	if (glob("/proc/self/task/*/status", 0, NULL, &g) != 0)
		return 0;
	*tasks = (int)g.gl_pathc;
	for (i = 0; i < g.gl_pathc; i++) {
		char ids[512] = "";
		FILE *f = fopen(g.gl_pathv[i], "r");

		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4))
				strncat(ids, line, sizeof(ids) - strlen(ids) - 1);
		fclose(f);
		if (i == 0)
			strcpy(first, ids);
		else if (strcmp(first, ids) != 0)
			equal = 0;
	}
	globfree(&g);
	return equal;
}

static void pattern_threads(char *users, char *uids)
{
	static struct worker_arg args[THREADS];
	pthread_t t[THREADS];
	char *u_save = NULL, *id_save = NULL;
	int i, tasks = 0;

	for (i = 0; i < THREADS; i++) {
		char *u = strtok_r(i ? NULL : users, ",", &u_save);
		char *id = strtok_r(i ? NULL : uids, ",", &id_save);

		if (u == NULL || id == NULL) {
			fprintf(stderr, "pamhost: threads needs %d users and %d uids\n", THREADS, THREADS);
			exit(2);
		}
		snprintf(args[i].user, sizeof(args[i].user), "%s", u);
		snprintf(args[i].owner, sizeof(args[i].owner), "keyring;%s;", id);
	}
	pthread_barrier_init(&done_barrier, NULL, THREADS + 1);
	pthread_barrier_init(&checked_barrier, NULL, THREADS + 1);
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, &args[i]);
	pthread_barrier_wait(&done_barrier);
	say("tasks ids equal", "%s", tasks_ids_equal(&tasks) ? "yes" : "no");
	say("tasks", "%d", tasks);
	pthread_barrier_wait(&checked_barrier);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	say("transactions", "%d", THREADS * ROUNDS);
	say("failed calls", "%d", failed_calls);
	say("keyring not new", "%d", not_new);
	say("keyring not the user's", "%d", not_users);
	say("ids changed", "%d", ids_changed);
	say("not revoked", "%d", not_revoked);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: pamhost PATTERN SERVICE USER\n"
				"       pamhost threads SERVICE USER1,...,USER8 UID1,...,UID8\n"
				"       pamhost ids SERVICE USER RUID,EUID,SUID RGID,EGID,SGID [drop-dac-override|no-caps]\n");
		return 2;
	}
	service = argv[2];
	user = argv[3];
	late_user = argc >= 5 ? argv[4] : user;
	if (!strcmp(argv[1], "systemd"))
		pattern_systemd();
	else if (!strcmp(argv[1], "sudo-b"))
		pattern_sudo_b();
	else if (!strcmp(argv[1], "sshd"))
		pattern_sshd();
	else if (!strcmp(argv[1], "login"))
		pattern_login();
	else if (!strcmp(argv[1], "early-fork"))
		pattern_early_fork();
	else if (!strcmp(argv[1], "fork-after-session"))
		pattern_fork_after_session();
	else if (!strcmp(argv[1], "pidns-clone"))
		pattern_pidns_clone();
	else if (!strcmp(argv[1], "child-close"))
		pattern_child(child_close, 1);
	else if (!strcmp(argv[1], "child-delete"))
		pattern_child(child_delete, 1);
	else if (!strcmp(argv[1], "child-nested-close"))
		pattern_child(child_nested_close, 2);
	else if (!strcmp(argv[1], "ids") && argc >= 6)
		pattern_ids(argv[4], argv[5], argc == 7 ? argv[6] : NULL);
	else if (!strcmp(argv[1], "threads") && argc == 5)
		pattern_threads(argv[3], argv[4]);
	else {
		fprintf(stderr, "pamhost: unknown pattern %s\n", argv[1]);
		return 2;
	}
	say("done", "yes");
	return 0;
}
