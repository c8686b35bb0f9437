/* ISC license: see LICENSE. */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stddef.h>

#include "deadline.h"
#include "offer.h"
#include "perr.h"

int	notify_open(struct perr *);
int	notify_send(int, const char *, const int *, size_t,
	    const struct deadline *, struct perr *);
void	notify_ready(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
int	notify_barrier(int, const struct deadline *, struct perr *);
int	listen_take(const char *names, struct fdset *, struct perr *);

#endif
