/* ISC license: see LICENSE. */
#ifndef RAW_H
#define RAW_H

#include "deadline.h"
#include "offer.h"
#include "perr.h"

/* Raw mode: fds alone, on bytes that carry nothing (fdsend -r, fdrecv -r). */
int	raw_send(int, const struct fdset *, const struct deadline *,
	    struct perr *);
int	raw_recv(int, struct fdset *, const struct deadline *,
	    struct perr *);

#endif
