/* ISC license: see LICENSE. */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "fd.h"
#include "scm.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0	/* SO_NOSIGPIPE is set on the socket instead */
#endif
#ifdef MSG_CMSG_CLOEXEC
#define RECV_FLAGS	MSG_CMSG_CLOEXEC
#else
#define RECV_FLAGS	0
#endif

/* Fds received are close-on-exec unless scm_exec_fds() said otherwise. */
static int cloexec = 1;

/*
 * From now on fds arrive open across exec: fdrecv, whose every fd
 * received is for the program it execs or closed before.  Setting and
 * clearing close-on-exec would cost two calls per fd for nothing.
 */
void
scm_exec_fds(void)
{
	cloexec = 0;
}

/* One SCM_RIGHTS control message of nfds fds in ctl, for msg; none for 0. */
void
rights_put(struct msghdr *msg, union ctlbuf *ctl, const int *fds, int nfds)
{
	struct cmsghdr *c;

	if (nfds <= 0 || fds == NULL)
		return;		/* no control message at all */

	memset(ctl, 0, sizeof(*ctl));
	msg->msg_control = ctl->buf;
	msg->msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
}

/*
 * Take the fds of every control message.  A second SCM_RIGHTS message,
 * any other control message, or more fds than fit are protocol errors:
 * what arrived is closed.  Returns the count, or -1.
 */
int
rights_take(struct msghdr *msg, int *fds, int room, struct perr *pe)
{
	struct cmsghdr *c;
	char *end = (char *)msg->msg_control + msg->msg_controllen;
	int n = 0, k, i, fd, bad = 0, rights = 0;
	size_t len;

	if (msg->msg_controllen == 0)
		return 0;
	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		len = c->cmsg_len;
		if ((char *)c + len > end)
			len = end - (char *)c;
		if (len < CMSG_LEN(0))
			break;
		k = (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		    ? (int)((len - CMSG_LEN(0)) / sizeof(int)) : 0;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    rights++ > 0)
			bad = 1;
		for (i = 0; i < k; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
#ifndef MSG_CMSG_CLOEXEC
			if (cloexec)
				fd_cloexec(fd, 1);
#endif
			if (n < room)
				fds[n++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (bad) {
		fds_close(fds, n);
		perr_set(pe, PE_PROTO, "unexpected control message");
		return -1;
	}
	return n;
}

/*
 * sendmsg(2) once, what it takes of msg: a signal is retried, and a full
 * socket waited for until dl (with dl NULL, not at all: the caller polls).
 * MSG_DONTWAIT, for an fd:N that blocks: its flags are not ours to set.
 * Returns the bytes sent, or -1 with errno set (EAGAIN, ETIMEDOUT, ...).
 */
ssize_t
scm_send(int s, const struct msghdr *msg, const struct deadline *dl)
{
	ssize_t n;

	while ((n = sendmsg(s, msg, MSG_NOSIGNAL | MSG_DONTWAIT)) == -1) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (dl == NULL || deadline_poll(s, POLLOUT, dl) == -1)
			return -1;
	}
	return n;
}

/*
 * recvmsg(2) once with flags, fds close-on-exec as they arrive where the
 * system can (unless scm_exec_fds()): a signal is retried, and an empty socket waited for until dl
 * (with dl NULL, not at all), MSG_DONTWAIT as in scm_send.  Returns the
 * bytes read, 0 at end of file, or -1 with errno set.
 */
ssize_t
scm_recv(int s, struct msghdr *msg, int flags, const struct deadline *dl)
{
	ssize_t n;

	flags |= MSG_DONTWAIT;
	if (cloexec)
		flags |= RECV_FLAGS;
	while ((n = recvmsg(s, msg, flags)) == -1) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (dl == NULL || deadline_poll(s, POLLIN, dl) == -1)
			return -1;
	}
	return n;
}
