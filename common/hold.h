/* ISC license: see LICENSE. */
#ifndef HOLD_H
#define HOLD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "deadline.h"
#include "offer.h"
#include "perr.h"
#include "wire.h"

/*
 * fdholder's part of the protocol, fdproto(7): a successor taking over a
 * holder (F_TAKE, F_HANDOFF, F_ACK), and the requests of the store's
 * clients (F_STORE, F_FETCH, F_LIST, F_DELETE).
 */

struct trust;
int	no_store(int);
int	hold_connect(const struct addr *, const struct trust *,
	    const struct deadline *, struct perr *);
int	hold_store(int, const char *, uint32_t ttl, const struct fdset *,
	    const struct deadline *, struct perr *);
int	hold_fetch(int *, const char *, int flags, struct fdset *,
	    const struct deadline *, struct perr *);
int	hold_confirm(int, size_t, const struct deadline *, struct perr *);
int	hold_list(int, FILE *, int json, const struct deadline *,
	    struct perr *);
int	hold_delete(int, const char *, const struct deadline *,
	    struct perr *);

#endif
