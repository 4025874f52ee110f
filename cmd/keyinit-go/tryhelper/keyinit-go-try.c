/* keyinit-go-try: the PAM transaction of "keyinit-go try", in a process that
 * is not a Go program. Loading a Go PAM module into the Go CLI would put two
 * Go runtimes in one process, which Go does not support (they fight over
 * signal handlers).
 *
 *   keyinit-go-try [--conf-dir DIR] [--tty TTY] [--rhost HOST] --depth N SERVICE USER
 *
 * On its only thread: pam_start (pam_start_confdir with --conf-dir), the
 * items, pam_open_session, a look at the session keyring, pam_close_session
 * (if the open succeeded), the same keyring again, pam_end. It judges
 * nothing: it prints what happened as lines for keyinit-go to parse,
 *
 *   start|item|open|close|end CODE TEXT      a PAM call and pam_strerror's text
 *   conv info|error|prompt TEXT              a conversation message (prompts are refused)
 *   snapshot open|close                      the keyctl lines that follow belong to it
 *   session ERRNO SERIAL                     @s of this thread (KEYCTL_GET_KEYRING_ID)
 *   key ERRNO SERIAL DESCRIPTION             KEYCTL_DESCRIBE
 *   links ERRNO SERIAL SERIAL...             KEYCTL_READ
 *
 * ERRNO is 0 for success. TEXT and DESCRIPTION are the rest of the line,
 * with backslash and newline written as \\ and \n. The keyrings are walked
 * the way keyinit-go draws them (links followed down to N levels, each
 * keyring read once), so keyinit-go can replay the answers.
 *
 * Exit status: 0 when the report is complete (whatever PAM said), 2 for bad
 * usage, 1 when stdout cannot be written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <security/pam_appl.h>

/* From <linux/keyctl.h>, without needing libkeyutils. */
#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_DESCRIBE 6
#define KEYCTL_READ 11
#define KEY_SPEC_SESSION_KEYRING -3

/* Keyrings already read in the current snapshot (a keyring can link itself
 * or its ancestors). */
#define MAX_SEEN 4096
static int seen[MAX_SEEN];
static size_t nseen;

static void put_text(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", stdout);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
	putchar('\n');
}

static void report_pam(const char *what, pam_handle_t *pamh, int code)
{
	printf("%s %d ", what, code);
	put_text(pam_strerror(pamh, code));
}

/* Answers informational messages, refuses prompts: a session stack should
 * not ask anything, and nobody is there to answer. */
static int conversation(int n, const struct pam_message **msg,
			struct pam_response **resp, void *data)
{
	struct pam_response *r;
	int i;

	(void)data;
	if (n <= 0)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_TEXT_INFO:
			fputs("conv info ", stdout);
			put_text(msg[i]->msg);
			break;
		case PAM_ERROR_MSG:
			fputs("conv error ", stdout);
			put_text(msg[i]->msg);
			break;
		default:
			fputs("conv prompt ", stdout);
			put_text(msg[i]->msg);
			free(r);
			return PAM_CONV_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* keyctl calls that fill a buffer return the size they need: grow and retry. */
static long keyctl_buffer(int op, int serial, char **buf, size_t *size)
{
	for (;;) {
		long n = syscall(SYS_keyctl, op, serial, *buf, *size, 0);
		char *bigger;

		if (n < 0 || (size_t)n <= *size)
			return n;
		bigger = realloc(*buf, (size_t)n);
		if (bigger == NULL) {
			errno = ENOMEM;
			return -1;
		}
		*buf = bigger;
		*size = (size_t)n;
	}
}

static int already_seen(int serial)
{
	size_t i;

	for (i = 0; i < nseen; i++)
		if (seen[i] == serial)
			return 1;
	if (nseen < MAX_SEEN)
		seen[nseen++] = serial;
	return 0;
}

static void walk(int serial, int depth)
{
	size_t size = 256;
	char *buf = malloc(size);
	long n;
	int is_keyring;

	if (buf == NULL)
		return;
	n = keyctl_buffer(KEYCTL_DESCRIBE, serial, &buf, &size);
	if (n < 0) {
		printf("key %d %d\n", errno, serial);
		free(buf);
		return;
	}
	buf[size - 1] = '\0';
	printf("key 0 %d ", serial);
	put_text(buf);
	is_keyring = strncmp(buf, "keyring;", 8) == 0;
	if (!is_keyring || depth <= 0 || already_seen(serial)) {
		free(buf);
		return;
	}
	n = keyctl_buffer(KEYCTL_READ, serial, &buf, &size);
	if (n < 0) {
		printf("links %d %d\n", errno, serial);
		free(buf);
		return;
	}
	{
		size_t count = (size_t)n / sizeof(int), i;
		int *links = malloc(count * sizeof(int) + 1);

		if (links == NULL) {
			free(buf);
			return;
		}
		memcpy(links, buf, count * sizeof(int));
		free(buf);
		printf("links 0 %d", serial);
		for (i = 0; i < count; i++)
			printf(" %d", links[i]);
		putchar('\n');
		for (i = 0; i < count; i++)
			walk(links[i], depth - 1);
		free(links);
	}
}

static void snapshot(const char *name, int serial, int depth)
{
	printf("snapshot %s\n", name);
	nseen = 0;
	walk(serial, depth);
}

static int usage(const char *why)
{
	fprintf(stderr, "keyinit-go-try: %s\nUsage: keyinit-go-try [--conf-dir DIR] [--tty TTY] [--rhost HOST] --depth N SERVICE USER\n"
		"(run by \"keyinit-go try\"; use that instead)\n", why);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "conf-dir", required_argument, NULL, 'c' },
		{ "tty", required_argument, NULL, 't' },
		{ "rhost", required_argument, NULL, 'r' },
		{ "depth", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct pam_conv conv = { conversation, NULL };
	const char *conf_dir = NULL, *tty = NULL, *rhost = NULL;
	pam_handle_t *pamh = NULL;
	int depth = -1, c, rc, last;
	long session;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf_dir = optarg; break;
		case 't': tty = optarg; break;
		case 'r': rhost = optarg; break;
		case 'd': depth = atoi(optarg); break;
		default: return usage("unknown option");
		}
	}
	if (argc - optind != 2 || depth < 0)
		return usage("want --depth N, SERVICE and USER");

	if (conf_dir != NULL)
		rc = pam_start_confdir(argv[optind], argv[optind + 1], &conv, conf_dir, &pamh);
	else
		rc = pam_start(argv[optind], argv[optind + 1], &conv, &pamh);
	report_pam("start", pamh, rc);
	if (rc != PAM_SUCCESS)
		goto out;

	last = PAM_SUCCESS;
	if (tty != NULL && (last = pam_set_item(pamh, PAM_TTY, tty)) != PAM_SUCCESS)
		report_pam("item", pamh, last);
	else if (rhost != NULL && (last = pam_set_item(pamh, PAM_RHOST, rhost)) != PAM_SUCCESS)
		report_pam("item", pamh, last);
	if (last == PAM_SUCCESS) {
		last = pam_open_session(pamh, 0);
		report_pam("open", pamh, last);
		/* Only now look at this thread's session keyring: a lookup in a
		 * thread without one installs one, which the modules would see. */
		session = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
		printf("session %d %ld\n", session < 0 ? errno : 0, session < 0 ? 0 : session);
		if (session >= 0)
			snapshot("open", (int)session, depth);
		if (last == PAM_SUCCESS) {
			last = pam_close_session(pamh, 0);
			report_pam("close", pamh, last);
			if (session >= 0)
				snapshot("close", (int)session, depth);
		}
	}
	rc = pam_end(pamh, last);
	report_pam("end", NULL, rc);
out:
	if (fflush(stdout) != 0 || ferror(stdout))
		return 1;
	return 0;
}
