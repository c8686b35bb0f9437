/* ISC license: see LICENSE. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/*
 * Make fds 0, 1 and 2 valid before anything else is opened: one that is
 * closed gets /dev/null, or the first socket we open would land there and
 * be taken for standard output (the server's data written back to the
 * server), standard input or standard error.  Returns a mask of the fds
 * that were closed (bit n for fd n), for a tool that must not go on
 * without one; -1 if /dev/null could not be opened (errno set).
 */
int
stdio_fix(void)
{
	int fd, closed = 0;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		closed |= 1 << fd;
		/* The lowest free number is fd itself: 0 to fd-1 are open. */
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			return -1;
	}
	return closed;
}

/* warnx, unless a line went out in the last second: then count it. */
void
lwarnx(struct loglimit *l, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (deadline_ms(&l->next) > 0) {
		l->held++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->held > 0)
		warnx("%s (and %u more like it held back)", msg, l->held);
	else
		warnx("%s", msg);
	l->held = 0;
	deadline_in(&l->next, 1000);
}

/*
 * Catch sig with fn, unless it was ignored when we started: a shell starts
 * the background jobs of a script with SIGINT and SIGQUIT ignored, and
 * what was ignored stays ignored, as sh(1) expects of its commands (and
 * as a program we exec inherits it).  Returns 0, or -1 with errno set.
 */
int
sig_catch(int sig, void (*fn)(int))
{
	struct sigaction sa, old;

	if (sigaction(sig, NULL, &old) == -1)
		return -1;
	if (old.sa_handler == SIG_IGN)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

/* realloc for nmemb elements of size bytes, or ENOMEM if that overflows. */
void *
array_realloc(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, nmemb * size);
}
