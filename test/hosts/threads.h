/* What the C test hosts read of their own threads. */
#ifndef KIG_TEST_THREADS_H
#define KIG_TEST_THREADS_H

#include <dirent.h>

/* The number of threads of this process: entries of /proc/self/task. */
static int threads(void)
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

#endif
