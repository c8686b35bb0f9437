/* ISC license: see LICENSE. */
/*
 * What the harnesses share: the lowest free fd (to see a leak), and
 * sending bytes with 0 to 3 fds (on /dev/null) riding on them.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <sys/socket.h>

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static int
lowest_free(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

static void
send_with_fds(int s, const uint8_t *p, size_t n, int nfds)
{
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(3 * sizeof(int))];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	int fds[3], i;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)p;
	iov.iov_len = n;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0 && n > 0) {
		for (i = 0; i < nfds; i++)
			fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.b;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(&cm.h), fds, nfds * sizeof(int));
	}
	(void)sendmsg(s, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (nfds > 0 && n > 0)
		for (i = 0; i < nfds; i++)
			close(fds[i]);
}

#endif
