/* ISC license: see LICENSE. */
#ifndef MREC_H
#define MREC_H

#include <stddef.h>
#include <stdint.h>

#include "deadline.h"
#include "frame.h"
#include "perr.h"
#include "tcprepair.h"
#include "wire.h"

/*
 * The record of a connection moved to another host (fdholder -x and -X),
 * the payload of F_STATE, fdproto(7): its version first, so that an
 * importer of another version refuses it; then the TCP state
 * (tcprepair.h) and the holder's bytes in flight.
 */
#define MREC_VERSION	1

struct mrec {
	unsigned	 version;
	struct tcpconn	 tc;		/* its queues point into the payload */
	uint64_t	 frozen;	/* CLOCK_REALTIME ns, for figures */
	const void	*ob;		/* read from it, not yet written out */
	uint32_t	 olen;
	const void	*ib;		/* what -i has still to send to it */
	uint32_t	 ilen;
};

void	mrec_put(struct wbuf *, const struct mrec *);
int	mrec_get(struct rbuf *, struct mrec *, struct perr *);

int	pframe_write(int, int type, const void *, size_t,
	    const struct deadline *, struct perr *);
int	pframe_read(int, struct frame *, const struct deadline *,
	    struct perr *);

#endif
