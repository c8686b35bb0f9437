/* ISC license: see LICENSE. */
#ifndef PEEROPTS_H
#define PEEROPTS_H

#include "trust.h"

/* The options fdsend and fdrecv share: about the peer, whichever form. */
struct peeropts {
	int		 rflag;		/* -r: raw mode */
	int		 tms;		/* -t, or -1 */
	struct trust	 trust;		/* -u, -g */
};

int	epeer_opt(struct peeropts *, int ch, const char *arg);

#endif
