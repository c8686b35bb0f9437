/* ISC license: see LICENSE. */
/*
 * restart N OUT STALLDIR prog [arg ...]: start prog (stdout appended to
 * OUT), then N times start another and wait for the one before to exit,
 * as a restart loop in a shell does; the spawn time of each (ns,
 * CLOCK_MONOTONIC) goes to STALLDIR/spawn as "pid ns".  With prog "true"
 * instead: N times spawn it and wait for it, and print the median time
 * from spawn to exit (also for any prog with SPAWN_ONLY set).  GAP_US in the environment: that long between one
 * holder's exit and the next spawn (default none).  ALTERNATE set: each
 * holder pinned to CPU 0 or 1 in turn, so that a successor starts on the
 * other CPU than the holder it replaces.
 */
#define _GNU_SOURCE
#include <sys/wait.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"


/* ALTERNATE=1: each holder on one CPU, the next on the other. */
static int alternate, nspawn;

static pid_t
spawn(const char *out, char *argv[])
{
	cpu_set_t set;
	pid_t pid;
	int fd;

	nspawn++;

	if ((pid = fork()) == 0) {
		if (alternate) {
			CPU_ZERO(&set);
			CPU_SET(nspawn % 2, &set);
			sched_setaffinity(0, sizeof(set), &set);
		}
		fd = open(out, O_WRONLY | O_APPEND | O_CREAT, 0644);
		dup2(fd, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int
main(int argc, char *argv[])
{
	int n = atoi(argv[1]), i, st, gap;
	char path[4096];
	long long t0, *t;
	pid_t old, cur;
	FILE *fp;

	(void)argc;
	if (strcmp(argv[4], "true") == 0 || getenv("SPAWN_ONLY") != NULL) {
		t = calloc(n, sizeof(*t));
		for (i = 0; i < n; i++) {
			t0 = now();
			waitpid(spawn(argv[2], argv + 4), &st, 0);
			t[i] = now() - t0;
		}
		qsort(t, n, sizeof(*t), cmp);
		printf("%lld %lld %lld\n", t[n / 2], t[n * 99 / 100], t[n - 1]);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/spawn", argv[3]);
	fp = fopen(path, "w");
	gap = getenv("GAP_US") != NULL ? atoi(getenv("GAP_US")) : 0;
	alternate = getenv("ALTERNATE") != NULL;
	old = spawn(argv[2], argv + 4);
	usleep(300000);
	for (i = 0; i < n; i++) {
		t0 = now();
		cur = spawn(argv[2], argv + 4);
		fprintf(fp, "%d %lld\n", (int)cur, t0);
		waitpid(old, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "restart %d: holder %d ended %d\n", i,
			    (int)old, st);
			return 1;
		}
		old = cur;
		if (gap > 0)
			usleep(gap);
	}
	fclose(fp);
	printf("%d\n", (int)old);
	return 0;
}
