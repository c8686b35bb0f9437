/*
 * Fuzz the frame decoder of fdproto(7): the input arrives on a UNIX
 * socket as one message, with 0 to 3 fds riding on it, as recvmsg would
 * see it from a hostile peer.  The first byte picks the reader and the
 * number of fds; the rest is the stream.  Whatever comes, no crash, no
 * leak of memory or of fds.
 */
#include <sys/socket.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deadline.h"
#include "proto.h"

/* The lowest fd not open: if it moves, a run leaked one. */
static int
lowest_free(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

static void
send_all(int s, const uint8_t *p, size_t n, int nfds)
{
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(3 * sizeof(int))];
	} ctl;
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
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.b;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		ctl.h.cmsg_level = SOL_SOCKET;
		ctl.h.cmsg_type = SCM_RIGHTS;
		ctl.h.cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(&ctl.h), fds, nfds * sizeof(int));
	}
	(void)sendmsg(s, &msg, MSG_NOSIGNAL);
	if (nfds > 0 && n > 0)
		for (i = 0; i < nfds; i++)
			close(fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct deadline dl;
	struct fdset set;
	struct frame f;
	struct perr pe;
	int sv[2], before, how, nfds;

	if (size < 1 || size > 60000)
		return 0;
	how = data[0] & 3;
	nfds = (data[0] >> 2) & 3;
	before = lowest_free();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	send_all(sv[0], data + 1, size - 1, nfds);
	close(sv[0]);		/* the reader sees the end: no waiting */
	deadline_set(&dl, "1");
	memset(&set, 0, sizeof(set));
	switch (how) {
	case 0:
		if (frame_recv(sv[1], &f, &dl, &pe) == 1)
			frame_free(&f);
		break;
	case 1:
		if (fdset_recv(sv[1], &set, &dl, &pe) == 1)
			fdset_close(&set);
		fdset_free(&set);
		break;
	case 2:
		(void)ack_recv(sv[1], 1, &dl, &pe);
		break;
	case 3:
		if (raw_recv(sv[1], &set, &dl, &pe) == 1)
			fdset_close(&set);
		fdset_free(&set);
		break;
	}
	close(sv[1]);
	if (lowest_free() != before)
		abort();	/* an fd leaked */
	return 0;
}
