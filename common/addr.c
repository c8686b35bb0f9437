/* ISC license: see LICENSE. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "exits.h"

/* addr_parse, or exit with a usage error naming the address. */
void
eaddr_parse(struct addr *a, const char *s)
{
	if (*s == '\0')
		errx(EXIT_USAGE, "empty socket address");
	if (addr_parse(a, s) == -1) {
		if (errno == EAFNOSUPPORT && a->kind == ADDR_FD)
			errx(EXIT_USAGE, "%s: not a UNIX-domain socket", s);
		if (errno == EPROTOTYPE && a->kind == ADDR_FD)
			errx(EXIT_USAGE, "%s: not a stream socket", s);
		if (errno == ENOTCONN && a->kind == ADDR_FD)
			errx(EXIT_USAGE, "%s: a stream socket neither connected "
			    "nor listening", s);
		err(EXIT_USAGE, "%s", s);
	}
}

/*
 * A socket to use as it is must listen or be connected: one that does
 * neither has no peer whose credentials we could check.  0 with errno
 * ENOTCONN if so.
 */
static int
fd_usable(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int on = 0;
	socklen_t olen = sizeof(on);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &olen) == 0 && on)
		return 1;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		return 1;
	errno = ENOTCONN;
	return 0;
}

/*
 * Parse PATH, @NAME or fd:N.  Returns -1 with errno set: ENAMETOOLONG for a
 * name that sun_path cannot hold (never truncated), EINVAL for an empty one
 * or a bad fd number, EAFNOSUPPORT for @NAME where there are no abstract
 * sockets, ENOTSOCK or EBADF for fd:N that is not an open socket,
 * EPROTOTYPE for one that is not a stream socket, EAFNOSUPPORT for one that
 * is not a UNIX-domain socket (a TCP connection, say), ENOTCONN for one
 * that neither listens nor is connected.
 */
int
addr_parse(struct addr *a, const char *s)
{
	const char *errstr;
	struct sockaddr_storage ss;
	socklen_t slen = sizeof(ss);
	int type;
	socklen_t tlen = sizeof(type);

	memset(a, 0, sizeof(*a));
	a->str = s;
	a->fd = -1;
	a->sun.sun_family = AF_UNIX;
	if (strncmp(s, "fd:", 3) == 0) {
		a->kind = ADDR_FD;
		a->fd = strtonum(s + 3, 0, INT_MAX, &errstr);
		if (errstr != NULL) {
			errno = EINVAL;
			return -1;
		}
		if (getsockopt(a->fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == -1)
			return -1;
		if (type != SOCK_STREAM) {
			errno = EPROTOTYPE;
			return -1;
		}
		/* Our protocol is for local peers: never a network socket. */
		if (getsockname(a->fd, (struct sockaddr *)&ss, &slen) == -1)
			return -1;
		if (ss.ss_family != AF_UNIX) {
			errno = EAFNOSUPPORT;
			return -1;
		}
		if (!fd_usable(a->fd))
			return -1;
		return fcntl(a->fd, F_SETFD, FD_CLOEXEC) == -1 ? -1 : 0;
	}
	if (s[0] == '@') {
#ifdef __linux__
		size_t n;

		a->kind = ADDR_ABSTRACT;
		n = strlen(s + 1);
		if (n == 0) {
			errno = EINVAL;
			return -1;
		}
		if (n > sizeof(a->sun.sun_path) - 1) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(a->sun.sun_path + 1, s + 1, n);
		a->len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
		return 0;
#else
		errno = EAFNOSUPPORT;
		return -1;
#endif
	}
	a->kind = ADDR_PATH;
	if (s[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	if (strlcpy(a->sun.sun_path, s, sizeof(a->sun.sun_path)) >=
	    sizeof(a->sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	a->len = sizeof(a->sun);
	return 0;
}
