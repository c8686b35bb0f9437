/* ISC license: see LICENSE. */
/*
 * The listening sockets of a process, found by what they are (tcp:PORT,
 * udp:PORT, unix:PATH) rather than by number: servers keep them on fds 4,
 * 5 or 7, and a number guessed wrong sends the wrong socket.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listeners.h"
#include "pidfd.h"
#include "proto.h"
#include "util.h"

static const char *const kinds[] = { "tcp:", "udp:", "unix:" };

/*
 * Returns 1 for a selector, 0 for an operand that is none (an fd), -1
 * with errno EINVAL for a bad one; EDOM for a bad port.  A name follows
 * the last "=" (names hold no ":", paths may hold "=").
 */
int
lsel_parse(const char *s, struct lsel *sel)
{
	const char *errstr, *eq, *v;
	char num[8];
	size_t n;
	int k;

	for (k = 0; k < 3 && strncmp(s, kinds[k], strlen(kinds[k])) != 0; k++)
		;
	if (k == 3)
		return 0;
	sel->kind = k;
	v = s + strlen(kinds[k]);
	eq = strrchr(v, '=');
	if (eq != NULL && name_valid(eq + 1, strlen(eq + 1)))
		sel->name = eq + 1;
	else {
		sel->name = "";
		eq = v + strlen(v);
	}
	n = eq - v;
	if (sel->kind == L_UNIX) {
		errno = EINVAL;
		if (n == 0 || n >= sizeof(sel->path))
			return -1;
		memcpy(sel->path, v, n);
		sel->path[n] = '\0';
		return 1;
	}
	errno = EDOM;
	if (n >= sizeof(num))
		return -1;
	memcpy(num, v, n);
	num[n] = '\0';
	sel->port = strtonum(num, 1, 65535, &errstr);
	return errstr == NULL ? 1 : -1;
}

/* The same path: as typed, or the same file once both are resolved. */
static int
same_path(const char *want, const char *bound)
{
	char a[PATH_MAX], b[PATH_MAX];

	if (strcmp(want, bound) == 0)
		return 1;
	return *bound == '/' && realpath(want, a) != NULL &&
	    realpath(bound, b) != NULL && strcmp(a, b) == 0;
}

int
lsel_match(const struct lsel *sel, const struct lsock *ls)
{
	if (sel->kind != ls->kind)
		return 0;
	if (ls->kind == L_UNIX)
		return same_path(sel->path, ls->path);
	return sel->port == ls->port;
}

/* "tcp:80", "unix:/run/x.sock", "unix:@name" (abstract). */
char *
lsock_str(const struct lsock *ls, char *buf, size_t len)
{
	if (ls->kind == L_UNIX)
		snprintf(buf, len, "unix:%s", ls->path);
	else
		snprintf(buf, len, "%s%u", kinds[ls->kind], ls->port);
	return buf;
}

/* A socket that takes connections, or a bound datagram one with no peer. */
static int
listening(int fd, int type)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int on = 0;

	if (type == SOCK_DGRAM)
		return getpeername(fd, (struct sockaddr *)&ss, &len) == -1 &&
		    errno == ENOTCONN;
	len = sizeof(on);
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 &&
	    on;
}

/* Fills ls from the socket fd; 0 if it is a listener of ours to name. */
static int
describe(int fd, struct lsock *ls)
{
	struct sockaddr_storage ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
	socklen_t len = sizeof(ss);
	int type, proto = 0;

	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    !listening(fd, type))
		return -1;
#ifdef SO_PROTOCOL
	len = sizeof(proto);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == -1)
		return -1;
#endif
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	switch (ss.ss_family) {
	case AF_INET:
	case AF_INET6:
		if (type == SOCK_STREAM && (proto == 0 || proto == IPPROTO_TCP))
			ls->kind = L_TCP;
		else if (type == SOCK_DGRAM &&
		    (proto == 0 || proto == IPPROTO_UDP))
			ls->kind = L_UDP;
		else
			return -1;
		ls->port = ntohs(ss.ss_family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port);
		return ls->port == 0 ? -1 : 0;
	case AF_UNIX:
		len -= offsetof(struct sockaddr_un, sun_path);
		if (len == 0 || len > sizeof(sun->sun_path))
			return -1;	/* unnamed */
		ls->kind = L_UNIX;
		if (sun->sun_path[0] == '\0') {	/* abstract */
			ls->path[0] = '@';
			memcpy(ls->path + 1, sun->sun_path + 1, len - 1);
			ls->path[len] = '\0';
		} else
			strlcpy(ls->path, sun->sun_path, len + 1);
		return 0;
	}
	return -1;
}

static int
by_fd(const void *a, const void *b)
{
	return ((const struct lsock *)a)->fd - ((const struct lsock *)b)->fd;
}

/*
 * The fd numbers open in process pid (0: ours).  Linux lists them in
 * /proc; elsewhere only ours can be asked, one number at a time.
 */
static int
fd_numbers(pid_t pid, int **out, size_t *n)
{
	char dir[64];
	struct dirent *d;
	const char *errstr;
	DIR *dp;
	int *v = NULL, *nv, fd, max;

	*n = 0;
	snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)(pid ? pid : getpid()));
	if ((dp = opendir(dir)) == NULL) {
		if (pid != 0) {
			errno = errno == ENOENT ? ESRCH :
			    errno == EACCES ? EPERM : errno;
			return -1;
		}
		max = getdtablesize() < 65536 ? getdtablesize() : 65536;
		if ((v = reallocarray(NULL, max, sizeof(int))) == NULL)
			return -1;
		for (fd = 0; fd < max; fd++)
			if (fcntl(fd, F_GETFD) != -1)
				v[(*n)++] = fd;
		*out = v;
		return 0;
	}
	while ((d = readdir(dp)) != NULL) {
		fd = strtonum(d->d_name, 0, INT_MAX, &errstr);
		if (errstr != NULL || (pid == 0 && fd == dirfd(dp)))
			continue;
		if ((nv = reallocarray(v, *n + 1, sizeof(int))) == NULL) {
			free(v);
			closedir(dp);
			return -1;
		}
		v = nv;
		v[(*n)++] = fd;
	}
	closedir(dp);
	*out = v;
	return 0;
}

/*
 * The listeners of process pid (0: ours), by fd number, each with a copy
 * of ours (ours: the fd itself).  -1 with errno as pidfd_take's, at the
 * first fd we may not take.  Only sockets are taken: /proc says which.
 */
int
lsock_list(pid_t pid, int *pidfd, struct lsock **out, size_t *nout)
{
	char path[64], link[32];
	struct lsock *v, ls;
	size_t i, n, k = 0;
	ssize_t r;
	int *fds;

	if (fd_numbers(pid, &fds, &n) == -1)
		return -1;
	if ((v = reallocarray(NULL, n ? n : 1, sizeof(*v))) == NULL) {
		free(fds);
		return -1;
	}
	for (i = 0; i < n; i++) {
		memset(&ls, 0, sizeof(ls));
		ls.fd = ls.copy = fds[i];
		if (pid != 0) {
			snprintf(path, sizeof(path), "/proc/%ld/fd/%d",
			    (long)pid, fds[i]);
			if ((r = readlink(path, link, sizeof(link) - 1)) == -1)
				continue;
			link[r] = '\0';
			if (strncmp(link, "socket:", 7) != 0)
				continue;
			if ((ls.copy = pidfd_take(pid, fds[i], pidfd)) == -1) {
				if (errno == EBADF)
					continue;	/* closed meanwhile */
				free(fds);
				while (k > 0)
					close(v[--k].copy);
				free(v);
				return -1;
			}
		}
		if (describe(ls.copy, &ls) == 0)
			v[k++] = ls;
		else if (pid != 0)
			close(ls.copy);
	}
	free(fds);
	qsort(v, k, sizeof(*v), by_fd);
	*out = v;
	*nout = k;
	return 0;
}
