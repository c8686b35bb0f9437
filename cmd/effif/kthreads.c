/* ISC license: see LICENSE. */
/*
 * effif on Linux: the processes the walk of /proc for a tun device's
 * holders (owner.c) may pass over without reading them.
 */
#ifdef __linux__

#include <sys/types.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "effif.h"
#include "fd.h"
#include "owner.h"

#define PF_KTHREAD	0x00200000	/* include/linux/sched.h */

static int
pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* Whether pid is one of the n sorted pids of v. */
int
pid_in(pid_t pid, const pid_t *v, size_t n)
{
	return n > 0 && bsearch(&pid, v, n, sizeof(*v), pid_cmp) != NULL;
}

/* Whether pid 2 is kthreadd, a kernel thread: in a pid namespace not. */
static int
is_kthreadd(int proc)
{
	char buf[512], *p;
	unsigned int flags;

	if (fd_readat(proc, "2/stat", buf, sizeof(buf)) <= 0)
		return 0;
	/* pid (comm) state ppid pgrp session tty_nr tpgid flags ... */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %u", &flags) != 1)
		return 0;
	return (flags & PF_KTHREAD) != 0;
}

/* The whole of a file of /proc (whose size stat does not tell), or NULL. */
static char *
slurp(int proc, const char *path)
{
	char *s = NULL, *p;
	size_t len = 0, cap = 0;
	ssize_t n;
	int f;

	if ((f = openat(proc, path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	do {
		if (cap - len < 1024) {
			cap = cap ? cap * 2 : 4096;
			if ((p = realloc(s, cap)) == NULL) {
				n = -1;
				break;
			}
			s = p;
		}
		n = read(f, s + len, cap - len - 1);
		len += n > 0 ? n : 0;
	} while (n > 0);
	close(f);
	if (n == -1) {
		free(s);
		return NULL;
	}
	s[len] = '\0';
	return s;
}

/*
 * The kernel's threads, and the helpers it starts (modprobe, a core dump
 * handler), are the children of kthreadd, and run in the first network
 * namespace.  When ns (the link of ours) is another, their pids and
 * kthreadd's, sorted, in *out: the walk passes over them, sparing a
 * path walk and readlink of ns/net each (about half the processes of a
 * host).  Returns how many; 0 (and all are read) when ours is the first
 * namespace or they could not be listed.
 */
size_t
owner_kthreads(int proc, const char *ns, pid_t **out)
{
	char buf[64], *s, *p, *end;
	pid_t *v;
	size_t n = 0;
	ssize_t r;
	long pid;

	*out = NULL;
	if ((r = readlinkat(proc, "2/ns/net", buf, sizeof(buf) - 1)) == -1)
		return 0;
	buf[r] = '\0';
	if (strcmp(buf, ns) == 0 || !is_kthreadd(proc) ||
	    (s = slurp(proc, "2/task/2/children")) == NULL)
		return 0;
	/* Each pid is followed by a space: at most strlen / 2 of them. */
	if ((v = reallocarray(NULL, strlen(s) / 2 + 1, sizeof(*v))) == NULL) {
		free(s);
		return 0;
	}
	v[n++] = 2;
	for (p = s; (pid = strtol(p, &end, 10)) > 0 && end != p; p = end)
		v[n++] = pid;
	free(s);
	qsort(v, n, sizeof(*v), pid_cmp);
	*out = v;
	return n;
}

#endif /* __linux__ */
