/* ISC license: see LICENSE. */
#ifndef DELIVER_H
#define DELIVER_H

#include <sys/types.h>
#include <sys/resource.h>

#include <stddef.h>

#include "deadline.h"
#include "offer.h"
#include "perr.h"

/* What is done with a set: run prog on it, or copy its one fd out. */
struct job {
	char		**argv;		/* prog [arg ...]; argv[0] NULL: copy */
	int		 *map;		/* -m: the fds' numbers, or NULL */
	size_t		  nmap;
	struct rlimit	  nofile;	/* the limit to give prog back */
	int		  received;	/* the set came open across exec */
};

int	prog_check(const char *, struct perr *);
int	set_fits(const struct fdset *, const struct job *, struct perr *);
int	deliver(struct job *, struct fdset *, int conn,
	    const struct deadline *);

#endif
