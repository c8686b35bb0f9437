/* ISC license: see LICENSE. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "fd.h"

int
fd_cloexec(int fd, int on)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFD)) == -1)
		return -1;
	fl = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, fl);
}

int
fd_nonblock(int fd, int on)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl);
}

/* What kind of fd this is: the one probe of an fd's kind. */
int
fd_kind(int fd)
{
	struct stat st;
	socklen_t len;
	int type, on;

	if (fstat(fd, &st) == -1)
		return FK_OTHER;
	if (S_ISFIFO(st.st_mode))
		return FK_FIFO;
	if (S_ISREG(st.st_mode))
		return FK_FILE;
	if (S_ISCHR(st.st_mode))
		return FK_CHAR;
	if (S_ISDIR(st.st_mode))
		return FK_DIR;
	if (S_ISBLK(st.st_mode))
		return FK_BLOCK;
	if (!S_ISSOCK(st.st_mode))
		return FK_OTHER;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		return FK_OTHER;
	if (type == SOCK_DGRAM)
		return FK_DGRAM;
	if (type == SOCK_SEQPACKET)
		return FK_SEQPACKET;
	len = sizeof(on);
	if (type == SOCK_STREAM &&
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on)
		return FK_LISTEN;
	return type == SOCK_STREAM ? FK_STREAM : FK_OTHER;
}

const char *
fd_kind_str(int kind)
{
	static const char *names[] = {
		"other", "stream", "listen", "dgram", "seqpacket", "fifo",
		"file", "char", "dir", "block"
	};

	if (kind < 0 || kind >= (int)(sizeof(names) / sizeof(names[0])))
		return "other";
	return names[kind];
}

/*
 * The place in fds of the first that is not open, or -1 when all are: one
 * poll(2) per FDS_POLL of them (POLLNVAL says which), not a call per fd.
 * Another error of poll is said as -2, errno set.
 */
#define FDS_POLL	256
int
fds_closed(const int *fds, size_t n)
{
	struct pollfd p[FDS_POLL];
	size_t i, k, j;

	for (i = 0; i < n; i += k) {
		k = n - i < FDS_POLL ? n - i : FDS_POLL;
		for (j = 0; j < k; j++) {
			p[j].fd = fds[i + j];
			p[j].events = 0;
		}
		while (poll(p, k, 0) == -1)
			if (errno != EINTR && errno != EAGAIN)
				return -2;
		for (j = 0; j < k; j++)
			if (p[j].revents & POLLNVAL)
				return (int)(i + j);
	}
	return -1;
}

/*
 * Close the n fds of a set (-1s skipped), as when a store removes an
 * entry or a frame that brought them is refused.  fds the kernel gave one
 * message are consecutive numbers, the lowest free, so a set is mostly a
 * few runs: on Linux one close_range(2) a run, not a close(2) a fd.
 */
void
fds_close(const int *fds, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i = j) {
		j = i + 1;
		if (fds[i] == -1)
			continue;
		while (j < n && fds[j] == fds[i] + (int)(j - i))
			j++;
#ifdef __linux__
		if (j - i > 1 && close_range((unsigned)fds[i],
		    (unsigned)fds[j - 1], 0) == 0)
			continue;
#endif
		for (; i < j; i++)
			close(fds[i]);
	}
}

/*
 * Read the non-blocking socket fd dry, each message into buf (len bytes)
 * and then to wakes, which says if it matters (NULL: every one does).
 * Returns 1 if one did or the kernel said it dropped some (ENOBUFS), 0 if
 * not, -1 with errno set when a read fails otherwise.
 */
int
fd_drain(int fd, void *buf, size_t len,
    int (*wakes)(const void *, size_t, void *), void *arg)
{
	ssize_t n;
	int any = 0;

	for (;;) {
		if ((n = read(fd, buf, len)) >= 0) {
			any |= wakes == NULL || wakes(buf, (size_t)n, arg);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return any;
		if (errno == ENOBUFS)
			any = 1;
		else if (errno != EINTR)
			return -1;
	}
}

/*
 * The start of a small file under directory dir (a /proc entry, say),
 * NUL-terminated in buf: its length, or -1 (errno) if it could not be
 * opened or read, 0 if empty.
 */
ssize_t
fd_readat(int dir, const char *path, char *buf, size_t len)
{
	ssize_t n;
	int f, e;

	if (len == 0 || (f = openat(dir, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(f, buf, len - 1);
	e = errno;
	close(f);
	errno = e;
	if (n >= 0)
		buf[n] = '\0';
	return n;
}
