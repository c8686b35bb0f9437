/* ISC license: see LICENSE. */
/*
 * storeload KIND SOCK PID CLIENTS ROUNDS [PREFIX]: a store of named fds
 * under CLIENTS concurrent clients, each ROUNDS times storing /dev/null
 * under a name of its own, then retrieving and deleting it with a
 * program run on it (true), by the real command-line tools, one process
 * per operation.  KIND is "fdtools" (fdsend -n, fdrecv -n -D; $BIN is
 * where they are) or "s6" (s6-fdholder-store, s6-fdholder-retrieve -D).
 * KIND "floor" runs true for a store and env true for a retrieval: the
 * processes alone.  PID is the daemon's (0: none).  Prints one line:
 *
 *	ops ops/s median-us p99-us cpu-us/op user-us/op sys-us/op rss-kB
 *
 * the daemon's CPU per operation from /proc/PID/schedstat (ns it ran),
 * and split into user and system time from /proc/PID/stat (whole ticks:
 * meaningful over thousands of operations only).  With $STORELOAD_TIMES
 * set, each operation's time (us) is also appended to that file, a line
 * each: the runs of one point pooled.  With PREFIX the operations only store
 * (ROUNDS entries per client, named PREFIX...), to fill the store: the
 * line then counts the stores.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

static const char *kind, *sock, *bin;

/* Run argv with /dev/null on stdin; its time in ns, or -1 if it failed. */
static long long
run(char **argv)
{
	long long t0 = now();
	pid_t pid;
	int st;

	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0 ||
	    waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return now() - t0;
}

static long long
op(int store, const char *name)
{
	char a[512], b[512], id[300];
	char *s6st[] = { "/usr/bin/s6-fdholder-store", (char *)sock, id, NULL };
	char *s6rt[] = { "/usr/bin/s6-fdholder-retrieve", "-D", (char *)sock,
	    id, "/bin/true", NULL };
	char *fst[] = { a, "-n", (char *)name, (char *)sock, "0", NULL };
	char *frt[] = { b, "-n", (char *)name, "-D", (char *)sock,
	    "/bin/true", NULL };

	snprintf(id, sizeof(id), "fd:%s", name);
	snprintf(a, sizeof(a), "%s/fdsend", bin);
	snprintf(b, sizeof(b), "%s/fdrecv", bin);
	char *flst[] = { "/bin/true", NULL };
	char *flrt[] = { "/usr/bin/env", "true", NULL };

	if (strcmp(kind, "s6") == 0)
		return run(store ? s6st : s6rt);
	if (strcmp(kind, "floor") == 0)
		return run(store ? flst : flrt);
	return run(store ? fst : frt);
}

/* The daemon's CPU time so far, ns; its resident set, kB. */
static long long
cpu_ns(pid_t pid)
{
	char path[64];
	long long ns = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/schedstat", (long)pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%lld", &ns) != 1)
			ns = -1;
		fclose(f);
	}
	return ns;
}

/* utime and stime, in us. */
static void
cpu_split(pid_t pid, long long *u, long long *sy)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;

	*u = *sy = 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	/* After the command's name in parentheses: field 14 and 15. */
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (p = strrchr(buf, ')')) != NULL &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu", &ut, &st) == 2) {
		*u = ut * 1000000 / hz;
		*sy = st * 1000000 / hz;
	}
	fclose(f);
}

static long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int
main(int argc, char *argv[])
{
	const char *prefix = argc > 6 ? argv[6] : NULL, *times;
	long long *t, t0, wall, c0, c1, u0, u1, s0, s1;
	int clients, rounds, per, i, k, n, fd, go[2], bad = 0;
	char name[300], byte;
	pid_t daemon;
	FILE *tf;

	if (argc < 6) {
		fprintf(stderr, "usage: storeload fdtools|s6 sock pid clients "
		    "rounds [prefix]\n");
		return 100;
	}
	kind = argv[1];
	sock = argv[2];
	daemon = atoi(argv[3]);
	clients = atoi(argv[4]);
	rounds = atoi(argv[5]);
	if ((bin = getenv("BIN")) == NULL)
		bin = "build";
	per = prefix ? 1 : 2;
	n = clients * rounds * per;
	t = mmap(NULL, n * sizeof(*t), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED || pipe(go) == -1 ||
	    (fd = open("/dev/null", O_RDONLY)) == -1)
		return 111;
	dup2(fd, 0);
	if (fd != 0)
		close(fd);
	for (i = 0; i < clients; i++) {
		if (fork() != 0)
			continue;
		close(go[1]);
		if (read(go[0], &byte, 1) != 0)
			_exit(111);
		close(go[0]);	/* the tools start with no fd but 0-2 */
		for (k = 0; k < rounds; k++) {
			if (prefix)
				snprintf(name, sizeof(name), "%s%d.%d", prefix,
				    i, k);
			else
				snprintf(name, sizeof(name), "c%d.%d", i, k);
			t[(i * rounds + k) * per] = op(1, name);
			if (!prefix)
				t[(i * rounds + k) * per + 1] = op(0, name);
		}
		_exit(0);
	}
	close(go[0]);
	c0 = cpu_ns(daemon);
	cpu_split(daemon, &u0, &s0);
	t0 = now();
	close(go[1]);		/* all start at once */
	while (wait(NULL) > 0)
		;
	wall = now() - t0;
	c1 = cpu_ns(daemon);
	cpu_split(daemon, &u1, &s1);
	for (i = 0; i < n; i++)
		bad += t[i] < 0;
	if (bad > 0) {
		fprintf(stderr, "storeload: %d of %d operations failed\n", bad,
		    n);
		return 1;
	}
	if ((times = getenv("STORELOAD_TIMES")) != NULL) {
		if ((tf = fopen(times, "a")) == NULL)
			return 111;
		for (i = 0; i < n; i++)
			fprintf(tf, "%.1f\n", t[i] / 1e3);
		if (fclose(tf) == EOF)
			return 111;
	}
	qsort(t, n, sizeof(*t), cmp);
	printf("%d %.1f %.1f %.1f %.2f %.2f %.2f %ld\n", n, n / (wall / 1e9),
	    t[n / 2] / 1e3, t[n * 99 / 100] / 1e3, (c1 - c0) / 1e3 / n,
	    (double)(u1 - u0) / n, (double)(s1 - s0) / n, rss_kb(daemon));
	return 0;
}
