/* ISC license: see LICENSE. */
#include <sys/types.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd.h"
#include "fdmap.h"
#include "util.h"

/*
 * "0,1,7": the fd numbers of -m.  Returns -1 with errno EINVAL for an
 * empty or bad number, or a number given twice.
 */
int
fdlist_parse(const char *s, int **out, size_t *n)
{
	const char *errstr;
	char *copy, *p, *tok;
	int *v = NULL, *nv, fd;
	size_t i, k = 0;

	if ((copy = p = strdup(s)) == NULL)
		return -1;
	while ((tok = strsep(&p, ",")) != NULL) {
		fd = strtonum(tok, 0, INT_MAX, &errstr);
		for (i = 0; errstr == NULL && i < k; i++)
			if (v[i] == fd)
				errstr = "repeated";
		if (errstr != NULL) {
			free(copy);
			free(v);
			errno = EINVAL;
			return -1;
		}
		if ((nv = reallocarray(v, k + 1, sizeof(int))) == NULL) {
			free(copy);
			free(v);
			return -1;
		}
		v = nv;
		v[k++] = fd;
	}
	free(copy);
	*out = v;
	*n = k;
	return 0;
}

/*
 * "3" or "3=name": an fd number and the name to send it under.  -1 with
 * errno EINVAL for a bad number or name.
 */
int
fdspec_parse(const char *s, int *fd, const char **name)
{
	const char *errstr, *eq;
	char num[16];
	size_t n;

	eq = strchr(s, '=');
	n = eq ? (size_t)(eq - s) : strlen(s);
	*name = eq ? eq + 1 : "";
	if (n >= sizeof(num) || !name_valid(*name, strlen(*name))) {
		errno = EINVAL;
		return -1;
	}
	memcpy(num, s, n);
	num[n] = '\0';
	*fd = strtonum(num, 0, INT_MAX, &errstr);
	if (errstr != NULL) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * Move *fd, close-on-exec, to a free number above every target (from),
 * or, where the limit on open files leaves none there, to the lowest.
 */
static int
fd_move(int *fd, int from)
{
	int nfd;

	if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, from)) == -1 &&
	    (errno == EINVAL || errno == EMFILE))
		nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 0);
	if (nfd == -1)
		return -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

/* Another fd of ours that fd_lift() keeps out of the way, or NULL. */
static int *also;

void
fd_lift_also(int *fd)
{
	also = fd;
}

static int
lift(int *fd, int low)
{
	int nfd;

	if (fd == NULL || *fd == -1 || *fd >= low)
		return 0;
	/* No room up there: it stays, and fd_place moves what must move. */
	if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, low)) == -1)
		return errno == EINVAL || errno == EMFILE ? 0 : -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

/*
 * The kernel gives each fd received the lowest free number: a set for a
 * program that takes it from fd 3 up lands there, in order, in place, if
 * none of ours is in the way.  Move *s (the connection it comes on) and
 * the fd of fd_lift_also() (a listener) to low or above, close-on-exec.
 * Two calls per frame of up to 253 fds, where placing costs two per fd.
 */
int
fd_lift(int *s, int low)
{
	return lift(s, low) == -1 || lift(also, low) == -1 ? -1 : 0;
}

/* The set is where a program takes it from: fd 3, 4, ... in order. */
int
fdset_in_place(const struct fdset *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->fds[i] != 3 + (int)i)
			return 0;
	return 1;
}

/*
 * Move src[i] to dst[i], for a program we exec: the placed fds lose
 * close-on-exec, the sources are closed, and src says where each one went.
 * Only an fd that sits on the next target is moved out of the way: above
 * the highest target where there is room, else to the lowest free number,
 * so that every target below the limit on open files can be placed.
 * *keep (an fd still needed until the exec, or -1) is moved off the
 * targets too.  Which fd sits on a target is looked up, not searched for:
 * 10,000 fds took 50 million comparisons.
 */
int
fd_place(int *src, const int *dst, size_t n, int *keep)
{
	size_t i;
	int high = 0, j, r = -1, *at;

	for (i = 0; i < n; i++)
		if (dst[i] > high)
			high = dst[i];
	/* at[fd]: 1 + the place in src of the fd on number fd, or 0. */
	if ((at = calloc((size_t)high + 1, sizeof(int))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (src[i] <= high)
			at[src[i]] = (int)i + 1;
	for (i = 0; i < n; i++) {
		if ((j = at[dst[i]] - 1) > (int)i) {
			if (fd_move(&src[j], high + 1) == -1)
				goto out;
			at[dst[i]] = 0;
			if (src[j] <= high)
				at[src[j]] = j + 1;
		}
		if (*keep == dst[i] && fd_move(keep, high + 1) == -1)
			goto out;
		/* dup2 leaves the copy open across exec. */
		if (src[i] == dst[i] && fcntl(dst[i], F_SETFD, 0) == -1)
			goto out;
		if (src[i] != dst[i]) {
			if (dup2(src[i], dst[i]) == -1)
				goto out;
			close(src[i]);
			if (src[i] <= high)
				at[src[i]] = 0;
			src[i] = dst[i];
		}
	}
	r = 0;
out:
	free(at);
	return r;
}

/*
 * Socket activation's environment, as sd_listen_fds_with_names(3) reads
 * it: the fds are at 3 and up, and LISTEN_PID is ours, which the program
 * keeps across exec.  An unnamed fd is "unknown", as systemd names it.
 */
int
listen_env(const struct fdset *set)
{
	char num[32], *names, *p;
	size_t i, len = 1;

	for (i = 0; i < set->n; i++)
		len += (set->names[i][0] ? strlen(set->names[i]) : 7) + 1;
	if ((names = p = malloc(len)) == NULL)
		return -1;
	*p = '\0';
	for (i = 0; i < set->n; i++) {
		p = stpcpy(p, set->names[i][0] ? set->names[i] : "unknown");
		if (i + 1 < set->n)
			*p++ = ':';
	}
	*p = '\0';
	snprintf(num, sizeof(num), "%zu", set->n);
	if (setenv("LISTEN_FDS", num, 1) == -1 ||
	    setenv("LISTEN_FDNAMES", names, 1) == -1) {
		free(names);
		return -1;
	}
	free(names);
	snprintf(num, sizeof(num), "%ld", (long)getpid());
	return setenv("LISTEN_PID", num, 1);
}

/* A program given fds on other numbers must not believe stale variables. */
void
listen_env_clear(void)
{
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
}

/* Receiving many fds: lift the soft limit on open files to the hard one. */
void
nofile_raise(struct rlimit *saved)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, saved) == -1)
		return;
	rl = *saved;
	rl.rlim_cur = rl.rlim_max;
#ifdef __APPLE__
	if (rl.rlim_cur > OPEN_MAX)
		rl.rlim_cur = OPEN_MAX;
#endif
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* Give the program we exec the limit we were given, if its fds fit. */
void
nofile_restore(const struct rlimit *saved, int highest)
{
	if (saved->rlim_cur != RLIM_INFINITY &&
	    (rlim_t)highest < saved->rlim_cur)
		setrlimit(RLIMIT_NOFILE, saved);
}
