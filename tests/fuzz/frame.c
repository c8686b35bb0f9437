/* ISC license: see LICENSE. */
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
#include "fuzz.h"

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
	send_with_fds(sv[0], data + 1, size - 1, nfds);
	close(sv[0]);		/* the reader sees the end: no waiting */
	deadline_in(&dl, 1000);
	memset(&set, 0, sizeof(set));
	switch (how) {
	case 0:
		if (frame_recv(sv[1], &f, &dl, &pe) == 1)
			frame_free(&f);
		break;
	case 1:
		if (fdset_recv(&sv[1], &set, &dl, &pe) == 1)
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
