/* ISC license: see LICENSE. */
#ifndef SDSTORE_H
#define SDSTORE_H

#include <sys/types.h>

#include <stdint.h>

#include "proto.h"

#define SDS_NAMEMAX	48	/* e.PREFIX.SEQ, and a NUL */

/* An entry of the store as the fd store keeps it beside its fds. */
struct sdmeta {
	char		 name[PROTO_NAMEMAX + 1];
	uid_t		 uid;
	gid_t		 gid;
	int64_t		 since;		/* ms, CLOCK_MONOTONIC */
	int64_t		 stored;	/* ms, CLOCK_MONOTONIC: the later wins */
	uint32_t	 ttl;
	char		 sdname[SDS_NAMEMAX];	/* its FDNAME= */
};

int	sds_open(int tms, struct perr *);
int	sds_on(void);
int	sds_add(struct sdmeta *, const struct fdset *, struct perr *);
void	sds_remove(const char *sdname);
void	sds_restore(int (*)(void *, const struct sdmeta *, struct fdset *),
	    void *);

#endif
