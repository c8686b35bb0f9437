/* ISC license: see LICENSE. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <string.h>

#include "fd.h"
#include "raw.h"
#include "scm.h"

/* Raw mode: each message one byte, and at most PROTO_MAXFDS fds on it. */
int
raw_send(int s, const struct fdset *set, const struct deadline *dl,
    struct perr *pe)
{
	union ctlbuf ctl;
	struct msghdr msg;
	struct iovec iov;
	size_t i = 0, k;
	char byte = 0;

	while (i < set->n) {
		k = set->n - i < PROTO_MAXFDS ? set->n - i : PROTO_MAXFDS;
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = &byte;
		iov.iov_len = 1;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		rights_put(&msg, &ctl, set->fds + i, k);
		if (scm_send(s, &msg, dl) == -1) {
			perr_sys(pe, "send");
			return -1;
		}
		i += k;
	}
	return 0;
}

/*
 * Raw mode: every fd the peer sends, on whatever bytes, until it closes.
 * The bytes are discarded.  Returns 1, 0 if the peer closed without sending
 * an fd, or -1 with nothing left open.
 */
int
raw_recv(int s, struct fdset *set, const struct deadline *dl,
    struct perr *pe)
{
	union ctlbuf ctl;
	struct msghdr msg;
	struct iovec iov;
	char buf[4096];
	int fds[CTL_FDS], k, i;
	ssize_t n;

	for (;;) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		if ((n = scm_recv(s, &msg, 0, dl)) == -1) {
			perr_sys(pe, "receive");
			goto fail;
		}
		if ((k = rights_take(&msg, fds, CTL_FDS, pe)) < 0)
			goto fail;
		for (i = 0; i < k; i++)
			if (fdset_add(set, fds[i], "") == -1) {
				fds_close(fds + i, k - i);
				perr_sys(pe, "malloc");
				goto fail;
			}
		if (msg.msg_flags & MSG_CTRUNC) {
			perr_set(pe, PE_TRUNC, "fds lost in transit "
			    "(MSG_CTRUNC); out of fds?");
			goto fail;
		}
		if (n == 0)
			return set->n > 0 ? 1 : 0;
	}
fail:
	fdset_close(set);
	return -1;
}
