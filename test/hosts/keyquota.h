/* The C hosts' reading of /proc/key-users (the Go code's is internal/keys):
 * "  uid:  usage nkeys/nikeys qnkeys/maxkeys qnbytes/maxbytes". Used by the
 * soak (test/hosts/soak.c) and the benchmark (test/bench/bench.c) to wait
 * for the kernel's key garbage collector instead of failing with EDQUOT. */
#ifndef KIG_KEYQUOTA_H
#define KIG_KEYQUOTA_H

#include <stdio.h>
#include <unistd.h>

/* uid's keys counted against its quota, and the quota; 0 keys (and a quota
 * of 200, the kernel's default) when uid owns none. */
static inline void key_quota(unsigned long uid, long *keys, long *max)
{
	char line[256];
	FILE *f = fopen("/proc/key-users", "r");

	*keys = 0;
	*max = 200;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long u;
		long usage, nkeys, nikeys, qn, qmax;

		if (sscanf(line, " %lu: %ld %ld/%ld %ld/%ld", &u, &usage, &nkeys, &nikeys, &qn, &qmax) == 6 &&
		    u == uid) {
			*keys = qn;
			*max = qmax;
			break;
		}
	}
	fclose(f);
}

/* Waits (at most 5 s) while more than three quarters of uid's quota is in
 * use: revoked keyrings count until the key collector frees them, and a
 * tight loop of sessions can outrun it. */
static inline void wait_for_key_quota(unsigned long uid)
{
	int i;

	for (i = 0; i < 500; i++) {
		long keys, max;

		key_quota(uid, &keys, &max);
		if (keys * 4 < max * 3)
			return;
		usleep(10000);
	}
}

#endif
