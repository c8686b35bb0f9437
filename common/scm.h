/* ISC license: see LICENSE. */
#ifndef SCM_H
#define SCM_H

#include <sys/types.h>
#include <sys/socket.h>

#include "deadline.h"
#include "frame.h"
#include "perr.h"

/*
 * One message over a UNIX socket, fds riding on it in an SCM_RIGHTS
 * control message: the frames, raw mode, the output queue and the
 * service manager's notifications all go through here.
 *
 * Room for the largest control message a peer may send.  Linux caps a
 * message at SCM_MAX_FD fds; the BSDs and macOS neither cap it as low nor
 * shrink cmsg_len on truncation, so reserve more there.
 */
#ifdef __linux__
#define CTL_FDS		PROTO_MAXFDS
#else
#define CTL_FDS		1024
#endif

union ctlbuf {
	struct cmsghdr	hdr;
	char		buf[CMSG_SPACE(CTL_FDS * sizeof(int))];
};

void	rights_put(struct msghdr *, union ctlbuf *, const int *, int);
int	rights_take(struct msghdr *, int *, int, struct perr *);
ssize_t	scm_send(int, const struct msghdr *, const struct deadline *);
ssize_t	scm_recv(int, struct msghdr *, int flags, const struct deadline *);
void	scm_exec_fds(void);

#endif
