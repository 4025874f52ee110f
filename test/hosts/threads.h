/* What the C test hosts read of their own threads. */
#ifndef KIG_TEST_THREADS_H
#define KIG_TEST_THREADS_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* The number of threads of this process: entries of /proc/self/task. */
static inline int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	while (d != NULL && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	if (d != NULL)
		closedir(d);
	return n;
}

/* SigBlk of a thread that blocks every signal it can: all of 1..64 but
 * SIGKILL and SIGSTOP, which the kernel never blocks, and glibc's two
 * internal ones (32 and 33), which glibc never blocks (set*id would wait
 * for ever on such a thread). */
#define EVERY_SIGNAL_BLOCKED (~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)) | (1ULL << (32 - 1)) | (1ULL << (33 - 1))))

/* Thread tid's SigBlk (of this process) in *blk; 0 if the thread is gone. */
static inline int thread_sigblk(pid_t tid, unsigned long long *blk)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	*blk = 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "SigBlk:\t", 8) == 0)
			*blk = strtoull(line + 8, NULL, 16);
	fclose(f);
	return 1;
}

/* Whether thread tid blocks exactly EVERY_SIGNAL_BLOCKED (or is gone: no
 * signal lands on it); *blk is what it blocks. Read again for up to 100 ms
 * if not: a thread glibc is still creating blocks 32 and 33 too, for a
 * moment. */
static inline int blocks_every_signal(pid_t tid, unsigned long long *blk)
{
	int i;

	for (i = 0; i < 100; i++) {
		struct timespec ms = { 0, 1000000 };

		if (!thread_sigblk(tid, blk) || *blk == EVERY_SIGNAL_BLOCKED)
			return 1;
		nanosleep(&ms, NULL);
	}
	return 0;
}

#endif
