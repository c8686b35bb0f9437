/* ISC license: see LICENSE. */
#ifndef OFFER_H
#define OFFER_H

#include <stddef.h>
#include <stdint.h>

#include "deadline.h"
#include "frame.h"
#include "perr.h"

/*
 * Offers and their confirmations: a set of fds and their names, sent as
 * F_OFFER frames, and the receiver's F_ACK of the count it holds.
 */

/* A set of fds and their names ("" for none), as offered and received. */
struct fdset {
	int		*fds;
	char		**names;
	size_t		 n;
	size_t		 cap;
};

int	name_valid(const char *, size_t);
int	fdset_add(struct fdset *, int fd, const char *name);
void	fdset_trim(struct fdset *);
void	fdset_close(struct fdset *);
void	fdset_free(struct fdset *);
size_t	offer_payload(unsigned char *, const struct fdset *, size_t,
	    size_t);
int	fdset_send(int, const struct fdset *, const struct deadline *,
	    struct perr *);
int	fdset_take(struct fdset *, struct frame *, struct perr *);
int	fdset_recv(int *, struct fdset *, const struct deadline *,
	    struct perr *);
int	ack_send(int, uint32_t, const struct deadline *, struct perr *);
int	ack_recv(int, uint32_t, const struct deadline *, struct perr *);
int	done_recv(int, const struct deadline *, struct perr *);

#endif
