/* ISC license: see LICENSE. */
#ifndef OUTQ_H
#define OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "offer.h"
#include "perr.h"

/*
 * Frames waiting for a non-blocking socket to take them (outq_flush on
 * POLLOUT).  The fds of one frame at a time wait with it, to ride on its
 * first byte.
 */
struct outq {
	unsigned char	*p;
	size_t		 len;		/* bytes queued */
	size_t		 off;		/* of them sent */
	size_t		 cap;
	size_t		 fdat;		/* the byte the fds ride on */
	int		 nfds;		/* fds waiting for it */
	int		 fds[PROTO_MAXFDS];
};

int	outq_frame(struct outq *, const struct frout *, struct perr *);
int	outq_ack(struct outq *, uint32_t, struct perr *);
int	outq_error(struct outq *, const struct perr *);
int	outq_offer(struct outq *, const struct fdset *, size_t,
	    struct perr *);
void	outq_withdraw(struct outq *);
int	outq_flush(int, struct outq *, struct perr *);
int	outq_empty(const struct outq *);
void	outq_free(struct outq *);

#endif
