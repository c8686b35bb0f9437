/* ISC license: see LICENSE. */
/*
 * fdsend's operands: fd[=name], or tcp:PORT[=name], udp:PORT, unix:PATH
 * for a process's listeners, into the set to send; ours or process pid's.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esc.h"
#include "exits.h"
#include "fd.h"
#include "fdmap.h"
#include "listeners.h"
#include "operands.h"
#include "pidfd.h"
#include "proto.h"

/* Fds 0-2 that were closed when we started (stdio_fix put /dev/null). */
int closed_std;

/* Taking fd of process pid failed: say why, and exit. */
static void __dead2
take_failed(pid_t pid, int fd)
{
	if (errno == ESRCH)
		errx(EXIT_USAGE, "pid %ld: %s", (long)pid, strerror(ESRCH));
	if (errno == EBADF)
		err(EXIT_USAGE, "pid %ld: fd %d", (long)pid, fd);
	if (errno == EPERM)
		errx(EXIT_REFUSED, "pid %ld: fd %d: %s (%s)", (long)pid, fd,
		    strerror(EPERM), ptrace_hint());
	if (errno == ENOSYS)
		errx(EXIT_SYS, "pidfd_getfd: %s (Linux 5.6 or later, "
		    "and no seccomp filter against it)", strerror(ENOSYS));
	err(EXIT_SYS, "pid %ld: fd %d", (long)pid, fd);
}

/* Fd operand fd is not ours to send: say so, and exit. */
static void __dead2
not_open(int fd)
{
	errx(EXIT_USAGE, "fd %d: not open in the calling process (fdsend "
	    "sends the fds it inherits; -p pid takes another process's)", fd);
}

/*
 * The fd to send for the operand fd: ours (whether it is open is asked
 * of them all at once, by ours_open), or a copy of process pid's.
 */
static int
source_fd(int fd, pid_t pid, int *pidfd)
{
	int copy;

	if (pid == 0) {
		if (fd <= 2 && closed_std & 1 << fd)
			not_open(fd);
		return fd;
	}
	if ((copy = pidfd_take(pid, fd, pidfd)) == -1)
		take_failed(pid, fd);
	return copy;
}

/* Are the fds of the set open?  A system call per 256 fds, not per fd. */
static void
ours_open(const struct fdset *set)
{
	int i;

	if ((i = fds_closed(set->fds, set->n)) == -2)
		err(EXIT_SYS, "poll");
	if (i >= 0)
		not_open(set->fds[i]);
}

/* No listener matched spec: say what the process does listen on. */
static void __dead2
no_listener(pid_t pid, const char *spec, const struct lsock *ls, size_t n)
{
	char *list = NULL, *nl, one[160], who[32];
	size_t i;

	if (pid != 0)
		snprintf(who, sizeof(who), "pid %ld: ", (long)pid);
	else
		*who = '\0';
	for (i = 0; i < n; i++) {
		lsock_str(&ls[i], one, sizeof(one));
		if (asprintf(&nl, "%s%s%s (fd %d)", list ? list : "",
		    list ? ", " : "", esc(one), ls[i].fd) == -1)
			err(EXIT_SYS, "asprintf");
		free(list);
		list = nl;
	}
	errx(EXIT_USAGE, "%sno listening socket %s; %s listens on %s", who,
	    esc(spec), pid ? "it" : "this process", list ? list : "nothing");
}

/*
 * The operand tcp:PORT, udp:PORT or unix:PATH: every listener of process
 * pid (0: ours) it matches, IPv4 and IPv6 alike, in the order of their fds.
 */
static void
listeners_add(struct fdset *set, const char *spec, const struct lsel *sel,
    pid_t pid, struct lsock *ls, size_t n)
{
	size_t i, found = 0;

	for (i = 0; i < n; i++) {
		if (!lsel_match(sel, &ls[i]))
			continue;
		if (fdset_add(set, ls[i].copy, sel->name) == -1)
			err(EXIT_SYS, "malloc");
		found++;
	}
	if (found == 0)
		no_listener(pid, spec, ls, n);
}

/*
 * The set named by the operands fd[=name] or tcp:PORT[=name] (udp:,
 * unix:), ours or process pid's.  The listeners are looked up once.
 */
void
operands_set(struct fdset *set, char **argv, int argc, pid_t pid, int rflag)
{
	struct lsock *ls = NULL;
	struct lsel sel;
	const char *name;
	size_t i, n = 0;
	int fd, k, r, pidfd = -1;

	for (k = 0; k < argc; k++) {
		if ((r = lsel_parse(argv[k], &sel)) == -1)
			errx(EXIT_USAGE, "invalid %s: %s", errno == EDOM ?
			    "port" : "fd[=name]", esc(argv[k]));
		name = sel.name;
		if (r == 0 && fdspec_parse(argv[k], &fd, &name) == -1)
			errx(EXIT_USAGE, "invalid fd[=name]: %s",
			    esc(argv[k]));
		if (rflag && *name != '\0')
			errx(EXIT_USAGE, "raw mode sends no names: %s",
			    esc(argv[k]));
		if (r == 0) {
			if (fdset_add(set, source_fd(fd, pid, &pidfd),
			    name) == -1)
				err(EXIT_SYS, "malloc");
			continue;
		}
		if (ls == NULL && lsock_list(pid, &pidfd, &ls, &n) == -1)
			take_failed(pid, -1);
		listeners_add(set, argv[k], &sel, pid, ls, n);
	}
	/* The copies of listeners that no operand took. */
	for (i = 0; pid != 0 && i < n; i++) {
		for (k = 0; k < (int)set->n && set->fds[k] != ls[i].copy; k++)
			;
		if (k == (int)set->n)
			close(ls[i].copy);
	}
	free(ls);
	if (pidfd != -1)
		close(pidfd);
	if (pid == 0)
		ours_open(set);
}
